from greet import greet


def test_default():
    assert greet("Ada") == "Hello, Ada!"


def test_custom_greeting():
    assert greet("Ada", greeting="Hi") == "Hi, Ada!"
