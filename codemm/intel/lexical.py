"""Reading one line of source: its identifiers outside strings and comments, which one a position
or a call names, and what kind of use a name at a column is (call, import, base, except...)."""

from __future__ import annotations

import keyword
import re

from codemm.intel.sources import quoting

_IDENT = re.compile(r"[A-Za-z_$][\w$]*")
_CHAIN_BEFORE = re.compile(r"([A-Za-z_$][\w$]*(?:\s*\.\s*[A-Za-z_$][\w$]*)*)\s*\.\s*$")
KEYWORDS = frozenset(keyword.kwlist) | {"self", "cls", "this", "super", "print", "func", "function", "new",
                                         "return", "const", "let", "var", "fn", "impl", "pub", "type"}  # fmt: skip


def identifiers(line: str, comment: str = "#") -> list[tuple[int, str]]:
    """(0-based column, name) of each identifier in code on the line (not strings, comments or keywords)."""
    return [(m.start(), m.group()) for m in _IDENT.finditer(line)
            if m.group() not in KEYWORDS and quoting(line, m.start(), comment) == "code"]  # fmt: skip


def pick(line: str, column: int | None, comment: str = "#") -> tuple[int, str] | None:
    """The identifier a position names: the one under or nearest ``column`` (0-based); with no
    column, the function the line calls (``self.decoder.decode(data)`` -> decode), else its first name."""
    names = identifiers(line, comment)
    if not names:
        return None
    if column is not None:
        return min(names, key=lambda n: 0 if n[0] <= column < n[0] + len(n[1]) else
                   min(abs(column - n[0]), abs(column - n[0] - len(n[1]) + 1)))  # fmt: skip
    calls = [n for n in names if line[n[0] + len(n[1]) :].lstrip().startswith("(")]
    if re.match(r"\s*(?:async\s+def|def|class|func|fn)\s", line):
        return names[0]
    return calls[0] if calls else names[0]


def receiver(line: str, column: int) -> str | None:
    """The dotted chain before ``.name`` at ``column`` (``self.client`` for ``self.client.get``);
    "" when the receiver is an expression (a call, an index, a literal); None when not an attribute."""
    before = line[:column].rstrip()
    if not before.endswith("."):
        return None
    match = _CHAIN_BEFORE.search(line[:column])
    return re.sub(r"\s+", "", match.group(1)) if match else ""


def use_kind(line: str, column: int, name: str, in_string: bool = False) -> str:
    """What the use of ``name`` at ``column`` is, read from the line (Python's syntax)."""
    stripped = line.lstrip()
    if in_string:
        return "string"
    if stripped.startswith(("import ", "from ")):
        return "import"
    head = re.match(r"\s*(?:async\s+def|def|class)\s+(\w+)", line)
    if head and head.start(1) == column:
        return "definition"
    if stripped.startswith("class ") and "(" in line[:column]:
        return "base"
    before = line[:column].rstrip()
    if re.search(r"@[\w.\s]*$", before):
        return "decorator"
    if stripped.startswith("except") and "except" in before:
        return "except"
    if line[column + len(name) :].lstrip().startswith("("):
        return "call"
    if re.search(r"(->|:)\s*[\w.\[\], |]*$", before) and not before.endswith((" = ", "lambda")):
        return "type"
    return "value"
