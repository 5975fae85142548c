def first_n(items, n):
    return items[:n]


def last_n(items, n):
    """The last n items."""
    return items[-n - 1 :]
