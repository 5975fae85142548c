def get_port(cfg):
    return int(cfg.get("port", 8080))


def get_host(cfg):
    return cfg.get("host", "localhost")
