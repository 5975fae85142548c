"""Python's classes by name, read from their heads (``class X(A, mod.B, metaclass=M):``): which
names a class's ``self`` can reach. The precise tier uses it to skip ``self.name`` occurrences in
classes unrelated to the method asked about before asking jedi, whose inference is the cost."""

from __future__ import annotations

import re

from codemm.intel.sources import RepoSources

_HEAD = re.compile(r"^[ \t]*class[ \t]+(\w+)[ \t]*(?:\[[^\]]*\])?[ \t]*(?:\(([^)]*)\))?[ \t]*:", re.M)


class ClassFamilies:
    def __init__(self, sources: RepoSources) -> None:
        self.sources = sources
        self._key = -1
        self._bases: dict[str, set[str]] = {}
        self._aliases: set[str] = set()

    def may_reach(self, cls: str, owners: set[str]) -> bool:
        """Whether ``self`` inside class ``cls`` can name a member of one of ``owners``: ``cls`` is
        one of them, inherits from one, or is inherited by one (whose override jedi may not follow,
        kept all the same). True whenever the heads cannot say
        (a base that is not a class of the repository but a name it assigns, e.g. ``Base = make()``)."""
        self._read()
        up = self._closure(cls, self._bases)
        if up & owners or cls in self._closure_many(owners, self._bases):
            return True
        if cls in owners or (up & self._aliases):
            return True
        return cls not in self._bases  # a class the heads do not know (defined in a string, generated)

    def _read(self) -> None:
        if self._key == self.sources.generation and self._bases:
            return
        bases: dict[str, set[str]] = {}
        assigned: set[str] = set()
        for path in self.sources.paths("python"):
            source = self.sources.get(path)
            if source is None:
                continue
            for match in _HEAD.finditer(source.text):
                names = set()
                for part in (match.group(2) or "").split(","):
                    if "=" in part or not part.strip():
                        continue  # metaclass=..., total=False
                    head = re.match(r"\s*([\w.]+)", part)
                    if head:
                        names.add(head.group(1).rpartition(".")[2])
                bases.setdefault(match.group(1), set()).update(names)
            assigned.update(re.findall(r"^(\w+)\s*=", source.text, re.M))
        self._bases = bases
        self._aliases = assigned - bases.keys()
        self._key = self.sources.generation

    @staticmethod
    def _closure(start: str, edges: dict[str, set[str]]) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            for other in edges.get(todo.pop(), ()):
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
        return seen

    def _closure_many(self, starts: set[str], edges: dict[str, set[str]]) -> set[str]:
        return set().union(*(self._closure(s, edges) for s in starts)) if starts else set()
