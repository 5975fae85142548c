from validate import is_valid_email


def test_valid():
    assert is_valid_email("ada@example.com")


def test_no_dot():
    assert not is_valid_email("ada@localhost")


def test_two_ats():
    assert not is_valid_email("a@b@c.com")
