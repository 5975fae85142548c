"""Grounded facts: what the index knows for certain about the definitions a question is about.

A small model often misstates what it was shown ("parse_due_date returns a list of tuples" next to
``def parse_due_date(...) -> date``). The index holds the definition, its signature as written and
its docstring, so codemm states those itself, ahead of the model's prose, and gives the model the
same block so that its prose can agree. Nothing here comes from a model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from codemm.repo.index import RepoIndex
from codemm.repo.retrieve import Hit
from codemm.repo.symbols import Symbol
from codemm.repo.tokens import STOPWORDS, identifiers

MAX_FACTS = 3
HIT_FACTS = 2
# Kinds a question is usually about; a constant only when the question names it exactly.
DEFINITION_KINDS = {"function", "method", "class", "interface", "type", "struct", "enum", "trait", "module"}


@dataclass(frozen=True)
class Fact:
    """A definition as stated to the user: the index's symbol, its signature on one line and the
    docstring's first line."""

    symbol: Symbol

    @property
    def signature(self) -> str:
        return " ".join(self.symbol.signature.split())

    @property
    def doc(self) -> str:
        return first_line(self.symbol.docstring)

    def as_json(self) -> dict[str, Any]:
        s = self.symbol
        return {"name": s.name, "kind": s.kind, "path": s.path, "start": s.start, "end": s.end,
                "signature": self.signature, "doc": self.doc}  # fmt: skip

    def render(self) -> str:
        line = f"- `{self.signature}` at {self.symbol.path}:{self.symbol.start}-{self.symbol.end}"
        return line + (f": {self.doc}" if self.doc else "")


def first_line(doc: str) -> str:
    for line in doc.splitlines():
        if line.strip():
            return line.strip().strip("\"'").strip()
    return ""


def names_code(word: str, question: str) -> bool:
    """Whether the question uses ``word`` as an identifier rather than as English: snake_case,
    camelCase or PascalCase, in backticks, or called (``run()``). "How is the index refreshed?"
    is not about a function named ``index``."""
    if len(word) < 3 or word.lower() in STOPWORDS:
        return False
    if "_" in word or any(c.isupper() for c in word[1:]) or (word[0].isupper() and not question.startswith(word)):
        return True
    return f"`{word}" in question or f"{word}(" in question or f".{word}" in question


def grounded_facts(index: RepoIndex, question: str, hits: list[Hit], limit: int = MAX_FACTS) -> list[Fact]:
    """The definitions the question names exactly (a qualified name, ``Client.send`` or
    ``httpx.get``, as the one definition it names); when it names none, those of the best
    lexical/symbol hits (at most HIT_FACTS: the further down, the less it is about them)."""
    chosen, resolved = qualified_definitions(index, question)
    for name in dict.fromkeys(identifiers(question)):
        if name in resolved or not names_code(name, question):
            continue
        for symbol in index.symbols(name):
            if symbol.kind in DEFINITION_KINDS or symbol.kind == "constant":
                chosen.append(symbol)
    if not chosen:
        for hit in hits[:HIT_FACTS]:
            if hit.symbol and ("symbols" in hit.sources or "bm25" in hit.sources):
                chosen += [s for s in index.symbols(hit.symbol) if s.path == hit.path and s.kind in DEFINITION_KINDS]
    return [Fact(symbol) for symbol in dict.fromkeys(chosen)][:limit]


_QUALIFIED = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)")
_BASES = re.compile(r"class\s+\w+\s*(?:\[[^\]]*\])?\s*\(([^)]*)\)")
MAX_BASES = 16


def qualified_definitions(index: RepoIndex, question: str) -> tuple[list[Symbol], set[str]]:
    """The definitions the question's dotted names name, and the last parts it resolved (looked up
    no further by bare name: ``Client.send`` is not ``AsyncClient.send``). ``Owner.member`` is the
    member of that class or, inherited, of its nearest base that has it (bases read from the class
    heads); ``module.name`` (``httpx.get``, ``pkg.mod.func``) is a top-level definition in that
    module's files. A name that resolves to nothing this way is left to the bare lookup."""
    found: list[Symbol] = []
    resolved: set[str] = set()
    for dotted in dict.fromkeys(m.group(1) for m in _QUALIFIED.finditer(question)):
        parts = dotted.split(".")
        owner, member = parts[-2], parts[-1]
        symbols = [s for s in index.symbols(member) if s.kind in DEFINITION_KINDS or s.kind == "constant"]
        match = _member_of(index, owner, symbols) or _in_module(parts[:-1], symbols)
        if match:
            found += match
            resolved.add(member)
    return found, resolved


def _member_of(index: RepoIndex, owner: str, symbols: list[Symbol]) -> list[Symbol]:
    classes, seen = [owner], {owner}
    for cls in classes:  # the class, then its bases by name, nearest first
        own = [s for s in symbols if s.parent == cls]
        if own:
            return own
        for head in index.symbols(cls):
            bases = _BASES.match(head.signature.strip()) if head.kind == "class" else None
            for base in (b.strip().rpartition(".")[2] for b in (bases.group(1).split(",") if bases else [])):
                if base and "=" not in base and base not in seen and len(seen) < MAX_BASES:
                    seen.add(base)
                    classes.append(base)
    return []


def _in_module(module: list[str], symbols: list[Symbol]) -> list[Symbol]:
    """Top-level definitions in the files of the dotted ``module`` (a package includes its own
    modules: ``httpx.get`` is defined in ``httpx/_api.py`` and re-exported)."""
    folder = "/".join(module)
    return [s for s in symbols if not s.parent and (f"/{folder}/" in f"/{s.path}" or
                                                    f"/{s.path}".endswith(f"/{folder}.py"))]  # fmt: skip


def render_facts(facts: list[Fact]) -> str:
    if not facts:
        return ""
    return "From the index:\n" + "\n".join(f.render() for f in facts)
