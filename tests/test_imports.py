"""No import cycle among codemm's modules (issue 22).

Every import statement counts as an edge: at module level, inside a function (a lazy import) and
under ``if TYPE_CHECKING``. A lazy import breaks a circle at run time but not in the design: the two
modules still cannot be understood, tested or moved apart. The walk follows the links inside
codemm/ (adapters, tui, eval are top-level folders), as Python's import does.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]


def package_modules(root: Path, package: str) -> dict[str, Path]:
    """Module name -> file, for every module of ``package`` under ``root`` (links followed; a folder
    without ``__init__.py``, such as a suite's sample repository, is data, not a package)."""
    modules: dict[str, Path] = {}
    for folder, subfolders, files in os.walk(root / package, followlinks=True):
        here = Path(folder)
        if not (here / "__init__.py").is_file():
            subfolders[:] = []
            continue
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
        prefix = here.relative_to(root).parts
        for name in files:
            if name.endswith(".py"):
                stem = name[:-3]
                modules[".".join(prefix if stem == "__init__" else (*prefix, stem))] = here / name
    return modules


def imported_modules(module: str, path: Path, modules: dict[str, Path]) -> dict[str, int]:
    """The package's modules that ``module`` imports, each with the line of its first import."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: dict[str, int] = {}

    def add(name: str, line: int) -> None:
        while name and name not in modules:  # an attribute of a module: the module
            name = name.rpartition(".")[0]
        if name and name != module:
            found.setdefault(name, line)

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                # ``from pkg import sub`` imports the submodule; ``from mod import name``, the module
                add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base, node.lineno)
    return found


def import_graph(root: Path, package: str) -> nx.DiGraph:
    modules = package_modules(root, package)
    graph = nx.DiGraph()
    for module, path in modules.items():
        graph.add_node(module, path=path)
        for target, line in imported_modules(module, path, modules).items():
            graph.add_edge(module, target, line=line)
    return graph


def describe_cycles(graph: nx.DiGraph) -> list[str]:
    """Each circle as ``a (file:line) -> b (file:line) -> ... -> a``, so the message names where
    to cut."""
    out = []
    for found in nx.simple_cycles(graph):
        start = found.index(min(found))
        cycle = found[start:] + found[:start]
        steps = []
        for a, b in zip(cycle, [*cycle[1:], cycle[0]], strict=True):
            path = os.path.relpath(graph.nodes[a]["path"], ROOT)
            steps.append(f"{a} ({path}:{graph.edges[a, b]['line']})")
        out.append(" -> ".join([*steps, cycle[0]]))
    return sorted(out)


def test_no_import_cycle_among_codemm_modules() -> None:
    graph = import_graph(ROOT, "codemm")
    # The walk reaches the linked packages and the lazy imports (else it would pass by seeing less).
    assert {"codemm.tui.app", "codemm.eval.runner", "codemm.adapters.store", "codemm.models.factory"} <= set(graph)
    assert graph.has_edge("codemm.models.factory", "codemm.models.engine_llamacpp")  # a lazy import
    cycles = describe_cycles(graph)
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


def test_the_walk_finds_lazy_relative_and_type_checking_circles(tmp_path: Path) -> None:
    pkg = tmp_path / "toy"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "data").mkdir()  # no __init__.py: not a package, never walked
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from toy.b import thing\n")
    (pkg / "b.py").write_text("def thing():\n    from . import c\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import toy.a\n")
    (pkg / "sub" / "d.py").write_text("from ..a import x\nfrom toy.sub import e\n")
    (pkg / "sub" / "e.py").write_text("import os\n")
    (pkg / "data" / "f.py").write_text("import toy.sub.d\n")
    graph = import_graph(tmp_path, "toy")
    assert set(graph) == {"toy", "toy.a", "toy.b", "toy.c", "toy.sub", "toy.sub.d", "toy.sub.e"}
    assert set(graph.edges) == {("toy.a", "toy.b"), ("toy.b", "toy.c"), ("toy.c", "toy.a"),
                                ("toy.sub.d", "toy.a"), ("toy.sub.d", "toy.sub.e")}  # fmt: skip
    assert [sorted(c) for c in nx.simple_cycles(graph)] == [["toy.a", "toy.b", "toy.c"]]
