"""Import-resolved edges for the file reference graph (``graph = "imports"``).

The name graph (graph.py) links a use of ``get`` to every file defining a ``get``. Here a Python
use links only where Python's own name resolution can lead: a bare name to its file's definition
or to what the file imported under that name (``from pkg.mod import N``, ``from . import mod``,
followed through a package's ``__init__`` re-exports and ``*`` imports); ``mod.N`` through an
imported module to that module's ``N``; any other ``x.N`` (``self.get``, ``client.send``) to
methods and attributes of classes only, never to another module's function. A name imported from
outside the repository links nowhere. Computed lazily per repository from the sources (Python's
``ast``, about a second per 50k lines); files that are not Python, or do not parse, keep the name
graph's edges.

Measured (``python -m codemm.eval.bench.graph_edges``, retrieval-hard libraries): edge precision
against jedi's ``goto`` on 60 sampled uses per library rises from 0.32/0.35/0.47 (prompt_toolkit,
tornado, werkzeug) to 0.80/0.72/0.81, recall 0.97/1.00/1.00 -> 0.97/0.93/0.98. But where the
graph feeds ranking it does not help: propagation (weight 0.5) on the dev split, MRR 0.705 ->
0.710 (paired bootstrap +0.005 [-0.000, +0.012]), recall@1/@5 unchanged (0.593/0.870), and
the default without propagation is already at 0.710; repo-QA MRR 0.952 both; the question-focused
repo map puts a gold-file definition in its first 50 for 0.407 -> 0.370 of questions (-0.037
[-0.093, +0.000]). The test split, run once after deciding: propagation MRR 0.749 -> 0.737
(-0.012 [-0.036, +0.000]), recall@1 0.622 -> 0.600, recall@5 0.933 both; map file hit@50
0.622 -> 0.600 (-0.022 [-0.089, +0.044]), gold symbol hit@50 0.244 -> 0.289 (+0.044 [-0.044,
+0.133]). So ``names`` stays the default and this graph is available behind the switch. It costs
about 0.7 s per repo map on a 50k-line library (sources parsed per call; not cached).
"""

from __future__ import annotations

import ast
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from codemm.errors import BadInputError
from codemm.repo.graph import PYTHON_SUFFIXES, name_edges
from codemm.repo.symbols import Reference, Symbol

Edges = dict[str, Counter[tuple[str, str]]]
"""Per defined name, how often each (using file, defining file) pair occurs."""
MAX_HOPS = 6
"""Re-export chains followed (``pkg/__init__.py`` -> ``pkg/_api.py`` ...); cycles stop here too."""


@dataclass
class _File:
    """What one Python file binds by importing, and how it uses each name on each line."""

    path: str
    bindings: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """Local name -> targets: ("module", file) or ("name", file + "\\0" + name)."""
    stars: list[str] = field(default_factory=list)
    """Files ``from M import *`` reads."""
    imported: dict[tuple[int, str], list[tuple[str, str]]] = field(default_factory=dict)
    """(line, name) of a ``from M import name`` -> its targets."""
    uses: dict[tuple[int, str], list[str | None]] = field(default_factory=lambda: defaultdict(list))
    """(line, name) -> for each use: None for a bare name, else the receiver's dotted text ("" if
    the receiver is an expression, not a dotted name)."""


def import_edges(symbols: list[Symbol], references: list[Reference], root: Path) -> Edges:
    """The reference graph's edges with Python uses resolved through imports (module docstring)."""
    resolver = _Resolver(symbols, references, root)
    files = resolver.files
    edges: Edges = defaultdict(Counter, name_edges(symbols, [r for r in references if files.get(r.path) is None]))
    for ref in references:
        info = files.get(ref.path)
        if info is not None and ref.name in resolver.defined:
            for definer in resolver.resolve(ref, info):
                edges[ref.name][(ref.path, definer)] += 1
    return dict(edges)


class _Resolver:
    def __init__(self, symbols: list[Symbol], references: list[Reference], root: Path) -> None:
        self.modules = _ModuleTable(sorted({s.path for s in symbols} | {r.path for r in references}))
        self.files: dict[str, _File | None] = {p: _parse(p, root, self.modules) for p in self.modules.python}
        self.defined = {s.name for s in symbols}
        self.top = {(s.path, s.name) for s in symbols if not s.parent}
        self.members: dict[str, set[str]] = defaultdict(set)
        for sym in symbols:
            if sym.parent:
                self.members[sym.name].add(sym.path)

    def resolve(self, ref: Reference, info: _File) -> set[str]:
        key = (ref.line, ref.name)
        if ref.kind == "import" and key in info.imported:
            return self.targets(info.imported[key])
        out: set[str] = set()
        for receiver in info.uses.get(key) or [None]:
            if receiver is None:
                out |= self.bare(ref.name, info)
                continue
            parts = receiver.split(".")
            modules = [t for kind, t in info.bindings.get(parts[0], []) if kind == "module"]
            found = {d for m in modules for d in self.in_module(self.descend(m, parts[1:]), ref.name, MAX_HOPS)}
            if modules and found:
                out |= found  # mod.N, pkg.sub.N: the module the dotted receiver names
                continue
            # Any other receiver (self.x, client.send): a class's method or attribute, this file's first.
            own = {ref.path} & self.members.get(ref.name, set())
            out |= own or self.members.get(ref.name, set())
        return out

    def bare(self, name: str, info: _File) -> set[str]:
        if (info.path, name) in self.top:
            return {info.path}
        if name in info.bindings:
            return self.targets(info.bindings[name])
        return {d for star in info.stars for d in self.in_module(star, name, MAX_HOPS)}

    def targets(self, targets: list[tuple[str, str]]) -> set[str]:
        out: set[str] = set()
        for kind, target in targets:
            if kind == "name":  # a module bound by name (`from pkg import mod`) defines nothing itself
                module, _, real = target.partition("\0")
                out |= self.in_module(module, real, MAX_HOPS)
        return out

    def in_module(self, module: str, name: str, hops: int) -> set[str]:
        """Where ``name`` read from ``module`` is defined: there, or where the module imported it from."""
        if (module, name) in self.top:
            return {module}
        info = self.files.get(module)
        if info is None or hops <= 0:
            return set()
        out: set[str] = set()
        for kind, target in info.bindings.get(name, []):
            if kind == "name":
                source, _, real = target.partition("\0")
                out |= self.in_module(source, real, hops - 1)
        if not out:
            for star in info.stars:
                out |= self.in_module(star, name, hops - 1)
        return out

    def descend(self, module: str, parts: list[str]) -> str:
        """``pkg`` + ``sub.mod`` -> the file of ``pkg.sub.mod``: a submodule, or a module the package
        binds; where the chain reaches an object (mod.obj.N) it stops at the module."""
        for part in parts:
            sub = _dotted(module) + [part]
            found = [p for p in self.modules.by_suffix.get(".".join(sub), []) if _dotted(p) == sub]
            info = self.files.get(module)
            found = found or ([t for k, t in info.bindings.get(part, []) if k == "module"] if info else [])
            if not found:
                return module
            module = found[0]
        return module


class _ModuleTable:
    """Dotted module names -> files. A repository's package may sit under ``src/`` or beside its
    tests, so an absolute import matches files whose dotted path ends with it, the shortest first."""

    def __init__(self, paths: list[str]) -> None:
        self.python = [p for p in paths if p.endswith(PYTHON_SUFFIXES)]
        self.by_suffix: dict[str, list[str]] = defaultdict(list)
        for path in self.python:
            parts = _dotted(path)
            for i in range(len(parts)):
                self.by_suffix[".".join(parts[i:])].append(path)
        for found in self.by_suffix.values():
            found.sort(key=lambda p: (len(_dotted(p)), p))

    def absolute(self, dotted: str) -> list[str]:
        found = self.by_suffix.get(dotted, [])
        return [p for p in found if len(_dotted(p)) == len(_dotted(found[0]))] if found else []

    def relative(self, path: str, level: int, dotted: str) -> list[str]:
        package = _dotted(path)[:-level] if not path.endswith(("__init__.py", "__init__.pyi")) else _dotted(path)
        if level > 1 and path.endswith(("__init__.py", "__init__.pyi")):
            package = package[: -(level - 1)]
        name = ".".join(package + ([dotted] if dotted else []))
        return [p for p in self.by_suffix.get(name, []) if _dotted(p) == name.split(".")]


def _dotted(path: str) -> list[str]:
    parts = list(PurePosixPath(path).with_suffix("").parts)
    return parts[:-1] if parts and parts[-1] == "__init__" else parts


def _parse(path: str, root: Path, modules: _ModuleTable) -> _File | None:
    try:
        tree = ast.parse((root / path).read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError, RecursionError):
        return None
    info = _File(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound, dotted = alias.asname, alias.name
                else:
                    bound = dotted = alias.name.split(".")[0]
                for file in modules.absolute(dotted):
                    info.bindings.setdefault(bound, []).append(("module", file))
        elif isinstance(node, ast.ImportFrom):
            base = (
                modules.relative(path, node.level, node.module or "")
                if node.level
                else modules.absolute(node.module or "")
            )
            for alias in node.names:
                if alias.name == "*":
                    info.stars.extend(base)
                    continue
                targets: list[tuple[str, str]] = []
                for module in base:
                    sub = _dotted(module) + [alias.name]
                    as_module = [p for p in modules.by_suffix.get(".".join(sub), []) if _dotted(p) == sub]
                    targets += [("module", p) for p in as_module] or [("name", f"{module}\0{alias.name}")]
                info.bindings.setdefault(alias.asname or alias.name, []).extend(targets)
                info.imported[(alias.lineno, alias.name)] = targets
        elif isinstance(node, ast.Name):
            info.uses[(node.lineno, node.id)].append(None)
        elif isinstance(node, ast.Attribute):
            info.uses[(node.end_lineno or node.lineno, node.attr)].append(_receiver(node.value))
    return info


def _receiver(node: ast.expr) -> str:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    parts.append(node.id)
    return ".".join(reversed(parts))


def file_edges(
    symbols: list[Symbol], references: list[Reference], graph: str = "names", root: Path | None = None
) -> dict[str, Counter[tuple[str, str]]]:
    """The edges the repo map and propagation rank over, of the ``graph`` kind (GraphKind); the
    ``imports`` kind reads the Python sources under ``root``."""
    if graph == "names":
        return name_edges(symbols, references)
    if graph == "imports" and root is not None:
        return import_edges(symbols, references, root)
    raise BadInputError(f"unknown reference graph {graph!r} (without a repository root?); use 'names' or 'imports'")
