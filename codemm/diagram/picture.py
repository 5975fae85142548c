"""A diagram given as a picture (PNG, JPEG...): its box labels read by OCR become the nodes.

Lines between boxes are not recovered: the result says so, and the drift check then reports only
nodes (what the picture shows that the code lacks), never edges it could not see."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from codemm.diagram.readers import DiagramSource
from codemm.errors import BadInputError

EDGES_NOT_READ = "edges could not be read from a picture: only its labels were matched (give the diagram's source)"
TILE = 2000
OVERLAP = 400
"""Wider than the longest label, so that every label is whole in some tile."""
IDENTIFIER = re.compile(r"[A-Za-z_][\w.]*\w")


def read_picture(path: Path) -> DiagramSource:
    from codemm.vision.images import load_image
    from codemm.vision.ocr import available_backends, ocr_image

    if not available_backends():
        raise BadInputError("reading a picture needs OCR: install tesseract-ocr (or give the diagram's source)")
    image = load_image(path).image  # the size and format limits every image gets
    out = DiagramSource("picture", notes=[EDGES_NOT_READ])
    for tile in _tiles(image):
        try:
            read = ocr_image(tile)
        except Exception:  # RapidOCR refuses some pictures (a resize error): tesseract reads them
            if "tesseract" not in available_backends():
                raise BadInputError(f"OCR could not read {path.name}; give the diagram's source") from None
            read = ocr_image(tile, "tesseract")
        out.notes += [n for n in read.notes if n not in out.notes]
        add_labels(out, read.text)
    return out


def labels_from_text(text: str) -> DiagramSource:
    """A picture already read (`ask --image` OCRs every image it is given) as diagram nodes."""
    return add_labels(DiagramSource("picture", notes=[EDGES_NOT_READ]), text)


def add_labels(out: DiagramSource, text: str) -> DiagramSource:
    for number, line in enumerate(text.splitlines(), 1):
        for token in IDENTIFIER.findall(line):
            if len(token) >= 3:
                out.node(token, token, number)
    return out


def _tiles(image: Any) -> list[Any]:
    """A wide diagram (a graph's ranks side by side) in overlapping pieces: OCR engines shrink a
    picture to a working size, and 14,000 pixels of width shrink its labels to nothing."""
    width, height = image.size
    if width <= TILE and height <= TILE:
        return [image]
    step = TILE - OVERLAP
    rows = range(0, max(1, height - OVERLAP), step)
    columns = range(0, max(1, width - OVERLAP), step)
    return [image.crop((x, y, min(x + TILE, width), min(y + TILE, height))) for y in rows for x in columns]


def looks_like_code(label: str) -> bool:
    """A label worth reporting when it matches nothing: a dotted or snake name, or CamelCase, not
    an ordinary word OCR picked up from a legend or a title."""
    return "." in label or "_" in label or any(c.isupper() for c in label[1:])
