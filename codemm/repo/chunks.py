"""Splitting files into retrieval chunks along syntax boundaries, each with its line range.

Code: one chunk per top-level definition; a class too big for one chunk becomes a skeleton
chunk (its header and member signatures) plus one chunk per method, each prefixed with the class
header so the method keeps its context. Code between definitions (imports, module statements)
forms its own chunks. Markdown splits by headings, other text by line windows.

Each code file also gets cards (kind ``card``): its path and module docstring, then each
definition's signature and the first line of its docstring, with identifiers also written as words
(``get_browser_locale`` -> "get browser locale"). A question in plain words ("where is the user's
translation picked?") rarely shares words with a body of code, but often with a docstring's first
line or a name read as words; a card puts those of a whole file in one short text that BM25 and
the embedding both see. Cards are for ranking files: search reports a file's real chunks.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from codemm.repo.symbols import ParsedFile, Symbol
from codemm.repo.tokens import identifier_parts

MAX_LINES = 60
MAX_CHARS = 3000
BLOCK_KINDS = {"function", "method", "class", "struct", "interface", "enum", "type", "module", "macro"}


@dataclass(frozen=True)
class Chunk:
    path: str
    start: int
    """1-based, inclusive."""
    end: int
    kind: str
    """function | method | class | skeleton | module | section | lines | card"""
    symbol: str
    text: str

    @property
    def sha(self) -> str:
        """Identity for embedding caches: the path is part of what is embedded."""
        return hashlib.sha256(f"{self.path}\n{self.text}".encode()).hexdigest()

    @property
    def label(self) -> str:
        return f"{self.path}:{self.start}-{self.end}"


def chunk_file(parsed: ParsedFile, text: str) -> list[Chunk]:
    lines = text.splitlines()
    if not lines:
        return []
    if parsed.language == "markdown":
        return _markdown_chunks(parsed.path, lines)
    if not parsed.symbols:
        return _windows(parsed.path, lines, 1, len(lines), "lines", "")
    return _code_chunks(parsed, lines) + file_cards(parsed, lines)


CARD_ENTRIES = 16
"""Definitions per card: a card much past 256 tokens would be cut by the embedding model."""
CARD_KINDS = BLOCK_KINDS - {"module"}


def as_words(name: str) -> str:
    return " ".join(identifier_parts(name))


def _first_line(doc: str) -> str:
    return next((line.strip().strip("\"'").strip() for line in doc.splitlines() if line.strip()), "")


def file_cards(parsed: ParsedFile, lines: list[str]) -> list[Chunk]:
    """The file's cards: path (also as words), module docstring, then one line per definition
    (its kind, name, name as words and docstring's first line; parameters are left out, they would
    fill the embedding model's 256 tokens)."""
    entries = []
    for sym in parsed.symbols:
        if sym.kind not in CARD_KINDS or (sym.name.startswith("__") and sym.name.endswith("__")):
            continue
        doc = _first_line(sym.docstring)
        entries.append(f"{sym.kind} {sym.name} ({as_words(sym.name)})" + (f": {doc}" if doc else ""))
    if not entries:
        return []
    path_words = " ".join(as_words(part) for part in re.split(r"[/.]", parsed.path))
    head = f"{parsed.path} ({path_words})"
    module_doc = _module_docstring(lines)
    if module_doc:
        head += "\n" + module_doc
    return [
        Chunk(parsed.path, 1, len(lines), "card", "", head + "\n" + "\n".join(entries[lo : lo + CARD_ENTRIES]))
        for lo in range(0, len(entries), CARD_ENTRIES)
    ]


_LICENCE = re.compile(r"licen[cs]e|copyright|spdx|coding[:=]", re.I)


def _module_docstring(lines: list[str]) -> str:
    """The first line of a module docstring, or else of the leading comment unless it is a licence."""
    comments: list[str] = []
    for i, line in enumerate(lines[:80]):
        text = line.strip()
        if not text or text.startswith("#!"):
            continue
        if text.startswith(("#", "//", "/*", "*")):
            comments.append(text.strip("#/*! ").strip())
            continue
        if text.lstrip("rRuUbB").startswith(('"""', "'''")):
            inline = text.lstrip("rRuUbB").strip("\"' ").strip()
            nxt = lines[i + 1].strip().strip("\"'").strip() if i + 1 < len(lines) else ""
            return (inline or nxt)[:200]
        break
    leading = [c for c in comments if c]
    return "" if not leading or _LICENCE.search(" ".join(leading)) else leading[0][:200]


def _slice(lines: list[str], start: int, end: int) -> str:
    return "\n".join(lines[start - 1 : end])


def _fits(lines: list[str], start: int, end: int) -> bool:
    return end - start + 1 <= MAX_LINES and len(_slice(lines, start, end)) <= MAX_CHARS


def _windows(
    path: str, lines: list[str], start: int, end: int, kind: str, symbol: str, prefix: str = ""
) -> list[Chunk]:
    chunks = []
    step = MAX_LINES
    for lo in range(start, end + 1, step):
        hi = min(end, lo + step - 1)
        body = _slice(lines, lo, hi)[: MAX_CHARS * 2]
        if body.strip():
            chunks.append(Chunk(path, lo, hi, kind, symbol, prefix + body))
    return chunks


def _top_level(symbols: list[Symbol]) -> list[Symbol]:
    blocks = [s for s in symbols if s.kind in BLOCK_KINDS]
    top: list[Symbol] = []
    for sym in blocks:  # sorted by start, longest first
        if top and sym.start >= top[-1].start and sym.end <= top[-1].end:
            continue
        top.append(sym)
    return top


def _code_chunks(parsed: ParsedFile, lines: list[str]) -> list[Chunk]:
    path = parsed.path
    chunks: list[Chunk] = []
    covered_until = 0
    for sym in _top_level(parsed.symbols):
        start = _with_leading_comments(lines, sym.start, covered_until)
        if start > covered_until + 1:
            chunks += _windows(path, lines, covered_until + 1, start - 1, "module", "")
        if _fits(lines, start, sym.end):
            chunks.append(Chunk(path, start, sym.end, sym.kind, sym.name, _slice(lines, start, sym.end)))
        else:
            chunks += _split_block(parsed, lines, sym, start)
        covered_until = max(covered_until, sym.end)
    if covered_until < len(lines):
        chunks += _windows(path, lines, covered_until + 1, len(lines), "module", "")
    return chunks


def _with_leading_comments(lines: list[str], start: int, floor: int) -> int:
    """Moves a definition's start up over its decorators and comment block."""
    while start - 1 > floor and re.match(r"\s*(#|//|/\*|\*|@)", lines[start - 2]):
        start -= 1
    return start


def _split_block(parsed: ParsedFile, lines: list[str], block: Symbol, start: int) -> list[Chunk]:
    members = [s for s in parsed.symbols if s.parent == block.name and block.start < s.start and s.end <= block.end]
    members = _top_level(members)
    if not members or block.kind in ("function", "method"):
        return _windows(parsed.path, lines, start, block.end, block.kind, block.name)
    header = lines[block.start - 1]
    skeleton = [header] + [f"    {m.signature} ...  # lines {m.start}-{m.end}" for m in members]
    chunks = [Chunk(parsed.path, start, block.end, "skeleton", block.name, "\n".join(skeleton))]
    for m in members:
        m_start = _with_leading_comments(lines, m.start, block.start)
        prefix = header + "\n"
        if _fits(lines, m_start, m.end):
            chunks.append(Chunk(parsed.path, m_start, m.end, m.kind, m.name, prefix + _slice(lines, m_start, m.end)))
        else:
            chunks += _windows(parsed.path, lines, m_start, m.end, m.kind, m.name, prefix)
    return chunks


def _markdown_chunks(path: str, lines: list[str]) -> list[Chunk]:
    heads = [i + 1 for i, line in enumerate(lines) if line.startswith("#")] or [1]
    if heads[0] != 1:
        heads.insert(0, 1)
    chunks = []
    for i, lo in enumerate(heads):
        hi = heads[i + 1] - 1 if i + 1 < len(heads) else len(lines)
        title = lines[lo - 1].lstrip("#").strip()
        chunks += _windows(path, lines, lo, hi, "section", title)
    return chunks
