def get_port(cfg):
    return int(cfg["port"])


def get_host(cfg):
    return cfg.get("host", "localhost")
