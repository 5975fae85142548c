"""Drift: a team's diagram compared with the code. Each diagram node is matched to a module, class
or function; then nodes the code lacks, diagram edges the code does not have, and code edges
between shown nodes that the diagram lacks are reported, each with ``path:line`` evidence."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codemm.diagram.classes import class_graph
from codemm.diagram.graph import Graph
from codemm.diagram.modules import module_graph
from codemm.diagram.picture import looks_like_code
from codemm.diagram.read import read_diagram
from codemm.diagram.readers import DiagramSource
from codemm.diagram.source import Repo
from codemm.repo.index import RepoIndex

COMPATIBLE = {"inherits": {"inherits"}, "composes": {"composes"}, "uses": {"composes", "imports"},
              "imports": {"imports", "inherits", "composes"}}  # fmt: skip
"""A diagram edge's kind -> the code edges that make it true (a plain arrow between classes is met
by inheritance or composition)."""


@dataclass
class Finding:
    what: str
    """missing_node | extra_edge | missing_edge"""
    message: str
    evidence: str
    """path:line in the code (or in the diagram, for what the code lacks)"""
    source: str = ""
    target: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"what": self.what, "message": self.message, "evidence": self.evidence,
                "source": self.source, "target": self.target}  # fmt: skip


@dataclass
class DriftReport:
    diagram: str
    format: str
    matched: dict[str, str] = field(default_factory=dict)
    """diagram label -> code node id"""
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"diagram": self.diagram, "format": self.format, "matched": self.matched,
                "findings": [f.as_json() for f in self.findings], "notes": self.notes}  # fmt: skip


def check_diagram(index: RepoIndex, path: Path, scope: str = "") -> DriftReport:
    return compare(index, read_diagram(path), str(path), scope)


def compare(index: RepoIndex, diagram: DiagramSource, name: str, scope: str = "") -> DriftReport:
    repo = Repo.from_index(index, scope)
    modules = module_graph(repo)
    classes = class_graph(repo)
    functions = {s.name: s for s in index.symbols() if s.kind in ("function", "method") and s.path in repo.language}
    report = DriftReport(name, diagram.format, notes=list(diagram.notes))
    links = diagram.links
    class_votes = sum(1 for node, label in diagram.labels.items() if _match(label, classes, links.get(node)))
    module_votes = sum(1 for node, label in diagram.labels.items() if _match(label, modules, links.get(node)))
    code = classes if class_votes > module_votes else modules
    other = modules if code is classes else classes
    matched: dict[str, str] = {}
    for node_id, label in diagram.labels.items():
        link = links.get(node_id)
        found = _match(label, code, link) or _match(label, other, link)
        if found:
            matched[node_id] = found
            report.matched[label] = found
        elif label in functions:
            sym = functions[label]
            report.matched[label] = f"{sym.path}:{sym.start}"
        elif diagram.format != "picture" or looks_like_code(label):  # OCR also reads titles and legends
            report.findings.append(Finding("missing_node", f"{label!r} is in the diagram, not in the code",
                                           f"{name}:{diagram.lines.get(node_id, 0)}", label))  # fmt: skip
    drawn: dict[tuple[str, str], set[str]] = defaultdict(set)
    for edge in diagram.edges:
        a, b = matched.get(edge.source), matched.get(edge.target)
        if a and b:
            drawn[(a, b)].add(edge.kind)
    code_edges: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for graph in (modules, classes):
        for e in graph.edges:
            code_edges[(e.source, e.target)].append(e)
    for (a, b), kinds in drawn.items():
        have = {e.kind for e in code_edges.get((a, b), [])}
        if not any(have & COMPATIBLE.get(k, {k}) for k in kinds):
            label = "import" if code is modules else "/".join(sorted(kinds))
            report.findings.append(Finding("extra_edge", f"{a} -> {b} ({label}) is drawn; the code has no such edge",
                                           f"{_where(code, a)} (and {_where(code, b)})", a, b))  # fmt: skip
    shown = set(matched.values())
    if diagram.format == "picture":  # its edges were not read: none can be missing
        return report
    kinds = _kinds_of(code, {e.kind for e in diagram.edges})
    for (a, b), edges in sorted(code_edges.items()):
        of_kind = [e for e in edges if e.kind in kinds]
        if a in shown and b in shown and (a, b) not in drawn and of_kind:
            e = of_kind[0]
            report.findings.append(Finding("missing_edge", f"{a} -> {b} ({e.kind}) is in the code, not in the diagram",
                                           e.location, a, b))  # fmt: skip
    return report


def _kinds_of(graph: Graph, drawn: set[str]) -> set[str]:
    """The code edges a diagram is expected to show: a class diagram that draws only inheritance
    is not missing its compositions."""
    if graph.kind == "modules":
        return {"imports"}
    wanted = {"inherits"} if "inherits" in drawn else set()
    wanted |= {"composes"} if drawn & {"composes", "uses", "imports"} else set()
    return wanted or {"inherits", "composes"}


def _where(graph: Graph, node: str) -> str:
    found = graph.nodes.get(node)
    return found.location if found else node


def _match(label: str, graph: Graph, link: tuple[str, int] | None = None) -> str:
    """The code node a diagram label names: with a link (``path#Lline``), the node of that name in
    that file nearest the line; else its id, its path, or a unique short name."""
    label = label.strip().removesuffix("()")
    if not label:
        return ""
    if link is not None:
        path, line = link
        here = [n for n in graph.nodes.values() if n.path == path and label in (n.id, n.label, n.id.rpartition(".")[2])]
        return min(here, key=lambda n: abs(n.line - line)).id if here else ""
    if label in graph.nodes:
        return label
    dotted = label.replace("/", ".").removesuffix(".py").removesuffix(".__init__")
    if dotted in graph.nodes:
        return dotted
    for node in graph.nodes.values():
        if node.path and (node.path == label or node.label == label):
            return node.id
    short = [n.id for n in graph.nodes.values() if n.id.rpartition(".")[2] == label or n.id.endswith("." + dotted)]
    if len(short) == 1:
        return short[0]
    lower = [n.id for n in graph.nodes.values() if n.id.rpartition(".")[2].lower() == label.lower()]
    return lower[0] if len(lower) == 1 else ""
