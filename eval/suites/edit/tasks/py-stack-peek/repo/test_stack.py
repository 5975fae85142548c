from stack import Stack


def test_peek():
    s = Stack()
    assert s.peek() is None
    s.push(1)
    s.push(2)
    assert s.peek() == 2
    assert s.pop() == 2
