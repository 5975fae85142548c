"""``calls SYMBOL``: who calls a function and what it calls, to a depth, from code intelligence's
call hierarchy (Python: jedi resolves each call to its definition; other languages: their language
server where one is on PATH, else the syntactic tier), never from names alone.

Callers are followed up and callees down from the symbol, as an editor's call hierarchy does: a
caller's own callees are not drawn (that would be the whole program).
"""

from __future__ import annotations

from collections import deque
from pathlib import PurePosixPath

from codemm.diagram.graph import Edge, Graph, Node
from codemm.diagram.source import Repo
from codemm.intel.navigator import Navigator
from codemm.intel.results import Location

UP, DOWN = "callers", "callees"


def call_graph(nav: Navigator, repo: Repo, symbol: str, depth: int = 1, externals: bool = False,
               max_nodes: int = 60) -> Graph:  # fmt: skip
    """The symbol, its callers up to ``depth`` levels and its callees down to ``depth``; with
    ``externals``, callees outside the repository (the standard library, packages) as one node each."""
    graph = Graph("calls")
    first = nav.callers(symbol)
    root = first.definition
    start = _add(graph, repo, root)
    answers = {(f"{root.path}:{root.line}:{root.column}", UP): first.callers}  # asked already
    queue: deque[tuple[Location, str, int]] = deque([(root, UP, 0), (root, DOWN, 0)])
    expanded: set[tuple[str, str]] = set()
    tiers = {root.tier}
    stopped = False
    while queue:
        loc, direction, level = queue.popleft()
        node = _node_id(repo, loc)
        if level >= depth or (node, direction) in expanded or loc.kind == "module":
            continue
        expanded.add((node, direction))
        where = f"{loc.path}:{loc.line}:{loc.column}"
        if (where, direction) not in answers:
            answers[where, direction] = nav.callers(where).callers if direction == UP else nav.callees(where).callees
        calls = answers[where, direction]
        for call in calls:
            other = call.symbol
            inside = _inside(repo, other)
            if not inside and not (externals and direction == DOWN):
                continue
            other_id = _node_id(repo, other) if inside else f"external.{_external_label(other)}"
            if other_id not in graph.nodes:
                if len(graph.nodes) >= max_nodes:
                    stopped = True
                    continue
                if inside:
                    _add(graph, repo, other)
                else:
                    graph.add_node(Node(other_id, _external_label(other), "external"))
            tiers.add(call.site.tier)
            source, target = (other_id, node) if direction == UP else (node, other_id)
            graph.add_edge(Edge(source, target, "calls", call.site.path, call.site.line))
            if inside:
                queue.append((other, direction, level + 1))
    graph.notes.append(f"calls of {start.label} ({root.path}:{root.line}), {depth} level(s) each way; "
                       f"tiers: {', '.join(sorted(tiers))}")  # fmt: skip
    if stopped:
        graph.notes.append(f"stopped at {max_nodes} functions (max_nodes): draw less depth, or raise it")
    return graph


def _inside(repo: Repo, loc: Location) -> bool:
    return not PurePosixPath(loc.path).is_absolute() and loc.path in repo.language


def _external_label(loc: Location) -> str:
    """``builtins.isinstance``, ``json.loads``: the outside module's name (its file's), then the name."""
    module = PurePosixPath(loc.path).stem if loc.path else ""
    return f"{module}.{loc.name}" if module and module != "__init__" else loc.name


def _node_id(repo: Repo, loc: Location) -> str:
    module = repo.table.id_of.get(loc.path, loc.path)
    if loc.kind == "module":
        return module
    return f"{module}.{loc.symbol}.{loc.name}" if loc.symbol else f"{module}.{loc.name}"


def _add(graph: Graph, repo: Repo, loc: Location) -> Node:
    node_id = _node_id(repo, loc)
    module = repo.table.id_of.get(loc.path, loc.path)
    label = module if loc.kind == "module" else (f"{loc.symbol}.{loc.name}" if loc.symbol else loc.name)
    kind = loc.kind if loc.kind in ("module", "class") else "function"
    return graph.add_node(Node(node_id, label, kind, loc.path, loc.line, group=module))
