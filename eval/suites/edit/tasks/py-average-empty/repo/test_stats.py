from stats import average


def test_average():
    assert average([1, 2, 3]) == 2


def test_empty():
    assert average([]) == 0.0
