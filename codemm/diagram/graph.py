"""The graph every diagram kind builds and every format writes: nodes that point at ``path:line``,
edges with the line that makes them, cycles, and clustering when a graph is too big to read."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

EDGES_PER_NODE = 4
"""A clustered diagram draws at most this many edges per node on average: past that it is a hairball."""


@dataclass
class Node:
    id: str
    """A dotted name: ``pkg.mod`` for a module, ``pkg.mod.Class`` for a class."""
    label: str
    kind: str
    """module | class | package | external | function"""
    path: str = ""
    line: int = 0
    group: str = ""
    """The package the node is drawn inside when the diagram is clustered."""
    members: list[str] = field(default_factory=list)

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.path else ""

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "label": self.label, "kind": self.kind, "location": self.location}
        if self.members:
            data["members"] = self.members
        return data


@dataclass
class Edge:
    source: str
    target: str
    kind: str
    """imports | inherits | composes | calls"""
    path: str = ""
    line: int = 0
    in_cycle: bool = False
    weight: int = 1
    """Clustered: how many edges between the two groups this one stands for."""

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.path else ""

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "kind": self.kind, "location": self.location,
                **({"cycle": True} if self.in_cycle else {})}  # fmt: skip


@dataclass
class Graph:
    kind: str
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    clustered: bool = False
    _seen: dict[tuple[str, str, str], Edge] = field(default_factory=dict, repr=False)

    def add_node(self, node: Node) -> Node:
        return self.nodes.setdefault(node.id, node)

    def add_edge(self, edge: Edge, count: bool = False) -> None:
        """One edge per (source, target, kind): the first line that makes it is its evidence;
        ``count`` adds the others to its weight (a clustered diagram's edge stands for many)."""
        if edge.source == edge.target:
            return
        if len(self._seen) != len(self.edges):  # edges were set directly (restrict, cluster)
            self._seen = {(e.source, e.target, e.kind): e for e in self.edges}
        key = (edge.source, edge.target, edge.kind)
        if key in self._seen:
            self._seen[key].weight += edge.weight if count else 0
            return
        self._seen[key] = edge
        self.edges.append(edge)

    def edge_set(self) -> set[tuple[str, str]]:
        return {(e.source, e.target) for e in self.edges}

    def as_json(self) -> dict[str, Any]:
        cycles = mark_cycles(self)
        return {"kind": self.kind, "nodes": [n.as_json() for n in self.nodes.values()],
                "edges": [e.as_json() for e in self.edges], "cycles": cycles, "clustered": self.clustered,
                "notes": self.notes}  # fmt: skip


def mark_cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan, iterative); their inner
    edges get ``in_cycle``. Import cycles are what a module diagram is most often drawn to find."""
    succ: dict[str, list[str]] = defaultdict(list)
    for e in graph.edges:
        succ[e.source].append(e.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in list(graph.nodes):
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            nexts = succ.get(node, [])
            if i < len(nexts):
                work.append((node, i + 1))
                nxt = nexts[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    members = {n: i for i, comp in enumerate(components) for n in comp}
    for e in graph.edges:
        e.in_cycle = e.source in members and members.get(e.source) == members.get(e.target)
    return components


def restrict(graph: Graph, roots: set[str], depth: int) -> Graph:
    """The part of ``graph`` within ``depth`` edges (either direction) of ``roots``."""
    near: dict[str, list[str]] = defaultdict(list)
    for e in graph.edges:
        near[e.source].append(e.target)
        near[e.target].append(e.source)
    keep = set(roots)
    frontier = set(roots)
    for _ in range(depth):
        frontier = {m for n in frontier for m in near[n]} - keep
        keep |= frontier
    out = Graph(graph.kind, notes=list(graph.notes))
    out.nodes = {k: v for k, v in graph.nodes.items() if k in keep}
    out.edges = [e for e in graph.edges if e.source in keep and e.target in keep]
    return out


def cluster(graph: Graph, max_nodes: int) -> Graph:
    """A graph over ``max_nodes`` nodes drawn by package instead: each node's group (its package,
    cut one level shorter until the groups fit) becomes one node, edges between groups are kept
    once with the first line that makes them. Under the limit the nodes keep their groups, which the
    writers draw as subgraphs."""
    for node in graph.nodes.values():
        node.group = node.group or _package(node.id, node.kind)
    inside = [n for n in graph.nodes.values() if n.kind != "external"]  # outside packages are one node each already
    if len(inside) <= max_nodes:
        return graph
    level = max((n.id.count(".") for n in inside), default=0)
    while True:
        groups = {n.id: _prefix(n, level) for n in graph.nodes.values()}
        if len({groups[n.id] for n in inside}) <= max_nodes or level <= 1:
            break
        level -= 1
    out = Graph(graph.kind, notes=list(graph.notes), clustered=True)
    for node in graph.nodes.values():
        group = groups[node.id]
        first = out.nodes.get(group)
        if first is None:
            kind = "external" if node.kind == "external" else "package"
            out.add_node(Node(group, group, kind, node.path, node.line, group=_package(group, "package")))
            out.nodes[group].members = []
        out.nodes[group].members.append(node.id)
    for e in graph.edges:
        out.add_edge(Edge(groups[e.source], groups[e.target], e.kind, e.path, e.line), count=True)
    _keep_strongest(out, max_nodes * EDGES_PER_NODE)
    for node in out.nodes.values():
        count = len(node.members)
        node.label = f"{node.id} ({count})" if count > 1 else node.id
        node.members = node.members if count <= 20 else [*node.members[:20], f"… {count - 20} more"]
    out.notes.append(f"{len(inside)} modules are over the limit of {max_nodes}: drawn by package")
    return out


def _keep_strongest(graph: Graph, limit: int) -> None:
    """Over ``limit`` edges between packages, each package keeps its strongest few (by how many
    imports each stands for); the rest are counted in a note, never silently dropped."""
    if len(graph.edges) <= limit:
        return
    per_node = max(1, limit // max(1, len(graph.nodes)))
    ranked = sorted(graph.edges, key=lambda e: -e.weight)
    kept: list[Edge] = []
    count: dict[str, int] = defaultdict(int)
    for e in ranked:
        if count[e.source] < per_node or e.in_cycle:
            kept.append(e)
            count[e.source] += 1
    graph.notes.append(f"{len(graph.edges) - len(kept)} weaker edges between packages are not drawn "
                       f"(each package keeps its {per_node} strongest)")  # fmt: skip
    graph.edges = kept


def _package(node_id: str, kind: str) -> str:
    return node_id.rpartition(".")[0] if kind != "package" else node_id.rpartition(".")[0]


def _prefix(node: Node, level: int) -> str:
    if node.kind == "external":
        return node.id
    parts = node.id.split(".")
    return ".".join(parts[: max(1, min(len(parts), level))])


def with_externals(graph: Graph, outside: list[Edge]) -> Graph:
    """``graph`` with the edges that leave the repository from its nodes, one node per outside package."""
    for edge in outside:
        if edge.source in graph.nodes:
            graph.add_node(Node(edge.target, edge.target, "external"))
            graph.add_edge(edge)
    return graph
