"""The plain results of navigation: locations labelled with the tier that found them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

PRECISE, SYNTACTIC, TEXT = "precise", "syntactic", "text"
TIERS = (PRECISE, SYNTACTIC, TEXT)
TIER_NOTES = {
    PRECISE: "resolved by analysis (jedi for Python, else the language's server: source names it)",
    SYNTACTIC: "matched by name, narrowed by scopes, imports and receiver types from the syntax",
    TEXT: "matched by name only: may be another symbol of the same name",
}


@dataclass(frozen=True)
class Location:
    """One place in the repository. ``line`` and ``column`` are 1-based (as editors show them);
    ``symbol`` is the function or class the place sits in (empty at module level)."""

    path: str
    line: int
    column: int
    tier: str
    kind: str
    """definition kinds: function, class, method, variable, module; use kinds: call, import,
    base, decorator, except, type, string, value."""
    name: str = ""
    symbol: str = ""
    text: str = ""
    """The line, stripped."""
    source: str = ""
    """The language server that found it (precise tier outside Python); empty otherwise."""

    @classmethod
    def module_level(cls, path: str, tier: str) -> Location:
        """A file itself, standing for the code at its top level (a call made outside any function)."""
        return cls(path, 1, 1, tier, "module", PurePosixPath(path).stem)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "column": self.column, "location": self.where,
                "tier": self.tier, "kind": self.kind, "name": self.name, "symbol": self.symbol,
                "text": self.text, **({"source": self.source} if self.source else {})}  # fmt: skip


@dataclass
class ReferenceGroup:
    """One definition and the uses that refer to it."""

    definition: Location
    references: list[Location] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"definition": self.definition.as_json(), "references": [r.as_json() for r in self.references]}


@dataclass
class References:
    """The answer to ``references(target)``: one group per definition the target names (a bare
    name several definitions share gives several groups; a location or qualified name one)."""

    target: str
    groups: list[ReferenceGroup]
    truncated: bool = False
    notes: list[str] = field(default_factory=list)
    """Why a better tier was not used (a language server that failed), one line each."""

    @property
    def locations(self) -> list[Location]:
        return [r for g in self.groups for r in g.references]

    def as_json(self) -> dict[str, Any]:
        tiers = sorted({g.definition.tier for g in self.groups} | {r.tier for r in self.locations})
        return {"target": self.target, "groups": [g.as_json() for g in self.groups],
                "count": len(self.locations), "truncated": self.truncated,
                "tiers": {t: TIER_NOTES[t] for t in tiers},
                **({"notes": self.notes} if self.notes else {})}  # fmt: skip


@dataclass
class Call:
    """A call edge: ``symbol`` (the caller or callee) and the call site."""

    symbol: Location
    site: Location

    def as_json(self) -> dict[str, Any]:
        return {"symbol": self.symbol.as_json(), "site": self.site.as_json()}


@dataclass
class CallHierarchy:
    definition: Location
    callers: list[Call] = field(default_factory=list)
    callees: list[Call] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"definition": self.definition.as_json(), "callers": [c.as_json() for c in self.callers],
                "callees": [c.as_json() for c in self.callees]}  # fmt: skip


@dataclass
class TypeHierarchy:
    definition: Location
    bases: list[Location] = field(default_factory=list)
    """Direct bases, resolved to their definitions (a base outside the repo keeps its use site)."""
    subclasses: list[Location] = field(default_factory=list)
    """Direct subclasses in the repository."""

    def as_json(self) -> dict[str, Any]:
        return {"definition": self.definition.as_json(), "bases": [b.as_json() for b in self.bases],
                "subclasses": [s.as_json() for s in self.subclasses]}  # fmt: skip
