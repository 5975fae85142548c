"""A team's diagram from a file: a picture (its labels by OCR) or a source (Mermaid, PlantUML, DOT,
draw.io, SVG), told apart by the file's first bytes rather than its name."""

from __future__ import annotations

from pathlib import Path

from codemm.diagram.picture import read_picture
from codemm.diagram.readers import MAX_DIAGRAM_BYTES, DiagramSource, parse_diagram
from codemm.errors import BadInputError


def read_diagram(path: Path) -> DiagramSource:
    try:
        data = path.read_bytes()[: MAX_DIAGRAM_BYTES + 1]
    except OSError as exc:
        raise BadInputError(f"cannot read the diagram {path}: {exc.strerror}") from None
    if data.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM")) or data[8:12] == b"WEBP":
        return read_picture(path)
    if len(data) > MAX_DIAGRAM_BYTES:
        raise BadInputError(f"{path} is over {MAX_DIAGRAM_BYTES // 1024 // 1024} MiB: not a diagram source")
    text = data.decode("utf-8", errors="replace")
    return parse_diagram(text, path.suffix.lower())
