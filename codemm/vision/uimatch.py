"""Screenshot -> code: the text OCR read off an application's UI, matched against the UI-text index
(``uiindex``), and the files that render it ranked by that evidence.

1. Each OCR line is cut into segments where the screen leaves a wide gap (columns, a sidebar next to
   the content, the footer's key bindings); each segment keeps its place (x, y) on the screen.
2. A segment's words (spelling fixed against the index's vocabulary, for OCR slips) pick candidate
   texts; rapidfuzz scores each (``partial_ratio``: a label inside a longer line, or a line of a
   wrapped paragraph). A match counts the rarity (IDF over files) of the words it shares, shared
   out among the files that define the same text: "Cancel" in thirty files says little, "Save
   changes?" in one says much.
3. Layout: the static frame that every screen of an app repeats (the first and last lines: header,
   footer bindings) weighs less than the content in between (a key binding's own description is
   not down-weighted: a pane's bindings in the footer tell which pane is open); texts of one file
   matched in the same region (nearby lines: a dialog's title and body, a form) count more together
   than scattered ones; with the image, text dimmed under a modal or the command palette, or an
   inactive tab, counts less than the text drawn at full contrast (``weigh_contrast``).
4. Files are ranked by their evidence, damped by how many texts they show (a pattern portfolio or a
   long help text matches every screen a little). The weights were chosen on the dev split of
   ``eval/suites/ui-screens`` (``python -m codemm.eval.bench.ui_screens``).

``ui_matches(ocr, index, image=None)`` is the entry point for callers (ask, read_screenshot, serve);
it takes an ``OcrResult`` (boxes) or plain OCR text (lines, indentation as x).
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from codemm.vision.uiindex import UIText, UITextIndex, match_form, ui_text_index, words

if TYPE_CHECKING:
    from codemm.repo.index import RepoIndex
    from codemm.vision.ocr import OcrResult

MIN_SCORE = 86
"""rapidfuzz ``partial_ratio`` a match needs (OCR of rendered UIs is mostly exact)."""
MAX_CANDIDATES = 300
FRAME_WEIGHT = 0.6
KIND_WEIGHTS = {"id": 0.3, "selector": 0.3, "catalogue": 0.5}
"""Names (ids, classes, selectors) are seldom what a screen shows; a catalogue entry whose key the
code uses counts behind that code."""
REGION_BONUS = 0.5
MIN_EMPHASIS = 0.2
EMPHASIS_POWER = 2.0
CASE_WEIGHT = 0.5
COVERAGE_POWER = 0.5
"""A match explains part of the longer of segment and text: a word found inside a long help-text
line, or a short word on a long line of data, counts less than a whole label."""
TEXTS_NORM = 50
LENGTH_DAMPING = 1.0
"""Score / (1 + texts/TEXTS_NORM) ** LENGTH_DAMPING: BM25-like length normalisation (chosen on the dev split)."""
GAP = re.compile(r"\s{3,}|\s[│┃|▏▕║]\s")
BORDER = str.maketrans({c: " " for c in "│┃║─━═┌┐└┘╭╮╰╯├┤┬┴┼▏▕▔▁▎▊▌▍▋█▀▄■□▶▼▲◀►•"})


@dataclass
class Segment:
    text: str
    x: float
    y: float
    """Position on the screen as fractions of its width and height (0..1)."""
    row: int
    frame: bool = False
    box: tuple[int, int, int, int] | None = None
    """left, top, right, bottom in the OCR's pixels, when it gave boxes."""
    emphasis: float = 1.0
    """The text's contrast over the screen's strongest: a modal dims what lies beneath it."""


@dataclass(frozen=True)
class UIMatch:
    shown: str
    """The text as OCR read it."""
    text: str
    """The text as the code defines it (``…`` for a placeholder)."""
    path: str
    line: int
    kind: str
    score: float
    region: int
    frame: bool

    @property
    def label(self) -> str:
        return f'"{self.text}" -> {self.path}:{self.line}'

    def as_json(self) -> dict[str, Any]:
        return {"shown": self.shown, "text": self.text, "path": self.path, "line": self.line, "kind": self.kind,
                "score": round(self.score, 3), "region": self.region, "frame": self.frame}  # fmt: skip


@dataclass
class UIMatches:
    matches: list[UIMatch] = field(default_factory=list)
    """The best match per file and segment, best first."""
    files: list[tuple[str, float]] = field(default_factory=list)
    """Files ranked by their matched evidence, best first."""
    match_s: float = 0.0

    def best_line(self, path: str) -> int:
        return next((m.line for m in self.matches if m.path == path), 1)

    def top(self, files: int = 3, share: float = 0.35) -> list[UIMatch]:
        """The strongest match of each leading file (those within ``share`` of the best score)."""
        shown = [m for m in self.matches if m.kind not in ("id", "selector")]  # a name matched is no label seen
        ranked = [(p, s) for p, s in self.files if any(m.path == p for m in shown)]
        if not ranked:
            return []
        best = ranked[0][1]
        keep = [path for path, score in ranked[:files] if score >= share * best]
        return [next(m for m in shown if m.path == path) for path in keep]

    def as_json(self) -> dict[str, Any]:
        return {"files": [{"path": p, "score": round(s, 3)} for p, s in self.files],
                "matches": [m.as_json() for m in self.matches], "match_s": round(self.match_s, 4)}  # fmt: skip


def ui_matches(ocr: OcrResult | str, index: RepoIndex, image: Any = None) -> UIMatches:
    """Matches of a screenshot's text against the repository's UI text (see the module's docstring).
    With the screenshot (a PIL image) and an ``OcrResult``, text dimmed under a modal counts less."""
    found = segments(ocr)
    if image is not None:
        weigh_contrast(found, image)
    return match_segments(found, ui_text_index(index))


def weigh_contrast(found: list[Segment], image: Any) -> None:
    """Sets each segment's ``emphasis``: the spread of grey levels under its box (text against its
    background) over the largest on the screen. Textual dims the screen beneath a modal or the
    command palette; a web page greys out what an overlay covers."""
    import numpy as np

    boxed = [s for s in found if s.box is not None]
    if not boxed:
        return
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    # Tesseract's boxes are on the image scaled up for it (ocr.prepare_for_ocr); RapidOCR's are not.
    scale = 2 if max(s.box[3] for s in boxed if s.box) > image.height * 1.05 else 1
    spreads = []
    for segment in boxed:
        left, top, right, bottom = (v // scale for v in segment.box or (0, 0, 0, 0))
        patch = grey[max(0, top) : max(top + 1, bottom), max(0, left) : max(left + 1, right)]
        spreads.append(float(np.percentile(patch, 95) - np.percentile(patch, 5)) if patch.size else 0.0)
    strongest = max(spreads) or 1.0
    for segment, spread in zip(boxed, spreads, strict=True):
        segment.emphasis = max(MIN_EMPHASIS, spread / strongest) ** EMPHASIS_POWER


def segments(ocr: OcrResult | str) -> list[Segment]:
    """The OCR text cut at wide gaps, each piece placed on the screen."""
    rows: list[tuple[str, float, float, float]] = []  # text, left, top, char width
    if isinstance(ocr, str):
        for number, plain in enumerate(ocr.splitlines()):
            rows.append((plain, 0.0, float(number), 1.0))
        width = float(max((len(r[0]) for r in rows), default=1))
        height = float(max(1, len(rows)))
    else:
        for line in ocr.lines:
            left, top, right, bottom = line.box
            text = line.text
            rows.append((text, float(left), (top + bottom) / 2, (right - left) / max(1, len(text))))
        width = float(max((line.box[2] for line in ocr.lines), default=1))
        height = float(max((line.box[3] for line in ocr.lines), default=1))
    out: list[Segment] = []
    framed = len(rows) >= 6
    for number, (text, x0, y, char_w) in enumerate(rows):
        text = text.translate(BORDER) if not text.isspace() else ""
        start = 0
        for piece in [*GAP.finditer(text), None]:
            end = piece.start() if piece else len(text)
            part = text[start:end].strip()
            if sum(c.isalpha() for c in part) >= 2:
                offset = start + len(text[start:end]) - len(text[start:end].lstrip())
                frame = framed and number in (0, len(rows) - 1)
                box = None
                if not isinstance(ocr, str):
                    top, bottom = ocr.lines[number].box[1], ocr.lines[number].box[3]
                    box = (round(x0 + offset * char_w), top, round(x0 + (offset + len(part)) * char_w), bottom)
                out.append(Segment(part, (x0 + offset * char_w) / width, y / height, number, frame, box))
            start = piece.end() if piece else len(text)
    return out


def match_segments(found: list[Segment], ui: UITextIndex) -> UIMatches:
    started = time.perf_counter()
    vocabulary = list(ui.idf)
    fixes: dict[str, str | None] = {}
    per_file: dict[str, list[tuple[float, UIMatch]]] = defaultdict(list)
    regions = _regions(found)
    for number, segment in enumerate(found):
        fixed = [_fix(w, ui, vocabulary, fixes) for w in words(segment.text)]
        seg_words = [w for w in fixed if w]
        unknown = any(w is None and len(raw) >= 8 for w, raw in zip(fixed, words(segment.text), strict=True))
        for text, score, shared, coverage in _candidates(segment, seg_words, ui, unknown):
            # Numbers on a screen are data; a label's words are what its code wrote.
            info = sum(ui.idf.get(w, 0.0) for w in shared if not w.isdigit()) * max(0.2, coverage) ** COVERAGE_POWER
            files = text.files
            for path in files:
                kind = next(s for s in text.sources if s.path == path).kind
                weight = info * score / 100 / len(files)
                weight *= (FRAME_WEIGHT if segment.frame else 1.0) * segment.emphasis
                weight *= KIND_WEIGHTS.get(kind, 1.0)
                line = min(s.line for s in text.sources if s.path == path and s.kind == kind)
                match = UIMatch(segment.text, text.shown, path, line, kind, weight, regions[number], segment.frame)
                per_file[path].append((weight, match))
    scores: dict[str, float] = {}
    best: list[UIMatch] = []
    for path, found_here in per_file.items():
        by_segment: dict[tuple[str, int], UIMatch] = {}
        for weight, match in found_here:  # one piece of evidence per segment and file: its best text
            key = (match.shown, match.region)
            if key not in by_segment or weight > by_segment[key].score:
                by_segment[key] = match
        by_text: dict[str, UIMatch] = {}
        for match in by_segment.values():  # a text repeated on screen (rows of data) counts once
            if match.text not in by_text or match.score > by_text[match.text].score:
                by_text[match.text] = match
        by_segment = {(m.shown, m.region): m for m in by_text.values()}
        region_hits: dict[int, int] = defaultdict(int)
        for match in by_segment.values():
            region_hits[match.region] += 1
        scores[path] = (
            sum(m.score * (1 + REGION_BONUS * min(2, region_hits[m.region] - 1)) for m in by_segment.values())
            / (1 + ui.file_texts.get(path, 0) / TEXTS_NORM) ** LENGTH_DAMPING
        )
        best += by_segment.values()
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    rank = {path: n for n, (path, _) in enumerate(ranked)}
    best.sort(key=lambda m: (rank[m.path], -m.score))
    return UIMatches(best, ranked, time.perf_counter() - started)


def _fix(word: str, ui: UITextIndex, vocabulary: list[str], fixes: dict[str, str | None]) -> str | None:
    """The index's spelling of an OCR word: itself when known, else the closest word (OCR slips)."""
    if word in ui.idf:
        return word
    if len(word) < 5:
        return None
    if word not in fixes:
        from rapidfuzz import fuzz, process

        found = process.extractOne(word, vocabulary, scorer=fuzz.ratio, score_cutoff=84)
        fixes[word] = found[0] if found else None
    return fixes[word]


def _candidates(
    segment: Segment, seg_words: list[str], ui: UITextIndex, unknown: bool
) -> list[tuple[UIText, float, set[str], float]]:
    """Texts that match the segment: (text, rapidfuzz score, shared words, coverage: the length of
    the shorter of the two over the longer's)."""
    from rapidfuzz import fuzz, process

    weight: dict[int, float] = defaultdict(float)
    for word in set(seg_words):
        for number in ui.postings.get(word, ()):
            weight[number] += ui.idf[word]
    ranked = sorted(weight, key=lambda n: -weight[n])[:MAX_CANDIDATES]
    form = match_form(segment.text)
    present = set(seg_words)
    out = []
    for number in ranked:
        text = ui.texts[number]
        shorter, longer = sorted((text.form, form), key=len)
        if len(shorter) < 4 or len(shorter) < 0.25 * len(longer) and len(text.words) < 2:
            # A short label must be a whole word of the segment (no "Add" inside "Address").
            if not set(text.words) <= present or len(text.words) != 1 and text.form not in form:
                continue
            score = 100.0
        else:
            score = fuzz.partial_ratio(shorter, longer, score_cutoff=MIN_SCORE)
        if score:
            if "…" not in text.shown and fuzz.partial_ratio(text.shown, segment.text) < MIN_SCORE:
                score *= CASE_WEIGHT  # the case differs: "version" (a key) is not the "Version" shown
            out.append((text, score, present & set(text.words), len(shorter) / max(1, len(longer))))
    if not out and unknown:  # OCR ran words together ("Databasenotfound"): compare without spaces
        squeezed = form.replace(" ", "")
        for _, score, number in process.extract(
            squeezed, ui.squeezed(), scorer=fuzz.ratio, score_cutoff=MIN_SCORE, limit=3
        ):
            text = ui.texts[number]
            out.append((text, score, set(text.words), 1.0))
    return out


def _regions(found: list[Segment]) -> list[int]:
    """Region numbers: segments on nearby rows that start near the same x belong together (a
    dialog, a form, a column); the frame rows are their own regions."""
    regions: list[int] = []
    anchors: list[tuple[int, float, int]] = []  # last row, x, region
    for segment in found:
        region = -1
        if not segment.frame:
            for n, (row, x, number) in enumerate(anchors):
                if 0 < segment.row - row <= 2 and abs(segment.x - x) < 0.08:
                    region = number
                    anchors[n] = (segment.row, x, number)
                    break
        if region < 0:
            region = len(anchors)
            anchors.append((segment.row, segment.x, region))
        regions.append(region)
    return regions
