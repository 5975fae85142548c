"""``codemm diagram calls`` against the code-intelligence suite's truth.

    python -m codemm.eval.bench.diagram_calls [--split dev|test|all]

For each function or method of the navigation suite (``eval/suites/navigation/symbols.jsonl``:
definitions and every use, from jedi, checked against the source and corrected by hand), the truth
callers are the functions (or modules, at module level) enclosing its uses that are calls, read with
Python's ``ast``; codemm's are the callers its ``calls`` diagram draws one level up. Precision and
recall of caller nodes, pooled over the symbols, per library; and the same for the diagram drawn
from bare names (every function that calls something of that name), the baseline a name-matching
call graph such as code2flow gives.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
from pathlib import Path
from typing import Any

from codemm.eval.navigation import SymbolCase, load_cases, sources
from codemm.eval.retrieval_hard import fetch_all

Node = tuple[str, int]
"""(path, line of the enclosing def; 0 at module level)"""


def enclosing(tree: ast.Module, line: int) -> int:
    """The line of the innermost function around ``line`` (0: module level)."""
    best, size = 0, None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno <= line <= (node.end_lineno or 0):
            span = (node.end_lineno or 0) - node.lineno
            if size is None or span < size:
                best, size = node.lineno, span
    return best


def truth_callers(case: SymbolCase, root: Path, trees: dict[str, ast.Module]) -> set[Node]:
    found = set()
    for ref in case.references:
        path, line, column = ref.rsplit(":", 2)
        text = (root / path).read_text(encoding="utf-8", errors="replace").splitlines()[int(line) - 1]
        after = text[int(column) - 1 + len(case.name) :]
        if not after.lstrip().startswith("("):
            continue  # a use that is not a call
        if path not in trees:
            trees[path] = ast.parse((root / path).read_bytes())
        found.add((path, enclosing(trees[path], int(line))))
    return found


def name_callers(case: SymbolCase, root: Path, trees: dict[str, ast.Module], files: list[str]) -> set[Node]:
    """Every function that calls anything named like the symbol: a name-matched call graph."""
    call = re.compile(rf"(?<![\w$]){re.escape(case.name)}\s*\(")
    found = set()
    for path in files:
        text = (root / path).read_text(encoding="utf-8", errors="replace")
        if case.name not in text:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if call.search(line) and not re.match(rf"\s*(async\s+)?def\s+{re.escape(case.name)}\b", line):
                if path not in trees:
                    trees[path] = ast.parse(text.encode())
                found.add((path, enclosing(trees[path], number)))
    return found


def codemm_callers(graph: Any, root_id: str) -> set[Node]:
    found = set()
    for edge in graph.edges:
        if edge.target == root_id:
            node = graph.nodes[edge.source]
            found.add((node.path, 0 if node.kind == "module" else node.line))
    return found


def score(found: int, truth: int, hit: int) -> dict[str, float]:
    return {"precision": round(hit / found, 3) if found else 1.0, "recall": round(hit / truth, 3) if truth else 1.0,
            "found": found, "truth": truth}  # fmt: skip


def main() -> None:
    from codemm.diagram import DiagramOptions, draw
    from codemm.intel.navigator import Navigator
    from codemm.repo.index import RepoIndex

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="all", choices=("dev", "test", "all"))
    args = parser.parse_args()
    symbols, _ = load_cases(args.split)
    roots = fetch_all({name: spec for name, spec in sources().items() if name in {s.library for s in symbols}})
    results: dict[str, Any] = {}
    for library in sorted(roots):
        root = roots[library]
        cases = [c for c in symbols if c.library == library]
        trees: dict[str, ast.Module] = {}
        files = [str(p.relative_to(root)) for p in root.rglob("*.py")]
        totals = {"codemm": [0, 0, 0], "names": [0, 0, 0]}
        with RepoIndex(root) as index:
            index.refresh(embed=False)
            nav = Navigator(index.root)
            for case in cases:
                path, line, column = case.definition.rsplit(":", 2)
                head = (root / path).read_text(encoding="utf-8", errors="replace").splitlines()[int(line) - 1]
                if not re.match(r"\s*(async\s+)?def\s", head):
                    continue  # a class or a variable: not something that is called into a call graph
                truth = truth_callers(case, root, trees)
                try:
                    graph = draw(index, "calls", f"{path}:{line}:{column}", DiagramOptions(depth=1, max_nodes=500),
                                 nav=nav)  # fmt: skip
                except Exception as exc:  # noqa: BLE001  (a bench: count it, say why, go on)
                    print(f"{case.id}: {exc}", flush=True)
                    graph = None
                ours = set()
                if graph is not None:
                    root_id = next(n.id for n in graph.nodes.values() if n.path == path and n.line == int(line))
                    ours = codemm_callers(graph, root_id)
                named = name_callers(case, root, trees, files)
                for key, found in (("codemm", ours), ("names", named)):
                    totals[key][0] += len(found)
                    totals[key][1] += len(truth)
                    totals[key][2] += len(found & truth)
            nav.close()
        results[library] = {k: score(*v) for k, v in totals.items()}
        print(library, json.dumps(results[library]), flush=True)


if __name__ == "__main__":
    main()
