"""Loading images safely, and reading diagram sources as text.

Pillow opens PNG, JPEG, WebP, BMP and GIF (first frame); EXIF orientation is applied; pixel count
and file size are bounded before decoding (decompression bombs); everything becomes RGB. Diagram
sources (Mermaid, Graphviz, PlantUML, SVG, draw.io) are text: they are read, not rendered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codemm.errors import BadInputError
from codemm.prompt import ImageText

MAX_PIXELS = 40_000_000
MAX_BYTES = 50 * 2**20
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif"}
DIAGRAM_SUFFIXES = {".mmd", ".mermaid", ".dot", ".gv", ".puml", ".plantuml", ".svg", ".drawio"}
FORMATS = {"PNG", "JPEG", "WEBP", "BMP", "GIF", "MPO"}
IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
               (b"BM", "BMP"))  # fmt: skip
"""First bytes of each format codemm reads (WebP, a RIFF container, is checked apart)."""


@dataclass
class LoadedImage:
    path: Path
    image: Any
    """An RGB PIL image."""
    width: int
    height: int
    format: str


def load_image(
    path: Path, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES, name: str | None = None
) -> LoadedImage:
    """``name``: how messages name the image (default: ``path``); a server passes what its caller
    wrote, so that no message shows where the file resolved on the server."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path).expanduser()
    shown = name or str(path)
    try:
        if not path.is_file():
            raise BadInputError(f"image {shown} does not exist")
        size = path.stat().st_size
    except OSError as exc:
        raise BadInputError(f"cannot read image {shown}: {exc.strerror}") from None
    if size > max_bytes:
        raise BadInputError(f"image {shown} is {size / 2**20:.0f} MiB; the limit is {max_bytes / 2**20:.0f} MiB")
    # Pillow's own bomb check fires at open() for huge headers; codemm checks the size itself (below,
    # before any decoding) to give the user the dimensions, so Pillow's limit is lifted meanwhile.
    pillow_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        with Image.open(path) as probe:  # reads the header only: the size is known before decoding
            width, height, fmt = probe.width, probe.height, probe.format or "?"
            if fmt not in FORMATS:
                raise BadInputError(f"{shown} is a {fmt} image; codemm reads PNG, JPEG, WebP, BMP and GIF")
            if width * height > max_pixels:
                raise BadInputError(
                    f"image {shown} is {width}x{height} pixels; the limit is {max_pixels / 1e6:.0f} megapixels"
                )
            probe.seek(0)  # GIF: the first frame
            image = ImageOps.exif_transpose(probe).convert("RGB")
    except UnidentifiedImageError:
        raise BadInputError(f"{shown} is not an image Pillow can read (wrong extension or corrupt file)") from None
    except Image.DecompressionBombError:
        raise BadInputError(f"image {shown} is too large to decode safely (decompression bomb limit)") from None
    except OSError as exc:
        detail = exc.strerror if exc.filename else str(exc)  # a filename would be the resolved path
        raise BadInputError(f"image {shown} is truncated or corrupt ({detail})") from None
    except (SyntaxError, ValueError) as exc:
        raise BadInputError(f"image {shown} is truncated or corrupt ({str(exc).replace(str(path), shown)})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = pillow_limit
    return LoadedImage(path, image, image.width, image.height, fmt)


def sniff_image(head: bytes) -> str | None:
    """The format the first bytes of a file announce (one codemm reads), or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return next((fmt for magic, fmt in IMAGE_MAGIC if head.startswith(magic)), None)


def check_image_content(path: Path, name: str, max_bytes: int) -> None:
    """Refuses a file that is over ``max_bytes`` or whose first bytes are not an image's. For files
    outside the repository: they must be images by content, not by name, so that no text file
    (a key, a config) is ever read out, and Pillow's many other parsers never see them."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        raise BadInputError(f"cannot read image {name}: {exc.strerror}") from None
    if size > max_bytes:
        raise BadInputError(f"image {name} is {size / 2**20:.0f} MiB; the limit is {max_bytes / 2**20:.0f} MiB")
    if sniff_image(head) is None:
        raise BadInputError(f"{name} is not a PNG, JPEG, WebP, BMP or GIF image (by its content)")


def read_diagram(path: Path, name: str | None = None) -> str:
    shown = name or str(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise BadInputError(f"cannot read {shown}: {exc.strerror}") from None
    if "\0" in text:
        raise BadInputError(f"{shown} is binary, not a diagram source")
    return text


@dataclass
class ImageInput:
    """An image as the pipeline uses it: where it came from, its size, and its text."""

    path: Path
    width: int
    height: int
    text: str
    source: str
    """ocr:<backend> | diagram-source | pixels"""
    pixels: Any = None
    """The RGB image, for a vision-language model."""
    notes: list[str] = field(default_factory=list)
    """Lines for the user about how the text was read (the OCR engine codemm fell back to)."""
    ocr: Any = None
    """The ``OcrResult`` (lines with boxes): UI matching (codemm.vision.uimatch) places text with it."""

    def as_prompt(self) -> ImageText:
        return ImageText(self.path.name, self.text)

    def as_json(self, mode: str) -> dict[str, Any]:
        return {"path": str(self.path), "width": self.width, "height": self.height, "ocr_text": self.text,
                "mode": mode if self.source != "diagram-source" else "source", "source": self.source}  # fmt: skip


def read_image_input(
    path: Path, ocr_backend: str | None = None, run_ocr: bool = True, name: str | None = None
) -> ImageInput:
    """``name``: how messages name the image (default: ``path``)."""
    path = Path(path).expanduser()
    if path.suffix.lower() in DIAGRAM_SUFFIXES:
        if not path.is_file():
            raise BadInputError(f"diagram {name or path} does not exist")
        return ImageInput(path, 0, 0, read_diagram(path, name), "diagram-source")
    loaded = load_image(path, name=name)
    if not run_ocr:
        return ImageInput(path, loaded.width, loaded.height, "", "pixels", loaded.image)
    from codemm.vision.ocr import ocr_image

    result = ocr_image(loaded.image, ocr_backend)
    return ImageInput(
        path, loaded.width, loaded.height, result.text, f"ocr:{result.backend}", loaded.image, result.notes, result
    )


def read_images(paths: list[Path], ocr_backend: str | None = None, run_ocr: bool = True) -> list[ImageInput]:
    return [read_image_input(p, ocr_backend, run_ocr) for p in paths]


def image_notes(images: list[ImageInput]) -> list[str]:
    """Each note of the images once, in order: what the CLI prints to stderr after ``read_images``."""
    return list(dict.fromkeys(note for image in images for note in image.notes))


def check_images(paths: list[Path]) -> None:
    """Fails on the first unusable image or diagram, before anything slow starts."""
    for path in paths:
        path = Path(path).expanduser()
        if path.suffix.lower() in DIAGRAM_SUFFIXES:
            read_diagram(path) if path.is_file() else _missing(path)
        else:
            load_image(path)


def _missing(path: Path) -> None:
    raise BadInputError(f"diagram {path} does not exist")


def describe_image(path: Path, ocr_backend: str | None = None) -> ImageText:
    """The text a prompt gets for an image: the diagram source, or OCR of the pixels."""
    return read_image_input(path, ocr_backend).as_prompt()
