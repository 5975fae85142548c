from strings import is_palindrome, reverse


def test_reverse():
    assert reverse("abc") == "cba"


def test_palindrome():
    assert is_palindrome("Level")
    assert not is_palindrome("levels")
