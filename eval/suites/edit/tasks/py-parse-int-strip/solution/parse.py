def parse_int(text):
    text = text.strip()
    if not text.isdigit():
        raise ValueError(f"not a number: {text!r}")
    return int(text)
