"""A diagram given as a picture (PNG, JPEG...): its box labels read by OCR become the nodes.

Lines between boxes are not recovered: the result says so, and the drift check then reports only
nodes (what the picture shows that the code lacks), never edges it could not see."""

from __future__ import annotations

import re
from pathlib import Path

from codemm.diagram.readers import DiagramSource

EDGES_NOT_READ = "edges could not be read from a picture: only its labels were matched (give the diagram's source)"
IDENTIFIER = re.compile(r"[A-Za-z_][\w.]*\w")


def read_picture(path: Path) -> DiagramSource:
    from codemm.vision.images import read_image_input

    read = read_image_input(path)
    out = DiagramSource("picture", notes=[EDGES_NOT_READ, *read.notes])
    for number, line in enumerate(read.text.splitlines(), 1):
        for token in IDENTIFIER.findall(line):
            if len(token) >= 3:
                out.node(token, token, number)
    return out


def looks_like_code(label: str) -> bool:
    """A label worth reporting when it matches nothing: a dotted or snake name, or CamelCase, not
    an ordinary word OCR picked up from a legend or a title."""
    return "." in label or "_" in label or any(c.isupper() for c in label[1:])
