TIMEOUT = 30
RETRIES = 3


def settings():
    return {"timeout": TIMEOUT, "retries": RETRIES}
