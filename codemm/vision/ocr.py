"""OCR with layout: text lines with boxes, in reading order, with code indentation rebuilt from
x positions. Backends: tesseract (Debian's ``tesseract-ocr``, called as a program) and RapidOCR
(PP-OCRv4 models inside the ``rapidocr-onnxruntime`` wheel). ``auto`` picks tesseract when it is
installed: it had the lower character error rate on code and terminal screenshots (``python -m
codemm.eval.bench.ocr`` prints the table), except for images drawn with boxes and rules (dialogs,
diagrams), where RapidOCR reads what tesseract misses; RapidOCR alone when tesseract is absent.
That fallback is said, not silent: the result's ``notes`` carry one line for the user (library
code never prints; the CLI does).
"""

from __future__ import annotations

import functools
import shutil
import statistics
import subprocess
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codemm.errors import BadInputError, CodemmError

BACKENDS = ("auto", "tesseract", "rapidocr")
NO_TESSERACT_NOTE = (
    "OCR used RapidOCR because tesseract is not installed "
    "(tesseract reads code screenshots better: apt-get install tesseract-ocr)"
)


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
    notes: list[str] = field(default_factory=list)
    """What the user should know about how the text was read (e.g. which engine, and why)."""

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
    """OCR of an RGB PIL image, lines in reading order with indentation. ``auto`` chooses per image
    (see the module's docstring)."""
    chosen = pick_backend(backend)
    if chosen == "tesseract":
        prepared = prepare_for_ocr(image)
        rules = _rule_mask(prepared)
        boxed = bool(rules.any()) and (backend or "auto") == "auto" and "rapidocr" in available_backends()
        if not boxed:
            words = _tesseract_words(_without(prepared, rules))
            return OcrResult(chosen, layout_lines(words, prepared, pitch_factor=1.1))
        chosen = "rapidocr"  # a dialog or diagram: RapidOCR reads what tesseract misses there
    # ``auto`` without tesseract is a fallback the user should hear of; a chosen backend is not.
    fallback = (backend or "auto") == "auto" and "tesseract" not in available_backends()
    notes = [NO_TESSERACT_NOTE] if fallback else []
    return OcrResult(chosen, layout_lines(_rapidocr_words(image), pitch_factor=1.0), notes)


def _rule_mask(grey: Any) -> Any:
    """Dark pixels in straight horizontal or vertical runs much longer than a glyph: box borders,
    separators, arrow shafts. (A run of ``====`` in a monospace font counts too.)"""
    import numpy as np

    dark = np.asarray(grey) < 128
    mask = np.zeros_like(dark)
    min_run = max(48, dark.shape[1] // 12)
    for d, m in ((dark, mask), (dark.T, mask.T)):  # mask.T is a view: rows, then columns
        edges = np.diff(np.pad(d, ((0, 0), (1, 1))).astype(np.int8), axis=1)
        rows, starts = np.nonzero(edges == 1)
        _, ends = np.nonzero(edges == -1)
        for row, start, end in zip(rows, starts, ends, strict=True):
            if end - start >= min_run:
                m[row, start:end] = True
    return mask


def _without(grey: Any, mask: Any) -> Any:
    """Tesseract reads a glyph-free image when text sits inside drawn boxes; the boxes go."""
    import numpy as np
    from PIL import Image

    if not mask.any():
        return grey
    pixels = np.asarray(grey).copy()
    pixels[mask] = 255
    return Image.fromarray(pixels)


def prepare_for_ocr(image: Any) -> Any:
    """Grey, dark text on light (tesseract reads dark themes poorly), small text enlarged (the
    engine is tuned for glyphs ~30 px high)."""
    from PIL import Image, ImageOps, ImageStat

    grey = ImageOps.grayscale(image)
    if ImageStat.Stat(grey).mean[0] < 128:
        grey = ImageOps.invert(grey)
    scale = 2 if image.height < 1600 else 1
    if scale != 1:
        grey = grey.resize((grey.width * scale, grey.height * scale), Image.Resampling.LANCZOS)
    return grey


QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "‚": "'"})


def normalise_text(text: str) -> str:
    """Screenshots of code hold ASCII: full-width punctuation (RapidOCR's models emit it) and typographic
    quotes (tesseract's) go back to their ASCII forms."""
    return unicodedata.normalize("NFKC", text).translate(QUOTES)


def layout_lines(words: list[OcrWord], image: Any = None, pitch_factor: float = 1.1) -> list[OcrLine]:
    """Groups words into lines by vertical overlap, orders them, and rebuilds indentation.

    With ``image`` (dark text on light), a gap between two words that has ink along the baseline
    is an underscore the engine dropped (tesseract reads ``parse_due_date`` as three words)."""
    if not words:
        return []
    words = [OcrWord(normalise_text(w.text), w.left, w.top, w.width, w.height) for w in words]
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
    # Glyph boxes exclude the side bearings, so width/len underestimates the character pitch; the
    # factors were fitted on the screenshot suite (python -m codemm.eval.bench.ocr).
    char_widths = [w.width / len(w.text) for w in words if len(w.text) >= 3]
    char_w = statistics.median(char_widths) * pitch_factor if char_widths else 8.0
    margin = min(min(w.left for w in line) for line in lines)
    out = []
    for line in lines:
        line.sort(key=lambda w: w.left)
        parts = [line[0].text]
        for prev, word in zip(line, line[1:], strict=False):
            # Engines sometimes give a split word the box of the whole word: trust the text length.
            prev_end = min(prev.left + prev.width, prev.left + round(len(prev.text) * char_w))
            gap = word.left - prev_end
            fill = "_" if image is not None and _ink_on_baseline(image, prev_end, prev, word, char_w) else " "
            parts.append(fill * max(1, round(gap / char_w)) + word.text)
        left = line[0].left
        box = (left, min(w.top for w in line), max(w.left + w.width for w in line), max(w.top + w.height for w in line))
        out.append(OcrLine("".join(parts), box, round((left - margin) / char_w)))
    return out


def _ink_on_baseline(image: Any, left_end: int, left: OcrWord, right: OcrWord, char_w: float) -> bool:
    """Whether a horizontal stroke runs under the gap between two words at their baseline: an
    underscore (a descender or a bracket is narrow; an underscore spans its whole cell)."""
    x0 = int(left_end - char_w * 0.3)
    x1 = int(right.left + 1)
    if x1 - x0 < char_w * 0.5:
        return False
    height = max(left.height, right.height)
    baseline = min(left.top + left.height, right.top + right.height)  # short of descenders
    box = (x0, max(0, baseline - height // 10), x1, min(image.height, baseline + height // 2))
    import numpy as np

    dark = np.asarray(image.crop(box)) < 128
    return bool(dark.size and (dark.sum(axis=1) >= 0.7 * dark.shape[1]).any())


def _tesseract_words(image: Any) -> list[OcrWord]:
    # psm 6 (one uniform block) suits code and terminals; diagrams with scattered labels come back
    # empty that way, so psm 11 (sparse text) is the fallback.
    words = _tesseract_run(image, "6")
    return words if words else _tesseract_run(image, "11")


def _tesseract_run(image: Any, psm: str) -> list[OcrWord]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "image.png"
        image.save(path)
        proc = subprocess.run(
            ["tesseract", str(path), "stdout", "--psm", psm, "-c", "preserve_interword_spaces=1", "tsv"],
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
