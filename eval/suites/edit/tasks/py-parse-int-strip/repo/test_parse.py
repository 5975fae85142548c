import pytest
from parse import parse_int


def test_plain():
    assert parse_int("7") == 7


def test_spaces():
    assert parse_int(" 42 ") == 42


def test_bad():
    with pytest.raises(ValueError):
        parse_int("x1")
