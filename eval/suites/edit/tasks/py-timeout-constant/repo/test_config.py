from config import settings


def test_defaults():
    assert settings() == {"timeout": 30, "retries": 3}
