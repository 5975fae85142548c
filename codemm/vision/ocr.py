"""OCR with layout: text lines with boxes, in reading order, with code indentation rebuilt from
x positions. Backends: tesseract (Debian's ``tesseract-ocr``, called as a program) and RapidOCR
(PP-OCRv4 models inside the ``rapidocr-onnxruntime`` wheel). ``auto`` picks tesseract when it is
installed: it had the lower character error rate on code screenshots (``python -m
codemm.eval.bench.ocr`` prints the table), and RapidOCR otherwise.
"""

from __future__ import annotations

import functools
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codemm.errors import BadInputError, CodemmError

BACKENDS = ("auto", "tesseract", "rapidocr")


@dataclass
class OcrWord:
    text: str
    left: int
    top: int
    width: int
    height: int


@dataclass
class OcrLine:
    text: str
    box: tuple[int, int, int, int]
    """left, top, right, bottom in pixels."""
    indent: int = 0
    """Leading spaces rebuilt from the x position."""


@dataclass
class OcrResult:
    backend: str
    lines: list[OcrLine] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(" " * line.indent + line.text for line in self.lines)


def available_backends() -> list[str]:
    found = []
    if shutil.which("tesseract"):
        found.append("tesseract")
    try:
        import rapidocr_onnxruntime  # noqa: F401

        found.append("rapidocr")
    except ImportError:
        pass
    return found


def pick_backend(name: str | None) -> str:
    name = name or "auto"
    if name not in BACKENDS:
        raise BadInputError(f"unknown OCR backend '{name}' (use {', '.join(BACKENDS)})")
    found = available_backends()
    if name == "auto":
        if not found:
            raise CodemmError("no OCR backend: install Debian's tesseract-ocr or `pip install rapidocr-onnxruntime`")
        return found[0]
    if name not in found:
        raise CodemmError(f"OCR backend {name} is not installed")
    return name


def ocr_image(image: Any, backend: str | None = None) -> OcrResult:
    """OCR of an RGB PIL image, lines in reading order with indentation."""
    chosen = pick_backend(backend)
    # Small text reads better when enlarged: both engines were tuned on text ~30 px high.
    scale = 2 if image.height < 1600 else 1
    if scale != 1:
        from PIL import Image

        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.LANCZOS)
    words = _tesseract_words(image) if chosen == "tesseract" else _rapidocr_words(image)
    return OcrResult(chosen, layout_lines(words))


def layout_lines(words: list[OcrWord]) -> list[OcrLine]:
    """Groups words into lines by vertical overlap, orders them, and rebuilds indentation."""
    if not words:
        return []
    words = sorted(words, key=lambda w: (w.top + w.height / 2, w.left))
    lines: list[list[OcrWord]] = []
    for word in words:
        centre = word.top + word.height / 2
        if lines:
            last = lines[-1]
            top = min(w.top for w in last)
            bottom = max(w.top + w.height for w in last)
            if top <= centre <= bottom:
                last.append(word)
                continue
        lines.append([word])
    char_widths = [w.width / len(w.text) for w in words if len(w.text) >= 2]
    char_w = statistics.median(char_widths) if char_widths else 8.0
    margin = min(min(w.left for w in line) for line in lines)
    out = []
    for line in lines:
        line.sort(key=lambda w: w.left)
        parts = [line[0].text]
        for prev, word in zip(line, line[1:], strict=False):
            gap = word.left - (prev.left + prev.width)
            parts.append(" " * max(1, round(gap / char_w)) + word.text)
        left = line[0].left
        box = (left, min(w.top for w in line), max(w.left + w.width for w in line), max(w.top + w.height for w in line))
        out.append(OcrLine("".join(parts), box, round((left - margin) / char_w)))
    return out


def _tesseract_words(image: Any) -> list[OcrWord]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "image.png"
        image.save(path)
        # psm 6: one uniform block of text, which suits code and terminals; keep spaces between words.
        proc = subprocess.run(
            ["tesseract", str(path), "stdout", "--psm", "6", "-c", "preserve_interword_spaces=1", "tsv"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    if proc.returncode != 0:
        raise CodemmError(f"tesseract failed: {(proc.stderr.strip().splitlines() or ['no output'])[-1]}")
    words = []
    for row in proc.stdout.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) == 12 and cols[0] == "5" and cols[11].strip():
            words.append(OcrWord(cols[11], int(cols[6]), int(cols[7]), int(cols[8]), int(cols[9])))
    return words


@functools.cache
def _rapidocr_engine() -> Any:
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR()


def _rapidocr_words(image: Any) -> list[OcrWord]:
    import numpy as np

    result, _ = _rapidocr_engine()(np.asarray(image))
    words = []
    for box, text, _score in result or []:
        xs = [p[0] for p in box]
        ys = [p[1] for p in box]
        words.append(OcrWord(text, int(min(xs)), int(min(ys)), int(max(xs) - min(xs)), int(max(ys) - min(ys))))
    return words
