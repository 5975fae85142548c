from words import count_words


def test_spaces():
    assert count_words("a b  c") == 3


def test_whitespace():
    assert count_words("a\tb\nc") == 3
