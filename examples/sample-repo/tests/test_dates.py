from datetime import date

import pytest

from tasktracker.dates import parse_due_date

TODAY = date(2026, 11, 25)  # a Wednesday


def test_relative_dates():
    assert parse_due_date("tomorrow", TODAY) == date(2026, 11, 26)
    assert parse_due_date("+3d", TODAY) == date(2026, 11, 28)
    assert parse_due_date("monday", TODAY) == date(2026, 11, 30)


def test_bad_date():
    with pytest.raises(ValueError):
        parse_due_date("someday", TODAY)
