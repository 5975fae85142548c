"""Where definitions are and what encloses a line, from codemm's tree-sitter parse (cheap, per file
content): the enclosing symbol of every result, the definitions of a bare name, and a body's span."""

from __future__ import annotations

import re
from dataclasses import dataclass

from codemm.intel.sources import RepoSources, SourceText
from codemm.repo.symbols import Symbol, parse_source

_IDENT = re.compile(r"[A-Za-z_$][\w$]*")


@dataclass(frozen=True)
class Definition:
    symbol: Symbol
    line: int
    column: int
    """0-based column of the name on ``line``."""

    @property
    def qualified(self) -> str:
        return qualified(self.symbol)


def qualified(symbol: Symbol) -> str:
    return f"{symbol.parent}.{symbol.name}" if symbol.parent else symbol.name


class Scopes:
    def __init__(self, sources: RepoSources) -> None:
        self.sources = sources
        self._symbols: dict[tuple[str, str], list[Symbol]] = {}

    def symbols(self, path: str) -> list[Symbol]:
        source = self.sources.get(path)
        if source is None:
            return []
        key = (path, source.sha)
        if key not in self._symbols:
            self._symbols[key] = parse_source(path, source.text, source.language).symbols
        return self._symbols[key]

    def enclosing(self, path: str, line: int, below: bool = False) -> Symbol | None:
        """The innermost function or class around ``line``; ``below`` skips one that starts on it
        (the symbol a definition sits in, not the definition itself)."""
        around = [s for s in self.symbols(path) if s.start <= line <= s.end and s.kind != "constant"
                  and not (below and s.start == line)]  # fmt: skip
        return min(around, key=lambda s: s.end - s.start, default=None)

    def enclosing_name(self, path: str, line: int, below: bool = False) -> str:
        owner = self.enclosing(path, line, below)
        return qualified(owner) if owner else ""

    def definitions(self, name: str, language: str) -> list[Definition]:
        """Every definition of ``name`` in the language's files that contain it."""
        found: list[Definition] = []
        for path in self.sources.paths(language):
            source = self.sources.get(path)
            if source is None or name not in source.text:
                continue
            for symbol in self.symbols(path):
                if symbol.name == name:
                    found.append(locate(symbol, source))
        return found


def locate(symbol: Symbol, source: SourceText) -> Definition:
    """The line and column of the definition's name (a decorated or multi-line head puts it below
    the node's first line)."""
    for line in range(symbol.start, min(symbol.end, symbol.start + 20) + 1):
        text = source.lines[line - 1] if line <= len(source.lines) else ""
        for match in _IDENT.finditer(text):
            if match.group() == symbol.name:
                return Definition(symbol, line, match.start())
    return Definition(symbol, symbol.start, 0)
