"""Diagrams against their references, drift against the true differences, and the time to draw a
5k-module repository.

    python -m codemm.eval.bench.diagrams [--libs tornado,werkzeug,prompt_toolkit] [--skip-big]

For each library (pinned sdists, fetched and checked as eval/retrieval_hard.py does):

- ``modules`` edges against a script over ``ast`` imports (written here, independent of the
  tree-sitter code it checks) and against pyreverse's package diagram (pylint);
- ``classes`` inheritance edges against pyreverse's class diagram; composition against a script
  over ``ast`` for what the code states (``class_reference.py``), and against pyreverse, whose
  associations are the types astroid infers: each difference sorted by its reason there;
- drift: the Mermaid ``modules`` and ``classes`` diagrams of an older release checked against the
  newer release's code, the reported differences scored against the true ones (from the ast
  imports and pyreverse's inheritance of both releases);
- a generated repository of 5,000 Python modules in packages: ``modules`` clustered, timed, and
  its PNG written for a person to look at.
"""

from __future__ import annotations

import argparse
import ast
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from codemm.eval.bench.class_reference import composition, explain
from codemm.eval.retrieval_hard import Source, fetch_source

Pairs = set[tuple[str, str]]

LIBRARIES: dict[str, tuple[Source, Source, str]] = {
    "tornado": (
        Source("tornado", "tornado==6.5.2", "tornado-6.5.2.tar.gz",
               "ab53c8f9a0fa351e2c0741284e06c7a45da86afb544133201c5cc8578eb076a0", "tornado-6.5.2"),
        Source("tornado", "tornado==6.3.3", "tornado-6.3.3.tar.gz",
               "e7d8db41c0181c80d76c982aacc442c0783a2c54d6400fe028954201a2e032fe", "tornado-6.3.3"),
        "tornado",
    ),
    "werkzeug": (
        Source("werkzeug", "werkzeug==3.1.3", "werkzeug-3.1.3.tar.gz",
               "60723ce945c19328679790e3282cc758aa4a6040e4bb330f53d30fa546d44746", "werkzeug-3.1.3"),
        Source("werkzeug", "werkzeug==2.3.8", "werkzeug-2.3.8.tar.gz",
               "554b257c74bbeb7a0d254160a4f8ffe185243f52a52035060b761ca62d977f03", "werkzeug-2.3.8"),
        "src/werkzeug",
    ),
    "prompt_toolkit": (
        Source("prompt_toolkit", "prompt_toolkit==3.0.52", "prompt_toolkit-3.0.52.tar.gz",
               "28cde192929c8e7321de85de1ddbe736f1375148b02f2e17edd840042b1be855", "prompt_toolkit-3.0.52"),
        Source("prompt_toolkit", "prompt_toolkit==3.0.36", "prompt_toolkit-3.0.36.tar.gz",
               "3e163f254bef5a03b146397d7c1963bd3e2812f0964bb9a24e6ec761fd28db63", "prompt_toolkit-3.0.36"),
        "src/prompt_toolkit",
    ),
}  # fmt: skip


# -- references -------------------------------------------------------------------------------------


def ast_modules(package: Path) -> tuple[set[str], Pairs]:
    """Module names and import edges of ``package``, by Python's own parser: ``import a.b`` names
    a.b (its longest prefix that is a module), ``from a import b`` names a.b when it is a module,
    else a; relative imports are resolved against the importing module's package."""
    names: dict[str, Path] = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    edges: Pairs = set()
    for module, path in names.items():
        is_package = path.name == "__init__.py"
        try:
            tree = ast.parse(path.read_bytes())
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [_longest(a.name, names) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    here = module if is_package else module.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        here = here.rpartition(".")[0]
                    base = f"{here}.{base}" if base else here
                targets = []
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in names else _longest(base, names))
            else:
                continue
            edges |= {(module, t) for t in targets if t and t != module}
    return set(names), edges


def _longest(dotted: str, names: dict[str, Path]) -> str:
    while dotted and dotted not in names:
        dotted = dotted.rpartition(".")[0]
    return dotted


def pyreverse(package: Path, work: Path) -> dict[str, Pairs]:
    """pyreverse's edges: package imports, inheritance, and its associations (attribute types)."""
    name = package.name
    # -f ALL: private attributes too (pyreverse's default hides `self._x`, codemm draws what the code holds)
    subprocess.run([sys.executable, "-m", "pylint.pyreverse.main", "-o", "dot", "-f", "ALL", "-p", name, str(package)],
                   cwd=work, capture_output=True, timeout=900, check=True)  # fmt: skip
    found: dict[str, Pairs] = {"imports": set(), "inherits": set(), "composes": set()}
    edge = re.compile(r'^"([^"]+)" -> "([^"]+)" \[arrowhead="(\w+)"')
    for kind, file in (("imports", f"packages_{name}.dot"), ("classes", f"classes_{name}.dot")):
        for line in (work / file).read_text().splitlines():
            m = edge.match(line)
            if not m:
                continue
            a, b, head = m.groups()
            key = "imports" if kind == "imports" else "inherits" if head == "empty" else "composes"
            found[key].add((b, a) if "diamond" in head else (a, b))  # a diamond: part -> owner; a vee: owner -> part
    return found


# -- codemm ---------------------------------------------------------------------------------------


def codemm_edges(root: Path, package: str) -> dict[str, Any]:
    from codemm.diagram.classes import class_graph
    from codemm.diagram.modules import module_graph
    from codemm.diagram.source import Repo
    from codemm.repo.index import RepoIndex

    with RepoIndex(root) as index:
        index.refresh(embed=False)
        started = time.perf_counter()
        repo = Repo.from_index(index, package + "/*.py")
        modules = module_graph(repo)
        classes = class_graph(repo)
        seconds = time.perf_counter() - started
    return {"modules": modules, "classes": classes, "seconds": seconds,
            "imports": modules.edge_set(), "inherits": {(e.source, e.target) for e in classes.edges
                                                        if e.kind == "inherits"},
            "composes": {(e.source, e.target) for e in classes.edges if e.kind == "composes"}}  # fmt: skip


def score(found: set[Any], truth: set[Any]) -> dict[str, Any]:
    hit = len(found & truth)
    return {"precision": round(hit / len(found), 4) if found else 1.0,
            "recall": round(hit / len(truth), 4) if truth else 1.0, "found": len(found), "truth": len(truth),
            "extra": sorted(found - truth)[:8], "missed": sorted(truth - found)[:8]}  # fmt: skip


def explain_pyreverse(ours: Pairs, pyrev: Pairs, ast_edges: Pairs, graph: Any) -> dict[str, Any]:
    """Why pyreverse's package diagram and codemm's modules differ, edge by edge: pyreverse draws
    self-loops, and an edge to a package whenever a submodule of it is imported (Python runs the
    package's __init__ first: a load order, not a dependency a reader asked about); codemm draws
    imports pyreverse's resolver misses (shown with the import's line, and in the ``ast`` truth)."""
    targets: dict[str, set[str]] = {}
    for a, b in ast_edges:
        targets.setdefault(a, set()).add(b)
    missed: dict[str, list[Any]] = {"self_loop": [], "package_of_an_imported_submodule": [],
                                    "relative_import_resolved_at_another_level": [], "unexplained": []}  # fmt: skip
    for a, b in sorted(pyrev - ours):
        name = b.rpartition(".")[2]
        if a == b:
            key = "self_loop"
        elif any(t.startswith(b + ".") for t in targets.get(a, ())):
            key = "package_of_an_imported_submodule"
        elif any(t != b and t.rpartition(".")[2] == name for t in targets.get(a, ())):
            key = "relative_import_resolved_at_another_level"  # `from .x import` taken as the parent's x
        else:
            key = "unexplained"
        missed[key].append((a, b))
    evidence = {(e.source, e.target): e.location for e in graph.edges}
    extra: dict[str, list[Any]] = {"an_import_in_the_source": [], "unexplained": []}
    for a, b in sorted(ours - pyrev):
        key = "an_import_in_the_source" if (a, b) in ast_edges else "unexplained"
        extra[key].append((a, b, evidence.get((a, b), "")))
    return {"pyreverse_only": {k: len(v) for k, v in missed.items()},
            "codemm_only": {k: len(v) for k, v in extra.items()},
            "examples": {"pyreverse_only": {k: v[:3] for k, v in missed.items()},
                         "codemm_only": {k: v[:3] for k, v in extra.items()}}}  # fmt: skip


# -- drift ----------------------------------------------------------------------------------------


def drift(old_root: Path, new_root: Path, package: str, old: dict[str, Any], truth_old: Pairs, truth_new: Pairs,
          old_nodes: set[str], new_nodes: set[str], kind: str) -> dict[str, Any]:  # fmt: skip
    """The old release's diagram (Mermaid, every node) checked against the new code; the reported
    differences against the true ones."""
    from codemm.diagram.check import compare
    from codemm.diagram.formats import to_mermaid
    from codemm.diagram.readers import parse_diagram
    from codemm.repo.index import RepoIndex

    graph = old[kind]
    if kind == "classes":  # the truth is pyreverse's inheritance: an inheritance diagram
        graph.edges = [e for e in graph.edges if e.kind == "inherits"]
    with RepoIndex(new_root) as index:
        index.refresh(embed=False)
        report = compare(index, parse_diagram(to_mermaid(graph), ".mmd"), "old.mmd", package + "/*.py")
    shown = set(graph.nodes)
    found_nodes = {f.source for f in report.findings if f.what == "missing_node"}
    found_extra = {(f.source, f.target) for f in report.findings if f.what == "extra_edge"}
    found_missing = {(f.source, f.target) for f in report.findings if f.what == "missing_edge"}
    both = shown & new_nodes
    true_nodes = {graph.nodes[n].label for n in shown - new_nodes}
    true_extra = {(a, b) for a, b in truth_old - truth_new if a in both and b in both}
    true_missing = {(a, b) for a, b in truth_new - truth_old if a in both and b in both}
    reported = {("node", n) for n in found_nodes} | {("extra", *e) for e in found_extra} | {
        ("missing", *e) for e in found_missing}  # fmt: skip
    truth = {("node", n) for n in true_nodes} | {("extra", *e) for e in true_extra} | {
        ("missing", *e) for e in true_missing}  # fmt: skip
    result = {**score(reported, truth), "kinds": {"nodes": len(true_nodes), "extra_edges": len(true_extra),
                                                  "missing_edges": len(true_missing)}}  # fmt: skip
    if kind == "modules":  # a class picture labels classes by short names, which repeat across a library
        result["from_png"] = picture_nodes(graph, new_root, package, both)
    return result


def picture_nodes(graph: Any, new_root: Path, package: str, both: set[str]) -> dict[str, Any]:
    """The same diagram as a PNG: how many of its nodes that still exist OCR and matching find
    (the right code node), and how many matches are wrong. Edges are not read from pictures."""
    from codemm.diagram.check import compare
    from codemm.diagram.formats import render
    from codemm.diagram.picture import read_picture
    from codemm.repo.index import RepoIndex

    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "old.png"
        png.write_bytes(render(graph, "png"))
        started = time.perf_counter()
        source = read_picture(png)
        ocr_seconds = time.perf_counter() - started
    with RepoIndex(new_root) as index:
        report = compare(index, source, "old.png", package + "/*.py")
    found = set(report.matched.values()) & set(graph.nodes)
    return {"nodes_shown": len(both), "matched_right": len(found & both),
            "node_recall": round(len(found & both) / len(both), 4) if both else 1.0,
            "wrong_matches": len(set(report.matched.values()) - set(graph.nodes)),
            "ocr_seconds": round(ocr_seconds, 1), "edges": "not read from pictures"}  # fmt: skip


# -- a big repository -----------------------------------------------------------------------------


def generate_packages(out: Path, modules: int = 5000, seed: int = 0) -> None:
    """``modules`` Python modules in 50 packages of 10 subpackages, layered as applications are
    (5 layers of 10 packages): each imports two modules of its own package and one module of a
    package in the layer below."""
    rng = random.Random(seed)
    names = [f"app.p{i // 100:02d}.s{i // 10 % 10}.m{i % 10}" for i in range(modules)]
    for name in names:
        parts = name.split(".")
        for depth in range(1, len(parts)):
            init = out.joinpath(*parts[:depth], "__init__.py")
            if not init.exists():
                init.parent.mkdir(parents=True, exist_ok=True)
                init.write_text("")
    for i, name in enumerate(names):
        near = [n for n in names[(i // 100) * 100 : (i // 100) * 100 + 100] if n != name]
        layer = i // 1000
        below = rng.randrange((layer - 1) * 1000, layer * 1000) if layer else -1
        picks = rng.sample(near, 2) + ([names[below]] if below >= 0 else [])
        body = "".join(f"import {p}\n" for p in picks) + f"\n\ndef f{i}():\n    return {i}\n"
        out.joinpath(*name.split(".")).with_suffix(".py").write_text(body)


def big_repo(work: Path) -> dict[str, Any]:
    from codemm.diagram import DiagramOptions, draw
    from codemm.diagram.formats import render, to_mermaid
    from codemm.repo.index import RepoIndex

    root = work / "big"
    generate_packages(root)
    with RepoIndex(root) as index:
        started = time.perf_counter()
        index.refresh(embed=False)
        indexed = time.perf_counter() - started
        started = time.perf_counter()
        graph = draw(index, "modules", "", DiagramOptions(max_nodes=60))
        mermaid = to_mermaid(graph)
        png = render(graph, "png")
        seconds = time.perf_counter() - started
    from codemm.paths import cache_dir

    out = cache_dir() / "bench" / "diagrams-5k.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(png)
    return {"modules": 5000, "index_seconds": round(indexed, 2), "draw_and_render_seconds": round(seconds, 2),
            "drawn_nodes": len(graph.nodes), "drawn_edges": len(graph.edges), "mermaid_bytes": len(mermaid),
            "png": str(out), "notes": graph.notes}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--libs", default=",".join(LIBRARIES))
    parser.add_argument("--skip-big", action="store_true")
    args = parser.parse_args()
    import json

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in args.libs.split(","):
            new_source, old_source, package = LIBRARIES[name]
            roots = {"new": fetch_source(new_source), "old": fetch_source(old_source)}
            ours, refs, ast_refs = {}, {}, {}
            for version, root in roots.items():
                (work / name / version).mkdir(parents=True)
                ours[version] = codemm_edges(root, package)
                refs[version] = pyreverse(root / package, work / name / version)
                ast_refs[version] = ast_modules(root / package)
            new = ours["new"]
            results[name] = {
                "modules_vs_ast": score(new["imports"], ast_refs["new"][1]),
                "modules_vs_pyreverse": score(new["imports"], refs["new"]["imports"]),
                "modules_pyreverse_differences": explain_pyreverse(new["imports"], refs["new"]["imports"],
                                                                   ast_refs["new"][1], new["modules"]),
                "classes_inherits_vs_pyreverse": score(new["inherits"], refs["new"]["inherits"]),
                "classes_composes_vs_ast": score(new["composes"], composition(roots["new"] / package)),
                "classes_composes_vs_pyreverse": score(new["composes"], refs["new"]["composes"]),
                "classes_composes_pyreverse_differences": explain(
                    new["composes"], refs["new"]["composes"], composition(roots["new"] / package),
                    roots["new"] / package, refs["new"]["inherits"]),
                "draw_seconds": round(new["seconds"], 2),
                "drift_modules": drift(roots["old"], roots["new"], package, ours["old"], ast_refs["old"][1],
                                       ast_refs["new"][1], ast_refs["old"][0], ast_refs["new"][0], "modules"),
                "drift_classes": drift(roots["old"], roots["new"], package, ours["old"], refs["old"]["inherits"],
                                       refs["new"]["inherits"], set(ours["old"]["classes"].nodes),
                                       set(ours["new"]["classes"].nodes), "classes"),
            }  # fmt: skip
            print(name, json.dumps(results[name], indent=1), flush=True)
        if not args.skip_big:
            results["big"] = big_repo(work)
            print("big", json.dumps(results["big"], indent=1), flush=True)


if __name__ == "__main__":
    main()
