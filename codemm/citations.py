"""Citations in answers: found, checked against the index, never silently kept when wrong."""

from __future__ import annotations

import re
from dataclasses import dataclass

from codemm.repo.retrieve import Hit

# path:12 or path:12-30 (also path#L12-L30, as people paste from code hosts)
CITATION = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.[A-Za-z0-9]+)(?::|#L)(\d+)(?:\s*[-–]\s*L?(\d+))?")


@dataclass
class Citation:
    path: str
    start: int
    end: int
    valid: bool
    source: str = "model"
    """model: written by the model; index: a definition codemm stated from the index; attributed:
    added by codemm from the context the answer used."""
    reason: str = ""

    def as_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "path": self.path,
            "start": self.start,
            "end": self.end,
            "valid": self.valid,
        }
        data["source"] = self.source
        if self.reason:
            data["reason"] = self.reason
        return data

    @property
    def label(self) -> str:
        return f"{self.path}:{self.start}" + (f"-{self.end}" if self.end != self.start else "")


# Traceback style: File "path", line N
FRAME_CITATION = re.compile(r'File\s+"([^"]+)",\s*line\s+(\d+)()')


def find_citations(answer: str, file_lines: dict[str, int]) -> list[Citation]:
    """Every path:line (or traceback frame) in the answer, each checked: the file is indexed and the lines exist."""
    seen: set[tuple[str, int, int]] = set()
    out = []
    matches = [*CITATION.finditer(answer), *FRAME_CITATION.finditer(answer)]
    for match in matches:
        path, start = match.group(1).lstrip("./"), int(match.group(2))
        end = int(match.group(3)) if match.group(3) else start
        if path.startswith("<"):  # <string>, <stdin>: not a file
            continue
        if (path, start, end) in seen:
            continue
        seen.add((path, start, end))
        resolved = path if path in file_lines else _unique_suffix_match(path, file_lines)
        if resolved is None:
            out.append(Citation(path, start, end, False, reason="no such file in the repository"))
        elif not (1 <= start <= end <= file_lines[resolved]):
            out.append(Citation(resolved, start, end, False, reason=f"file has {file_lines[resolved]} lines"))
        else:
            out.append(Citation(resolved, start, end, True))
    return out


def _unique_suffix_match(path: str, file_lines: dict[str, int]) -> str | None:
    """'dates.py' or 'tasktracker/dates.py' cited without the full path: accept one unambiguous match."""
    candidates = [f for f in file_lines if f.endswith("/" + path)]
    return candidates[0] if len(candidates) == 1 else None


def attribute_sources(answer: str, hits: list[Hit]) -> list[Citation]:
    """Context chunks the answer visibly used (it names their symbol or file), as valid citations.

    Small models often answer from the context without writing a citation; these tell the user
    where the answer's facts live, marked as added by codemm rather than by the model.
    """
    out = []
    lowered = answer.lower()
    for hit in hits:
        name = hit.path.rsplit("/", 1)[-1].lower()
        if (hit.symbol and re.search(rf"\b{re.escape(hit.symbol.lower())}\b", lowered)) or name in lowered:
            out.append(Citation(hit.path, hit.start, hit.end, True, source="attributed"))
    return out
