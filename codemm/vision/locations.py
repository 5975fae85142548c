"""Code locations shown in a screenshot (traceback frames, path:line mentions), resolved against
the repository index, so the prompt gets the code the screenshot points at."""

from __future__ import annotations

import re
from dataclasses import dataclass

from codemm.citations import find_citations

# Python tracebacks: File "tasktracker/dates.py", line 29, in parse_due_date
# (OCR may turn the quotes into typographic ones or drop one of them.)
FRAME = re.compile(r'File\s+["“”\'‘’]*([^"“”\'‘’,\s]+)["“”\'‘’]*,\s*line\s+(\d+)(?:,\s*in\s+(\w+))?')


@dataclass(frozen=True)
class Location:
    path: str
    line: int
    function: str = ""

    @property
    def label(self) -> str:
        return f"{self.path}:{self.line}" + (f" (in {self.function})" if self.function else "")


def locations_in_text(text: str, file_lines: dict[str, int]) -> list[Location]:
    """Repository locations the text names, innermost traceback frame last, duplicates removed."""
    found: list[Location] = []
    for match in FRAME.finditer(text):
        path = match.group(1).replace("\\", "/").lstrip("./")
        resolved = path if path in file_lines else next((f for f in file_lines if path.endswith("/" + f)), None)
        resolved = resolved or next((f for f in file_lines if f.endswith("/" + path)), None)
        line = int(match.group(2))
        if resolved and 1 <= line <= file_lines[resolved]:
            found.append(Location(resolved, line, match.group(3) or ""))
    for citation in find_citations(text, file_lines):
        if citation.valid:
            found.append(Location(citation.path, citation.start))
    unique: list[Location] = []
    for loc in found:
        if all((loc.path, loc.line) != (u.path, u.line) for u in unique):
            unique.append(loc)
    return unique
