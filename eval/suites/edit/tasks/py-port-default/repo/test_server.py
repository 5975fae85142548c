from server import get_host, get_port


def test_port():
    assert get_port({"port": "9000"}) == 9000


def test_port_default():
    assert get_port({}) == 8080


def test_host():
    assert get_host({}) == "localhost"
