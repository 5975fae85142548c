def is_valid_email(address):
    if address.count("@") != 1:
        return False
    user, domain = address.split("@")
    return bool(user) and "." in domain
