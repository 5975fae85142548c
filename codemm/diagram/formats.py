"""A graph as Mermaid or DOT text, and as SVG/PNG rendered by Graphviz's ``dot``.

Every node links back to its code: Mermaid by a ``click`` line whose tooltip is ``path:line``,
DOT by ``tooltip`` and ``URL`` (which Graphviz keeps in the SVG). Edges in an import cycle are red.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import defaultdict

from codemm.diagram.graph import Edge, Graph, Node, mark_cycles
from codemm.errors import CodemmError

FORMATS = ("mermaid", "dot", "svg", "png")
RENDER_TIMEOUT_S = 120
WIDE_NODES = 25
CLASS_ARROWS = {"inherits": "--|>", "composes": "*--", "imports": "..>", "calls": "..>"}
DOT_STYLE = {
    "inherits": 'arrowhead="empty"',
    "composes": 'dir="both", arrowtail="diamond", arrowhead="none"',
    "imports": "",
    "calls": "",
}  # the diamond on the owner, as UML draws it


def to_mermaid(graph: Graph) -> str:
    mark_cycles(graph)
    ids = _short_ids(graph)
    if graph.kind == "classes":
        return _mermaid_classes(graph, ids)
    lines = ["flowchart LR"]
    by_group = _groups(graph)
    for group, nodes in by_group.items():
        indent = "  "
        if group:
            lines.append(f'  subgraph {_safe(group)}["{_quote(group)}"]')
            indent = "    "
        for node in nodes:
            shape = ('(["', '"])') if node.kind == "external" else ('["', '"]')
            lines.append(f"{indent}{ids[node.id]}{shape[0]}{_quote(node.label)}{shape[1]}")
        if group:
            lines.append("  end")
    cycle_edges = []
    for i, edge in enumerate(graph.edges):
        count = f"|{edge.weight}|" if edge.weight > 1 else ""
        lines.append(f"  {ids[edge.source]} -->{count} {ids[edge.target]}")
        if edge.in_cycle:
            cycle_edges.append(str(i))
    if cycle_edges:
        lines.append(f"  linkStyle {','.join(cycle_edges)} stroke:red")
    lines += _mermaid_clicks(graph, ids)
    return "\n".join(lines) + "\n"


def _mermaid_classes(graph: Graph, ids: dict[str, str]) -> str:
    lines = ["classDiagram"]
    for node in graph.nodes.values():
        if node.members:
            lines.append(f'  class {ids[node.id]}["{_quote(node.label)}"] {{')
            lines += [f"    {_quote(m)}" for m in node.members]
            lines.append("  }")
        else:
            lines.append(f'  class {ids[node.id]}["{_quote(node.label)}"]')
    for edge in graph.edges:  # `Owner *-- Part`, `Child --|> Base`: the source is on the left
        lines.append(f"  {ids[edge.source]} {CLASS_ARROWS[edge.kind]} {ids[edge.target]}")
    lines += _mermaid_clicks(graph, ids)
    return "\n".join(lines) + "\n"


def _mermaid_clicks(graph: Graph, ids: dict[str, str]) -> list[str]:
    return [f'  click {ids[n.id]} href "{n.path}#L{n.line}" "{n.location}"' for n in graph.nodes.values() if n.path]


def to_dot(graph: Graph) -> str:
    mark_cycles(graph)
    ids = _short_ids(graph)
    # Many nodes: top to bottom, edges merged where they run together, so the picture stays near
    # a page's proportions instead of one very long row.
    layout = "rankdir=LR;" if len(graph.nodes) <= WIDE_NODES else "rankdir=TB; concentrate=true; ranksep=0.35;"
    lines = [f'digraph "{graph.kind}" {{', f"  {layout}", '  node [shape=box, fontname="Helvetica", fontsize=11];']
    for n, (group, nodes) in enumerate(_groups(graph).items()):
        indent = "  "
        if group:
            lines.append(f'  subgraph cluster_{n} {{\n    label="{_quote(group)}";')
            indent = "    "
        for node in nodes:
            attrs = [f'label="{_dot_label(node)}"']
            if node.kind == "external":
                attrs.append("style=dashed")
            if node.path:
                attrs += [f'tooltip="{node.location}"', f'URL="{node.path}#L{node.line}"']
            lines.append(f"{indent}{ids[node.id]} [{', '.join(attrs)}];")
        if group:
            lines.append("  }")
    for edge in graph.edges:
        attrs = [a for a in (DOT_STYLE[edge.kind], 'color="red"' if edge.in_cycle else "") if a]
        if edge.weight > 1:
            attrs += [f'label="{edge.weight}"', f"penwidth={min(1 + edge.weight / 10, 6):.1f}"]
        if edge.path:
            attrs.append(f'tooltip="{edge.location}"')
        lines.append(f"  {ids[edge.source]} -> {ids[edge.target]} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_label(node: Node) -> str:
    """The label, and a class's members one per line (a package's modules stay in the JSON)."""
    if not node.members or node.kind != "class":
        return _quote(node.label)
    return _quote(node.label) + "\\n" + "\\l".join(_quote(m) for m in node.members) + "\\l"


def render(graph_or_dot: Graph | str, fmt: str) -> bytes:
    """SVG or PNG bytes from Graphviz; a one-line error when it is not installed."""
    dot = shutil.which("dot")
    if dot is None:
        raise CodemmError(f"no renderer for {fmt}: install Graphviz (apt-get install graphviz), "
                          "or use --format mermaid or dot")  # fmt: skip
    text = graph_or_dot if isinstance(graph_or_dot, str) else to_dot(graph_or_dot)
    try:
        done = subprocess.run([dot, f"-T{fmt}"], input=text.encode(), capture_output=True, timeout=RENDER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise CodemmError(f"Graphviz took over {RENDER_TIMEOUT_S} s; draw less (a target, scope, max_nodes)") from None
    if done.returncode != 0:
        last = (done.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise CodemmError(f"Graphviz failed: {last}")
    return done.stdout


def write(graph: Graph, fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise CodemmError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "mermaid":
        return to_mermaid(graph).encode()
    if fmt == "dot":
        return to_dot(graph).encode()
    return render(graph, fmt)


def _groups(graph: Graph) -> dict[str, list[Node]]:
    """Nodes by group; no subgraphs when there is only one group (nothing to separate)."""
    groups: dict[str, list[Node]] = defaultdict(list)
    for node in graph.nodes.values():
        groups[node.group if node.kind != "external" else ""].append(node)
    if len(groups) == 1:
        return {"": list(graph.nodes.values())}
    return dict(sorted(groups.items()))


def _short_ids(graph: Graph) -> dict[str, str]:
    return {node: f"n{i}" for i, node in enumerate(graph.nodes)}


def _safe(text: str) -> str:
    return "g_" + re.sub(r"\W", "_", text)


def _quote(text: str) -> str:
    return text.replace("\\", "/").replace('"', "'")


__all__ = ["FORMATS", "Edge", "render", "to_dot", "to_mermaid", "write"]
