"""Code locations shown in a screenshot (traceback frames, path:line mentions), checked against the
repository index, so the prompt gets the code the screenshot points at and the user sees which of
the locations codemm could confirm.

A location is *verified* only when its file, line and function all agree with the index: the
file is indexed (a traceback's absolute path maps to the indexed file with the longest same
trailing path, and only when that file is unique), the line exists, and the line lies inside the
function the frame names (per the index's symbols, with their start and end lines). Anything else
is kept, unverified, with a one-line ``reason``. Frames in files that are not in the repository
at all (the standard library, site-packages) are left out: they say nothing about this repo.

API for callers (the answer prefix in ``codemm.ask`` is built from these labels):

- ``locations_in_index(text, index)``: the locations, checked against an open ``RepoIndex``.
- ``locations_in_text(text, file_lines, symbols)``: the same on plain data (``symbols`` looks up
  definitions by name; without it a frame that names a function cannot be verified).
- ``Location.verified`` / ``Location.reason``; ``Location.where`` is ``path:line (in function)``;
  ``Location.label`` is ``where`` for a verified location and ``where (unverified: reason)``
  otherwise, so a label never passes an unchecked location off as checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from codemm.citations import CITATION
from codemm.repo.symbols import Symbol

if TYPE_CHECKING:
    from codemm.repo.index import RepoIndex

# Python tracebacks: File "tasktracker/dates.py", line 29, in parse_due_date
# (OCR may turn the quotes into typographic ones or drop one of them.) The line number must end at
# a word boundary: OCR reads "line 700" as "line 7o0", and that is no line number, not line 7.
FRAME = re.compile(r'File\s+["“”\'‘’]*([^"“”\'‘’,\s]+)["“”\'‘’]*,\s*line\s+(\d+)\b(?:,\s*in\s+(<\w+>|\w+))?')
# path:12 as in answers, with the same word-boundary rule (path:7o0 is not path:7).
MENTION = re.compile(CITATION.pattern + r"(?!\w)")

SymbolLookup = Callable[[str], list[Symbol]]
"""Definitions with a given name, anywhere in the repository."""


@dataclass(frozen=True)
class Location:
    path: str
    """The repository path when the file resolved; otherwise the path as the screenshot shows it."""
    line: int
    function: str = ""
    verified: bool = False
    reason: str = ""
    """Why the location is not verified (empty when it is)."""

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" + (f" (in {self.function})" if self.function else "")

    @property
    def label(self) -> str:
        if self.verified:
            return self.where
        return f"{self.where} (unverified: {self.reason or 'not checked'})"

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "function": self.function, "verified": self.verified,
                "reason": self.reason, "label": self.label}  # fmt: skip


def locations_in_index(text: str, index: RepoIndex) -> list[Location]:
    """Locations the text names, checked against the index's files, line counts and symbols."""
    return locations_in_text(text, index.file_lines(), index.symbols)


def locations_in_text(text: str, file_lines: dict[str, int], symbols: SymbolLookup | None = None) -> list[Location]:
    """Repository locations the text names, innermost traceback frame last, duplicates removed."""
    found: list[Location] = []
    for match in FRAME.finditer(text):
        loc = _check(match.group(1), int(match.group(2)), match.group(3) or "", file_lines, symbols)
        if loc is not None:
            found.append(loc)
    for match in MENTION.finditer(text):
        loc = _check(match.group(1), int(match.group(2)), "", file_lines, symbols)
        if loc is not None:
            found.append(loc)
    unique: list[Location] = []
    for loc in found:  # frames come first: a frame's function beats a bare mention of the same line
        if all((loc.path, loc.line) != (u.path, u.line) for u in unique):
            unique.append(loc)
    return unique


def _check(
    shown: str, line: int, function: str, file_lines: dict[str, int], symbols: SymbolLookup | None
) -> Location | None:
    shown = shown.replace("\\", "/")
    if shown.startswith("<"):  # <string>, <stdin>: not a file
        return None
    candidates = resolve_path(shown, file_lines)
    if not candidates:
        return None
    if len(candidates) > 1:
        listed = " or ".join(candidates[:3]) + (" or others" if len(candidates) > 3 else "")
        return Location(shown, line, function, False, f"could be {listed}")
    path = candidates[0]
    reason = _line_problem(path, line, file_lines[path]) or _function_problem(path, line, function, symbols)
    return Location(path, line, function, not reason, reason)


def resolve_path(shown: str, file_lines: Iterable[str]) -> list[str]:
    """The indexed files with the longest same trailing path as ``shown`` (at least the file name):
    ``/usr/lib/python3/site-packages/requests/adapters.py`` is ``src/requests/adapters.py`` in a
    checkout. One file when unambiguous, several on a tie, none when no file has that name."""
    parts = [p for p in PurePosixPath(shown).parts if p not in ("/", ".")]
    best: list[str] = []
    best_len = 0
    for path in file_lines:
        common = _common_tail(parts, path.split("/"))
        if common and common > best_len:
            best, best_len = [path], common
        elif common and common == best_len:
            best.append(path)
    return sorted(best)


def _common_tail(a: list[str], b: list[str]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def _line_problem(path: str, line: int, lines: int) -> str:
    name = PurePosixPath(path).name
    if line < 1:
        return f"line {line} does not exist"
    if line > lines:
        return f"line {line} is past the end of {name} ({lines} lines)"
    return ""


def _function_problem(path: str, line: int, function: str, symbols: SymbolLookup | None) -> str:
    if not function or function.startswith("<"):  # <module>, <lambda>, <listcomp>: no definition to check
        return ""
    if symbols is None:
        return f"{function} was not checked against the index"
    spans = sorted((s.start, s.end) for s in symbols(function) if s.path == path)
    if not spans:
        return f"{PurePosixPath(path).name} defines no {function}"
    if any(start <= line <= end for start, end in spans):
        return ""
    defined = ", ".join(f"{start}-{end}" for start, end in spans)
    return f"line {line} is not inside {function} (defined at {defined})"
