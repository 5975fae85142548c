"""One repository's navigator: the best tier each language has, a bare-name fallback labelled as such.

Opened over a repository root and lazy: nothing is parsed or analysed until a lookup needs it, and
what a lookup learns (file texts, tree-sitter symbols, jedi scripts and answers) is kept per file
content for the next one. Nothing here waits for the index's embeddings.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import replace
from pathlib import Path

from codemm.config import load_settings
from codemm.errors import BadInputError
from codemm.intel.jedi_tier import Target
from codemm.intel.lexical import identifiers, pick, use_kind
from codemm.intel.lsp_tier import LspNavigation
from codemm.intel.python import PYTHON, PythonNavigation
from codemm.intel.results import (
    SYNTACTIC,
    TEXT,
    Call,
    CallHierarchy,
    Location,
    ReferenceGroup,
    References,
    TypeHierarchy,
)
from codemm.intel.scopes import Scopes, locate
from codemm.intel.sources import RepoSources
from codemm.intel.syntactic import COMMENTS, SyntacticNavigation
from codemm.repo.symbols import Symbol

MAX_REFERENCES = 500
"""More uses than this is a question for search, not a list to read."""
_LOCATION = re.compile(r"^(?P<path>.+?):(?P<line>\d+)(?::(?P<column>\d+))?$")


class Navigator:
    def __init__(self, root: Path, lsp: str | None = None) -> None:
        """``lsp``: which languages a language server on PATH answers for (the ``lsp`` setting;
        None: read the settings as seen from ``root``)."""
        self.sources = RepoSources(root)
        self.root = self.sources.root
        self.scopes = Scopes(self.sources)
        self.python = PythonNavigation(self.sources, self.scopes)
        self.syntactic = SyntacticNavigation(self.sources, self.scopes)
        self.lsp = LspNavigation(self.sources, self.scopes, load_settings(cwd=self.root).lsp if lsp is None else lsp)
        # The registry keeps navigators in a weak map: its servers stop when it is dropped.
        self._close = weakref.finalize(self, self.lsp.close)

    def close(self) -> None:
        """Stops the language servers this navigator started."""
        self._close()

    # -- the lookups -------------------------------------------------------------------------------

    def goto(self, path: str, line: int, column: int | None = None) -> list[Location]:
        """Where the name at ``path``:``line``[:``column``] (1-based) is defined. Without a column,
        the line's call (or its first name); a column between names picks the nearest."""
        language = self._file_language(path)
        text = self._line_text(path, line)
        col0 = None if column is None else column - 1
        if language == PYTHON:
            found = self.python.goto(path, line, col0)
            if found:
                return found
        elif language in COMMENTS:
            found = self.lsp.goto(path, line, col0) or self.syntactic.goto(path, line, col0)
            if found:
                return found
        chosen = pick(text, col0, COMMENTS.get(language or "", "#"))
        return [] if chosen is None else self._text_definitions(chosen[1], language)

    def definition(self, name: str) -> list[Location]:
        """Where a name is defined: ``httpx.get``, ``pkg.mod.func``, ``Class.method`` (inherited
        ones through the class hierarchy), or a bare name (every definition of it)."""
        name = _check_name(name)
        found = [self.python.location(t) for t in self.python.targets(name)] if self._has(PYTHON) else []
        found += self.syntactic.definitions(name)
        return found or self._text_definitions(name.rpartition(".")[2], None)

    def references(self, target: str) -> References:
        """The uses of what ``target`` names: a location ``path:line[:col]`` or a name (qualified,
        or bare: then one group per definition of it)."""
        location = self.parse_location(target)
        groups: list[ReferenceGroup] = []
        if location is not None:
            path, line, column = location
            if self._file_language(path) == PYTHON:
                targets = self._python_targets_at(path, line, column)
                groups = self.python.references(targets) if targets else []
            else:
                col0 = None if column is None else column - 1
                precise = self.lsp.references_at(path, line, col0)
                groups = precise if precise is not None else self.syntactic.references_at(path, line, col0)
        else:
            name = _check_name(target)
            targets = self.python.targets(name) if self._has(PYTHON) else []
            groups = self.python.references(targets) if targets else []
            groups += self.lsp.refine(self.syntactic.references(name))
        found = _capped(target, groups)
        found.notes = [f"{why}; {lang} fell back to the syntactic tier" for lang, why in self.lsp.failures.items()]
        return found

    def callers(self, symbol: str) -> CallHierarchy:
        """Who calls ``symbol`` (a name or a location), one level up."""
        other = self._other_definition(symbol)
        if other is not None:
            return CallHierarchy(other, callers=self._syntactic_callers(other))
        targets = self._symbol_targets(symbol)
        hierarchy = CallHierarchy(self.python.location(targets[0]))
        hierarchy.callers = self.python.callers(targets)
        return hierarchy

    def callees(self, symbol: str) -> CallHierarchy:
        """What ``symbol``'s body calls, one level down, each call resolved to its definition."""
        other = self._other_definition(symbol)
        if other is not None:
            return CallHierarchy(other, callees=self._syntactic_callees(other))
        targets = self._symbol_targets(symbol)
        hierarchy = CallHierarchy(self.python.location(targets[0]))
        hierarchy.callees = self.python.callees(targets)
        return hierarchy

    def hierarchy(self, cls: str) -> TypeHierarchy:
        """A class's direct bases and its subclasses in the repository."""
        targets = [t for t in self._symbol_targets(cls) if t.type == "class"]
        if not targets:
            raise BadInputError(f"{cls} is not a class codemm can find; give a class name or its location")
        return self.python.hierarchy(targets[0])

    # -- calls outside Python: the language's server where one answers, else the syntactic tier ------

    def _other_definition(self, symbol: str) -> Location | None:
        """The definition ``symbol`` names when it is not Python's (None: ask the Python tier)."""
        location = self.parse_location(symbol)
        if location is not None:
            path, line, column = location
            if self._file_language(path) == PYTHON:
                return None
            self._line_text(path, line)  # a line the file has, or one line saying it has not
            col0 = None if column is None else column - 1
            found = self.lsp.goto(path, line, col0) or self.syntactic.goto(path, line, col0)
        else:
            name = _check_name(symbol)
            if self._has(PYTHON) and any(t.inside for t in self.python.targets(name)):
                return None
            found = [d for d in self.syntactic.definitions(name) if d.kind in ("function", "method")]
        if not found:
            if location is None and self._has(PYTHON):
                return None  # the Python tier says it has none, in its words
            raise BadInputError(f"no function or method {symbol} found in {self.root}")
        return found[0]

    def _syntactic_callers(self, definition: Location) -> list[Call]:
        col0 = definition.column - 1
        groups = self.lsp.references_at(definition.path, definition.line, col0)
        if groups is None:
            groups = self.syntactic.references_at(definition.path, definition.line, col0)
        calls = []
        for site in (r for g in groups for r in g.references if r.kind == "call"):
            owner = self.scopes.enclosing(site.path, site.line)
            calls.append(Call(self._symbol_location(site.path, owner, site.tier), site))
        return calls

    def _syntactic_callees(self, definition: Location) -> list[Call]:
        path = definition.path
        # The smallest function of that name around its line: a constructor, not its class.
        owner = min((s for s in self.scopes.symbols(path) if s.name == definition.name
                     and s.start <= definition.line <= s.end), key=lambda s: s.end - s.start, default=None)  # fmt: skip
        source = self.sources.get(path)
        if owner is None or source is None:
            return []
        comment = COMMENTS.get(self.sources.language(path) or "", "//")
        qualified = f"{definition.symbol}.{definition.name}" if definition.symbol else definition.name
        calls: list[Call] = []
        for number in range(definition.line, min(owner.end, len(source.lines)) + 1):
            text = source.lines[number - 1]
            for column, name in identifiers(text, comment):
                if (number, column + 1) == (definition.line, definition.column):
                    continue  # its own name
                if not text[column + len(name) :].lstrip().startswith("("):
                    continue
                site = Location(path, number, column + 1, SYNTACTIC, "call", name, qualified, text.strip())
                found = self.lsp.goto(path, number, column) or self.syntactic.goto(path, number, column)
                # A definition on this very line (a nested function, a method of a class) is not a call.
                calls += [Call(target, replace(site, tier=target.tier)) for target in found
                          if (target.path, target.line) != (path, number)]  # fmt: skip
        return calls

    def _symbol_location(self, path: str, owner: Symbol | None, tier: str) -> Location:
        """A call's enclosing function as a location (the file itself at module level)."""
        if owner is None:
            return Location.module_level(path, tier)
        where = locate(owner, self.sources.get(path))  # type: ignore[arg-type]
        container = self.scopes.enclosing_name(path, where.line, True) or self.syntactic.owner_of(path, owner)
        text = self.sources.line(path, where.line)
        return Location(path, where.line, where.column + 1, tier, owner.kind, owner.name, container, text)

    # -- helpers -----------------------------------------------------------------------------------

    def parse_location(self, target: str) -> tuple[str, int, int | None] | None:
        """``path:line[:col]`` when ``target`` is one (a file of the repository), else None."""
        match = _LOCATION.match(target.strip())
        if match is None:
            return None
        path = match["path"].removeprefix("./")
        if self._file_language(path, strict=False) is None:
            raise BadInputError(f"{path} is not a file codemm reads in {self.root}")
        return path, int(match["line"]), int(match["column"]) if match["column"] else None

    def _symbol_targets(self, symbol: str) -> list[Target]:
        location = self.parse_location(symbol)
        if location is not None:
            targets = self._python_targets_at(*location)
        else:
            targets = self.python.targets(_check_name(symbol))
        targets = [t for t in targets if t.inside]
        if not targets:
            raise BadInputError(f"no Python definition of {symbol} found in {self.root}")
        return targets

    def _python_targets_at(self, path: str, line: int, column: int | None) -> list[Target]:
        """What a location names; on a definition's own name, that definition (jedi's goto would
        jump from an override to the method it overrides, and from an overload to the stub)."""
        text = self._line_text(path, line)
        chosen = pick(text, None if column is None else column - 1)
        if chosen is None:
            return []
        if use_kind(text, chosen[0], chosen[1]) == "definition":
            owner = next(
                (s for s in self.scopes.symbols(path) if s.name == chosen[1] and s.start <= line <= s.end), None
            )
            return [self.python.own_target(path, line, chosen[0], owner.kind if owner else "function")]
        return list(self.python.jedi.goto(path, line, chosen[0]))

    def _text_definitions(self, name: str, language: str | None) -> list[Location]:
        found = []
        languages = [language] if language else sorted({self.sources.language(p) or "" for p in self.sources.paths()})
        for lang in languages:
            for d in self.scopes.definitions(name, lang):
                text = self._line_text(d.symbol.path, d.line).strip()
                found.append(Location(d.symbol.path, d.line, d.column + 1, TEXT, d.symbol.kind, name,
                                      self.scopes.enclosing_name(d.symbol.path, d.line, True), text))  # fmt: skip
        return found

    def _has(self, language: str) -> bool:
        return bool(self.sources.paths(language))

    def _file_language(self, path: str, strict: bool = True) -> str | None:
        language = self.sources.language(path)
        if language is None and strict:
            raise BadInputError(f"{path} is not a file codemm reads in {self.root}")
        return language

    def _line_text(self, path: str, line: int) -> str:
        source = self.sources.get(path)
        if source is None or not 0 < line <= len(source.lines):
            raise BadInputError(f"{path} has no line {line}")
        return source.lines[line - 1]


def _check_name(name: str) -> str:
    name = name.strip()
    if not re.fullmatch(r"[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*", name):
        raise BadInputError(f"{name!r} is not a name; give one like get, httpx.get or Client.send, or PATH:LINE")
    return name


def _capped(target: str, groups: list[ReferenceGroup]) -> References:
    total = 0
    truncated = False
    for group in groups:
        group.references.sort(key=lambda r: (r.path, r.line, r.column))
        room = max(0, MAX_REFERENCES - total)
        if len(group.references) > room:
            group.references, truncated = group.references[:room], True
        total += len(group.references)
    return References(target, groups, truncated)
