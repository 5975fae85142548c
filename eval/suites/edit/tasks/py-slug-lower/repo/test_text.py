from text import slugify


def test_slug_is_lowercase():
    assert slugify("Hello World!") == "hello-world"


def test_digits_kept():
    assert slugify("Top 10 tips") == "top-10-tips"
