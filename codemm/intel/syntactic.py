"""The syntactic tier for Go, TypeScript/JavaScript, Rust, Java and C/C++: a name's uses narrowed
by what the syntax states, as Sourcegraph's scope-aware heuristics do.

A use ``recv.name`` fits a method of ``Owner`` when the receiver is ``this``/``self`` inside
``Owner``, Go's receiver variable of a method on ``Owner``, ``Owner`` itself (a static), or a variable
the file declares as ``Owner`` (``x: Owner``, ``new Owner``, ``x := &Owner{``, ``Owner x``). A
receiver of unknown type fits only where the file names ``Owner`` at all. A bare use fits a method
only inside its class, and a function or class only in a file that defines, imports or (Go) shares
its package with it; ``ns.name`` fits a function when ``ns`` is an imported module or package.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from codemm.intel.lexical import pick, receiver, use_kind
from codemm.intel.results import SYNTACTIC, Location, ReferenceGroup
from codemm.intel.scopes import Definition, Scopes
from codemm.intel.sources import Occurrence, RepoSources

COMMENTS = {"javascript": "//", "typescript": "//", "tsx": "//", "go": "//", "rust": "//", "java": "//",
            "c": "//", "cpp": "//"}  # fmt: skip
_GO_RECEIVER = re.compile(r"^\s*func\s*\(\s*(\w+)?\s*\*?\s*(\w+)")


class SyntacticNavigation:
    def __init__(self, sources: RepoSources, scopes: Scopes) -> None:
        self.sources = sources
        self.scopes = scopes
        self._bases: dict[str, set[str]] = {}
        self._bases_key: tuple[str, int] | None = None

    def definitions(self, name: str) -> list[Location]:
        return [self._location(d) for d in self._definitions(name)]

    def goto(self, path: str, line: int, column: int | None) -> list[Location]:
        language = self.sources.language(path) or ""
        chosen = pick(self.sources.get(path).lines[line - 1], column, "//")  # type: ignore[union-attr]
        if chosen is None:
            return []
        occ = Occurrence(path, line, chosen[0], False)
        defs = [d for d in self.scopes.definitions(chosen[1], language)]
        own = [d for d in defs if (d.symbol.path, d.line) == (path, line)]
        return [self._location(d) for d in (own or [d for d in defs if self._fits(occ, d, language, len(defs))])]

    def references(self, name: str) -> list[ReferenceGroup]:
        return self._groups(self._definitions(name))

    def references_at(self, path: str, line: int, column: int | None) -> list[ReferenceGroup]:
        found = self.goto(path, line, column)
        language = self.sources.language(path) or ""
        wanted = {(loc.path, loc.line) for loc in found}
        defs = [d for name in {loc.name for loc in found} for d in self.scopes.definitions(name, language)]
        return self._groups([d for d in defs if (d.symbol.path, d.line) in wanted])

    # -- narrowing ---------------------------------------------------------------------------------

    def _definitions(self, name: str) -> list[Definition]:
        qualifier, _, last = name.rpartition(".")
        owner = qualifier.rpartition(".")[2]
        found = []
        for language in COMMENTS:
            for d in self.scopes.definitions(last, language):
                if not owner or self._owner(d) == owner:
                    found.append(d)
        return found

    def _groups(self, defs: list[Definition]) -> list[ReferenceGroup]:
        groups = []
        for d in defs:
            language = self.sources.language(d.symbol.path) or ""
            same_name = len(self.scopes.definitions(d.symbol.name, language))
            group = ReferenceGroup(self._location(d))
            for occ in self.sources.occurrences(d.symbol.name, language, "//"):
                if occ.in_string or (occ.path, occ.line, occ.column) == (d.symbol.path, d.line, d.column):
                    continue
                if self._fits(occ, d, language, same_name):
                    text = self.sources.line(occ.path, occ.line)
                    raw = self.sources.get(occ.path).lines[occ.line - 1]  # type: ignore[union-attr]
                    group.references.append(Location(occ.path, occ.line, occ.column + 1, SYNTACTIC,
                                                     use_kind(raw, occ.column, d.symbol.name), d.symbol.name,
                                                     self.scopes.enclosing_name(occ.path, occ.line), text))  # fmt: skip
            groups.append(group)
        return groups

    def _fits(self, occ: Occurrence, d: Definition, language: str, same_name: int) -> bool:
        """Whether the syntax allows the use at ``occ`` to mean ``d`` (see the module's docstring)."""
        raw = self.sources.get(occ.path).lines[occ.line - 1]  # type: ignore[union-attr]
        chain = receiver(raw, occ.column)
        owner = self._owner(d)
        around = self.scopes.enclosing(occ.path, occ.line)
        around_owner = self.owner_of(occ.path, around) if around else ""
        if owner:
            family = self._family(owner, language)
            inside = around_owner in family or (around is not None and around.name in family)
            if chain is None:
                return inside
            last = chain.rpartition(".")[2]
            if last in ("this", "self", "super"):
                return inside
            if last in family:
                return True
            if language == "go" and around is not None:
                head = _GO_RECEIVER.match(self.sources.get(occ.path).lines[around.start - 1])  # type: ignore[union-attr]
                if head and head.group(1) == last:
                    return head.group(2) in family
            declared = self._declared_type(occ.path, last) if last else None
            if declared is not None:
                return declared in family
            text = self.sources.get(occ.path).text  # type: ignore[union-attr]
            return same_name == 1 or any(re.search(rf"\b{re.escape(c)}\b", text) for c in family)
        if chain is None:
            return self._visible(occ.path, d, language)
        return chain.split(".")[0] in self._imported_words(occ.path) and (
            language != "go" or PurePosixPath(d.symbol.path).parent.name == chain.rpartition(".")[2]
        )

    def _family(self, owner: str, language: str) -> set[str]:
        """``owner``, the classes and interfaces it extends or implements and those that extend or
        implement it (transitively), from the declarations' heads: a call through any of them can
        reach the method."""
        key = (language, self.sources.generation)
        if self._bases_key != key:
            self._bases = self._read_bases(language)
            self._bases_key = key
        up, down = {owner}, {owner}
        for grow, edges in ((up, self._bases), (down, _reverse(self._bases))):
            todo = [owner]
            while todo:
                for other in edges.get(todo.pop(), ()):
                    if other not in grow:
                        grow.add(other)
                        todo.append(other)
        return up | down

    def _read_bases(self, language: str) -> dict[str, set[str]]:
        bases: dict[str, set[str]] = {}
        head = re.compile(r"\b(?:class|interface|struct|trait)\s+(\w+)(?:<[^{]*?>)?\s*((?:extends|implements|:)[^{;]*)")
        for path in self.sources.paths(language):
            source = self.sources.get(path)
            if source is None:
                continue
            for match in head.finditer(source.text):
                names = re.findall(r"\b([A-Z]\w*)\b", re.sub(r"<[^<>]*>", "", match.group(2)))
                bases.setdefault(match.group(1), set()).update(n for n in names if n != match.group(1))
        return bases

    def _visible(self, path: str, d: Definition, language: str) -> bool:
        if path == d.symbol.path or language in ("c", "cpp"):
            return True  # C/C++: headers make any file's names visible; the syntax cannot say
        if language == "go":
            return PurePosixPath(path).parent == PurePosixPath(d.symbol.path).parent
        return d.symbol.name in self._imported_words(path)

    def _imported_words(self, path: str) -> set[str]:
        text = self.sources.get(path).text  # type: ignore[union-attr]
        words: set[str] = set()
        pattern = (
            r"^\s*(?:import|use|from|export\s.*\sfrom|#include)\b[^;]*?(?:;|$)|require\([^)]*\)|^import\s*\([^)]*\)"
        )
        for statement in re.finditer(pattern, text, re.M | re.S):
            words.update(re.findall(r"[A-Za-z_$][\w$]*", statement.group(0)))
        for spec in re.finditer(r'"[\w./-]*/(\w+)"', text):  # Go import paths: the package is the last part
            words.add(spec.group(1))
        return words

    def _declared_type(self, path: str, var: str) -> str | None:
        text = self.sources.get(path).text  # type: ignore[union-attr]
        v = re.escape(var)
        for pattern in (rf"\b{v}\s*\??:\s*(?:readonly\s+)?([A-Z]\w*)", rf"\b{v}\s*:?=\s*new\s+([A-Z]\w*)",
                        rf"\b{v}\s*:?=\s*&?([A-Z]\w*)\s*\{{", rf"\b([A-Z]\w*)\s*[*&]?\s+{v}\s*[=;,)]",
                        rf"\b{v}\s+\*?([A-Z]\w*)\b", rf"\blet\s+(?:mut\s+)?{v}\s*=\s*([A-Z]\w*)::"):  # fmt: skip
            match = re.search(pattern, text)
            if match:
                return match.group(1)
        return None

    def _owner(self, d: Definition) -> str:
        return self.owner_of(d.symbol.path, d.symbol)

    def owner_of(self, path: str, symbol: object) -> str:
        """The class or type a method belongs to: its parent, or (Go) its receiver's type."""
        parent = getattr(symbol, "parent", "")
        if parent:
            return str(parent)
        source = self.sources.get(path)
        start = getattr(symbol, "start", 0)
        if source is not None and getattr(symbol, "kind", "") == "method" and 0 < start <= len(source.lines):
            head = _GO_RECEIVER.match(source.lines[start - 1])
            return head.group(2) if head else ""
        return ""

    def _location(self, d: Definition) -> Location:
        return Location(d.symbol.path, d.line, d.column + 1, SYNTACTIC, d.symbol.kind, d.symbol.name,
                        self.scopes.enclosing_name(d.symbol.path, d.line, True) or self._owner(d),
                        self.sources.line(d.symbol.path, d.line))  # fmt: skip


def _reverse(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    reverse: dict[str, set[str]] = {}
    for node, targets in edges.items():
        for target in targets:
            reverse.setdefault(target, set()).add(node)
    return reverse
