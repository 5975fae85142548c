"""Telling a model that goes round in circles from one that is still saying something.

Two shapes, both measured on SmolLM2's answers to the 42 repo-QA questions:

- an exact loop: the same stretch of text three times in a row ("The function returns a list.
  The function returns a list. ..."); ``find_loop``.
- a near loop: the model keeps recycling lines or phrases it wrote further up, changing a number or
  a name each time: a config object whose keys come round again with new values
  (``maxPriority: 1, // 1.0% priority`` a fourth time), a numbered list whose items re-use the
  sentences of the items two above. No stretch repeats exactly, so ``find_loop`` never fires and the
  answer runs to the token cap; ``find_recurrence``.

What must not be stopped (each is a case in tests/models/test_repetition.py): a function quoted and
then shown changed (every line comes back once, in order), a patch of several SEARCH/REPLACE blocks
on one file, tables and lists whose rows share a
template (each row echoes the row just above), test functions with the same assertion, a matrix of
numbers. The rules below separate them by where the recycled text comes from: an in-order copy, or
the line just above, is structure; lines and phrases picked from further up, out of order, are not.
"""

from __future__ import annotations

import re

# A loop is the same stretch of text, at least MIN_PERIOD characters with MIN_DISTINCT different
# visible characters, REPEATS times in a row at the end of the text. Shorter or plainer units
# ("0, 0, 0", "}\n}\n") are legitimate in code; three copies of a sentence or a line never are.
MIN_PERIOD, MAX_PERIOD, MIN_DISTINCT, REPEATS = 16, 400, 4, 3

# Near loops: of the last LINE_WINDOW substantial lines (>= MIN_LINE_CHARS once normalised),
# LINE_RECYCLED or more are recycled; or, in prose, PHRASE_SHARE of the last PHRASE_WINDOW words lie
# in PHRASE_WORDS-word phrases recycled from two or more lines up. Chosen on the 42 answers: they stop
# the two that ran to the cap and three that recycled whole paragraphs, and none of the legitimate
# shapes above.
LINE_WINDOW, LINE_RECYCLED, MIN_LINE_CHARS = 10, 5, 12
PHRASE_WORDS, PHRASE_WINDOW, PHRASE_SHARE = 6, 32, 0.6

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_WORD = re.compile(r"[^\W\d_]\w*|\d+(?:\.\d+)?")
_FENCE = re.compile(r"^\s*(```|~~~)")
_TRAILING_COMMENT = re.compile(r"\s(//|#)\s.*$")
# Edit-block markers come back with every block of a patch, like code fences: layout, not content.
_MARKER = re.compile(r"^\s*(<{5,}|={5,}|>{5,})")


def find_loop(text: str) -> int | None:
    """Where the first repeated copy starts if ``text`` ends in a loop, else None."""
    tail = text[-MAX_PERIOD * REPEATS :]
    for period in range(MIN_PERIOD, len(tail) // REPEATS + 1):
        unit = tail[-period:]
        if unit != tail[-2 * period : -period]:  # the cheap test first: most periods fail it
            continue
        if tail.endswith(unit * REPEATS) and len(set(unit) - set(" \n\t")) >= MIN_DISTINCT:
            return len(text) - period * (REPEATS - 1)
    return None


def find_recurrence(text: str) -> int | None:
    """Where the recycling began (a line start) if the complete lines of ``text`` end in a near
    loop, else None."""
    lines = text[: text.rfind("\n") + 1].split("\n")[:-1]
    tail = _recycled_lines(lines)[-LINE_WINDOW:]
    if len(tail) == LINE_WINDOW and sum(recycled for _, recycled in tail) >= LINE_RECYCLED:
        return next(offset for offset, recycled in tail if recycled)
    words = _recycled_words(lines)[-PHRASE_WINDOW:]
    if len(words) == PHRASE_WINDOW and sum(recycled for _, recycled in words) >= PHRASE_SHARE * PHRASE_WINDOW:
        first = next(offset for offset, recycled in words if recycled)
        return text.rfind("\n", 0, first) + 1
    return None


def _normalised(line: str) -> str:
    """Numbers and trailing comments are what a near loop changes from one round to the next."""
    return " ".join(_NUMBER.sub("N", _TRAILING_COMMENT.sub("", line).lower()).split())


def _recycled_lines(lines: list[str]) -> list[tuple[int, bool]]:
    """(offset, recycled) per substantial line. A line seen before is recycled unless it continues
    an in-order copy (its earlier occurrence follows the previous line's) or repeats the line just
    above (rows of a table, of a matrix)."""
    last_seen: dict[str, int] = {}
    out: list[tuple[int, bool]] = []
    previous_source: int | None = None
    offset = number = 0
    for line in lines:
        key = _normalised(line)
        if len(key) >= MIN_LINE_CHARS and not _MARKER.match(line):
            source = last_seen.get(key)
            if source is None:
                out.append((offset, False))
            else:
                copying = source == number - 1 or (previous_source is not None and source == previous_source + 1)
                out.append((offset, not copying))
            previous_source = source
            last_seen[key] = number
            number += 1
        offset += len(line) + 1
    return out


def _recycled_words(lines: list[str]) -> list[tuple[int, bool]]:
    """(offset, recycled) per word of prose (code blocks and edit blocks are left to the line rule): a word is
    recycled when it lies in a phrase last written two or more lines up, or earlier in the same
    line without overlap. A phrase from the line just above is a template (list items, rows)."""
    words: list[tuple[int, str, int] | None] = []  # None: a code fence, which no phrase crosses
    in_code = False
    offset = 0
    number = -1
    for line in lines:
        if line.strip():
            number += 1
        if _FENCE.match(line):
            in_code = not in_code
            words.append(None)
        elif marker := _MARKER.match(line):  # an edit block is code too, fenced or not
            in_code = marker.group(1)[0] != ">"
            words.append(None)
        elif not in_code:
            words += [(offset + m.start(), _NUMBER.sub("N", m.group().lower()), number) for m in _WORD.finditer(line)]
        offset += len(line) + 1
    recycled = [False] * len(words)
    last_seen: dict[tuple[str, ...], tuple[int, int]] = {}
    for start in range(len(words) - PHRASE_WORDS + 1):
        phrase = [word for word in words[start : start + PHRASE_WORDS] if word is not None]
        if len(phrase) < PHRASE_WORDS:
            continue
        key = tuple(word[1] for word in phrase)
        at = phrase[-1][2]
        seen = last_seen.get(key)
        if seen is not None and (seen[0] < at - 1 or (seen[0] == at and seen[1] + PHRASE_WORDS <= start)):
            recycled[start : start + PHRASE_WORDS] = [True] * PHRASE_WORDS
        last_seen[key] = (at, start)
    return [(word[0], flag) for word, flag in zip(words, recycled, strict=True) if word is not None]
