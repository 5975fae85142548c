"""``modules``: the import graph of a package or folder, every edge with the import line."""

from __future__ import annotations

from codemm.diagram.graph import Edge, Graph, Node, restrict, with_externals
from codemm.diagram.source import Repo


def module_graph(repo: Repo, target: str = "", depth: int = 0, externals: bool = False) -> Graph:
    """Modules under ``target`` and the repository modules within ``depth`` imports of them;
    with ``externals``, one node per outside package they import."""
    graph = Graph("modules")
    table = repo.table
    for node, path in table.path_of.items():
        package = node if path.endswith("__init__.py") else node.rpartition(".")[0]
        graph.add_node(Node(node, _label(node, path, repo.language[path]), "module", path, 1, group=package))
    outside: list[Edge] = []
    for path in sorted(repo.language):
        source = table.id_of[path]
        for imp in repo.imports(path):
            found, package = table.resolve(path, imp)
            for target_id in found:
                graph.add_edge(Edge(source, target_id, "imports", path, imp.line))
            if package:
                outside.append(Edge(source, package, "imports", path, imp.line))
    roots = repo.select(target)
    graph = restrict(graph, roots, depth)
    return with_externals(graph, outside) if externals else graph


def _label(node: str, path: str, language: str) -> str:
    if language == "go":  # a package: its folder
        return path.rpartition("/")[0] or "."
    return node if language == "python" else path
