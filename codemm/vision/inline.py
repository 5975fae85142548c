"""Images an agent sends inline (base64, or a ``data:`` URL) rather than as a file.

They are decoded to a temporary file so that exactly the checks a file on disk gets apply
(``codemm.vision.images.load_image``: size, pixel count, format, corruption). The encoded size is
checked before decoding, so a huge string costs no memory beyond itself.
"""

from __future__ import annotations

import base64
import binascii
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from codemm.errors import BadInputError

MAX_INLINE_BYTES = 10 * 2**20
"""Screenshots are well under this; a larger string is a mistake or an attack."""
MAGIC = {b"\x89PNG\r\n\x1a\n": ".png", b"\xff\xd8\xff": ".jpg"}
MAX_PATH_CHARS = 4096
"""PATH_MAX on Linux (as codemm.repo.read)."""
BASE64_STARTS = ("iVBORw0KGgo", "/9j/")
"""How base64 of a PNG (its 8-byte signature) and of a JPEG (FF D8 FF) begins."""
INLINE_NAME = "the inline image"
"""How messages name an inline image (its temporary path means nothing to the caller)."""


def is_inline(value: str) -> bool:
    """True for a data: URL, base64 of a PNG or JPEG (their first bytes encode as fixed text), or a
    bare word: an image path has a suffix or a folder, and base64 has no dot. Base64 has slashes
    too, so a string longer than any path that has no dot is base64 as well."""
    value = value.strip()
    if value.startswith("data:") or value.startswith(BASE64_STARTS):
        return True
    if "." in value:
        return False
    return len(value) > MAX_PATH_CHARS or not any(mark in value for mark in "/\\")


def decode_inline_image(value: str, max_bytes: int = MAX_INLINE_BYTES) -> tuple[bytes, str]:
    """The image's bytes and file suffix (.png or .jpg) from base64 or a data: URL."""
    text = value.strip()
    if text.startswith("data:"):
        header, _, text = text.partition(",")
        if ";base64" not in header:
            raise BadInputError("a data: URL image must be base64 (data:image/png;base64,...)")
    text = "".join(text.split())
    if not text:
        raise BadInputError("the image is empty: give a repository path or base64 PNG/JPEG data")
    if len(text) * 3 // 4 > max_bytes:
        size = len(text) * 3 / 4 / 2**20
        raise BadInputError(f"{INLINE_NAME} is {size:.0f} MiB; the limit is {max_bytes // 2**20} MiB")
    text += "=" * (-len(text) % 4)  # padding is often dropped along the way
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadInputError(
            "the image is neither a repository path (with its .png or .jpg suffix) nor valid base64 data"
        ) from None
    for magic, suffix in MAGIC.items():
        if data.startswith(magic):
            return data, suffix
    raise BadInputError(f"{INLINE_NAME} is not a PNG or JPEG (its first bytes match neither)")


@contextmanager
def inline_image_file(value: str, max_bytes: int = MAX_INLINE_BYTES) -> Iterator[Path]:
    """A temporary file holding the decoded image, removed on exit."""
    data, suffix = decode_inline_image(value, max_bytes)
    with tempfile.TemporaryDirectory(prefix="codemm-image-") as folder:
        path = Path(folder) / f"inline{suffix}"
        path.write_bytes(data)
        yield path
