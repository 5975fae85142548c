"""Nodes and edges read exactly from a diagram's source: Mermaid (flowchart, classDiagram),
PlantUML, DOT, draw.io XML and SVG (Graphviz's, with its edges; any other SVG gives its text
labels as nodes and says its edges could not be read)."""

from __future__ import annotations

import base64
import html
import re
import urllib.parse
import zlib
from dataclasses import dataclass, field
from xml.etree import ElementTree

from codemm.errors import BadInputError

MAX_DIAGRAM_BYTES = 4 * 1024 * 1024


@dataclass
class DiagramEdge:
    source: str
    target: str
    kind: str
    """imports (a plain arrow) | inherits | composes"""
    line: int


@dataclass
class DiagramSource:
    format: str
    labels: dict[str, str] = field(default_factory=dict)
    """node id -> label"""
    lines: dict[str, int] = field(default_factory=dict)
    """node id -> the line it is first written on"""
    edges: list[DiagramEdge] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    links: dict[str, tuple[str, int]] = field(default_factory=dict)
    """node id -> (path, line) its link points at (codemm's own diagrams link every node)"""

    def link(self, node_id: str, href: str) -> None:
        path, _, anchor = href.partition("#L")
        if path and "://" not in path:
            self.links[node_id.strip()] = (path, int(anchor) if anchor.isdigit() else 0)

    def node(self, node_id: str, label: str = "", line: int = 0) -> str:
        node_id = node_id.strip()
        if label or node_id not in self.labels:
            self.labels[node_id] = _clean(label) or self.labels.get(node_id) or node_id
        self.lines.setdefault(node_id, line)
        return node_id


def parse_diagram(text: str, suffix: str = "") -> DiagramSource:
    head = text.lstrip()[:2000]
    if suffix in (".drawio", ".xml") or "<mxfile" in head or "<mxGraphModel" in head:
        return _drawio(text)
    if suffix == ".svg" or head.startswith("<?xml") and "<svg" in text[:5000] or head.startswith("<svg"):
        return _svg(text)
    if suffix in (".puml", ".plantuml", ".pu") or "@startuml" in head:
        return _plantuml(text)
    if suffix in (".dot", ".gv") or re.match(r"(strict\s+)?(di)?graph\b", head):
        return _dot(text)
    if suffix in (".mmd", ".mermaid", ".md") or re.search(r"^\s*(flowchart|graph|classDiagram)\b", text, re.M):
        return _mermaid(text)
    raise BadInputError("not a diagram source this reads (Mermaid, PlantUML, DOT, draw.io, SVG)")


# -- Mermaid ---------------------------------------------------------------------------------------

_MERMAID_SHAPE = re.compile(
    r"^([\w.:$-]+)\s*(\[\[|\[\(|\(\[|\(\(|\[/|\[\\|\[|\(|\{\{|\{|>)(.*?)(\]\]|\)\]|\]\)|\)\)|/\]|\\\]|\]|\)|\}\}|\})$"
)
_FLOW_ARROW = re.compile(r"\s*(?:<?(?:-{2,}|={2,}|-\.+-?)[>ox]?|~~~)(?:\|[^|]*\|)?\s*|\s+--\s[^->]*?-->\s*")
_CLASS_RELATION = re.compile(
    r'^([\w.:$`-]+)\s*(?:"[^"]*"\s*)?(<\|--|--\|>|<\|\.\.|\.\.\|>|\*--|--\*|o--|--o|-->|<--|\.\.>|<\.\.|--|\.\.)'
    r'\s*(?:"[^"]*"\s*)?([\w.:$`-]+)'
)
_RELATION_KIND = {"<|--": ("inherits", True), "--|>": ("inherits", False), "<|..": ("inherits", True),
                  "..|>": ("inherits", False), "*--": ("composes", False), "--*": ("composes", True),
                  "o--": ("composes", False), "--o": ("composes", True), "-->": ("uses", False),
                  "<--": ("uses", True), "..>": ("uses", False), "<..": ("uses", True), "--": ("uses", False),
                  "..": ("uses", False)}  # fmt: skip
"""relation -> (kind, reversed): ``A <|-- B`` is B inherits A; ``A *-- B`` is A composes B."""


MERMAID_SKIP = (
    "```",
    "flowchart",
    "graph",
    "classDiagram",
    "direction",
    "click",
    "style",
    "classDef",
    "linkStyle",
    "end",
    "subgraph",
    "note",
    "title",
    "---",
)


def _mermaid(text: str) -> DiagramSource:
    out = DiagramSource("mermaid")
    lines = text.splitlines()
    kind = next((ln.split()[0] for ln in lines if ln.strip() and not ln.strip().startswith(("%%", "```", "---"))),
                "flowchart")  # fmt: skip
    in_class = False
    for number, raw in enumerate(lines, 1):
        line = raw.split("%%")[0].strip().rstrip(";")
        clicked = re.match(r'click\s+(\S+)\s+(?:href\s+)?"([^"]+)"', line)
        if clicked:
            out.link(clicked.group(1), clicked.group(2))
        if not line or line.startswith(MERMAID_SKIP):
            continue
        if kind == "classDiagram":
            if in_class:
                in_class = not line.startswith("}")
                continue
            in_class = _class_line(out, line, number)
        else:
            _flow_line(out, line, number)
    return out


def _flow_line(out: DiagramSource, line: str, number: int) -> None:
    parts = [p for p in _FLOW_ARROW.split(line) if p is not None]
    groups = [[_flow_node(out, ref.strip(), number) for ref in part.split("&") if ref.strip()] for part in parts]
    for left, right in zip(groups, groups[1:], strict=False):
        out.edges += [DiagramEdge(a, b, "imports", number) for a in left for b in right]


def _flow_node(out: DiagramSource, ref: str, number: int) -> str:
    ref = re.sub(r":::\w+$", "", ref)
    shaped = _MERMAID_SHAPE.match(ref)
    if shaped:
        return out.node(shaped.group(1), shaped.group(3).strip().strip('"'), number)
    return out.node(ref.split()[0], "", number)


def _class_line(out: DiagramSource, line: str, number: int) -> bool:
    """Reads one classDiagram line; True when it opens a class body ``{``."""
    declared = re.match(r'^class\s+([\w.:$`-]+)(?:\s*\["?([^"\]]*)"?\])?(?:~[^~]*~)?\s*(\{)?', line)
    if declared:
        out.node(declared.group(1).strip("`"), declared.group(2) or "", number)
        return bool(declared.group(3)) and "}" not in line
    relation = _CLASS_RELATION.match(line)
    if relation:
        left, arrow, right = relation.group(1).strip("`"), relation.group(2), relation.group(3).strip("`")
        kind, flipped = _RELATION_KIND[arrow]
        a, b = out.node(left, "", number), out.node(right, "", number)
        out.edges.append(DiagramEdge(b, a, kind, number) if flipped else DiagramEdge(a, b, kind, number))
    elif re.match(r"^[\w.$`-]+\s*:", line):  # `Name : +member`
        out.node(line.split(":")[0].strip().strip("`"), "", number)
    return False


# -- PlantUML --------------------------------------------------------------------------------------


def _plantuml(text: str) -> DiagramSource:
    out = DiagramSource("plantuml")
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("'", "@", "skinparam", "!", "title", "note", "hide", "show", "}")):
            continue
        line = re.sub(r"\[([^\]]+)\]", r"\1", line).replace('"', "")
        declared = re.match(r"^(?:abstract\s+class|class|interface|enum|component|package|module|namespace|"
                            r"object)\s+([\w.:$-]+)(?:\s+as\s+([\w.$-]+))?(.*)", line)  # fmt: skip
        if declared:
            name = declared.group(2) or declared.group(1)
            out.node(name, declared.group(1), number)
            rest = declared.group(3)
            for keyword in ("extends", "implements"):
                found = re.search(rf"\b{keyword}\s+([\w.,\s]+?)(?:\s+(?:extends|implements)\b|\{{|$)", rest)
                for base in found.group(1).split(",") if found else []:
                    out.edges.append(DiagramEdge(name, out.node(base.strip(), "", number), "inherits", number))
            continue
        relation = re.match(r"^([\w.:$-]+)\s*(<\|--|--\|>|<\|\.\.|\.\.\|>|\*--|--\*|o--|--o|<?-+>|<-+|\.+>|-+|\.+)"
                            r"\s*([\w.:$-]+)", line)  # fmt: skip
        if relation:
            left, arrow, right = relation.groups()
            arrow = re.sub(r"-+", "--", arrow).replace("...", "..")
            arrow = {"->": "-->", "<-": "<--", ".>": "..>"}.get(arrow, arrow)
            kind, flipped = _RELATION_KIND.get(arrow, ("uses", False))
            a, b = out.node(left, "", number), out.node(right, "", number)
            out.edges.append(DiagramEdge(b, a, kind, number) if flipped else DiagramEdge(a, b, kind, number))
    return out


# -- DOT -------------------------------------------------------------------------------------------

_DOT_ID = r'(?:"(?:[^"\\]|\\.)*"|[\w.]+)'
_DOT_EDGE = re.compile(rf"({_DOT_ID}(?:\s*->\s*{_DOT_ID})+)\s*(\[[^\]]*\])?")
_DOT_NODE = re.compile(rf"^\s*({_DOT_ID})\s*\[([^\]]*)\]")


def _dot(text: str) -> DiagramSource:
    out = DiagramSource("dot")
    for number, statement in _dot_statements(text):
        if not statement or re.match(r"(strict\s+)?(di)?graph\b|subgraph\b|node\b|edge\b|\w+\s*=", statement):
            continue
        edge = _DOT_EDGE.search(statement)
        if edge:
            ends = [out.node(_unquote(e), "", number) for e in re.findall(_DOT_ID, edge.group(1))]
            attrs = edge.group(2) or ""
            kind = "inherits" if "empty" in attrs else "composes" if "diamond" in attrs else "imports"
            for a, b in zip(ends, ends[1:], strict=False):
                out.edges.append(DiagramEdge(a, b, kind, number))
            continue
        node = _DOT_NODE.match(statement)
        if node:
            label = re.search(r'label\s*=\s*("(?:[^"\\]|\\.)*"|[\w.]+)', node.group(2))
            node_id = out.node(_unquote(node.group(1)), _unquote(label.group(1)) if label else "", number)
            url = re.search(r'URL\s*=\s*"([^"]*)"', node.group(2))
            if url:
                out.link(node_id, url.group(1))
    return out


def _dot_statements(text: str) -> list[tuple[int, str]]:
    """(line, statement): split at ``;``, braces and line ends outside quotes and brackets."""
    statements: list[tuple[int, str]] = []
    current: list[str] = []
    line, start, quoted, bracket = 1, 1, False, 0
    for char in re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.S):
        if char == '"' and (not current or current[-1] != "\\"):
            quoted = not quoted
        elif not quoted and char in "[]":
            bracket += 1 if char == "[" else -1
        if not quoted and not bracket and char in ";{}\n":
            statements.append((start, "".join(current).strip()))
            current, start = [], line + (char == "\n")
        else:
            current.append(char)
        line += char == "\n"
    statements.append((start, "".join(current).strip()))
    return statements


def _unquote(text: str) -> str:
    return text[1:-1].replace('\\"', '"') if text.startswith('"') else text


# -- draw.io and SVG -------------------------------------------------------------------------------


def _xml(text: str, what: str) -> ElementTree.Element:
    try:
        return ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise BadInputError(f"{what} is not well-formed XML ({exc})") from None


def _drawio(text: str) -> DiagramSource:
    out = DiagramSource("drawio")
    root = _xml(text, "the draw.io file")
    cells = list(root.iter("mxCell"))
    for diagram in root.iter("diagram"):  # a compressed page: base64 of raw deflate of url-quoted XML
        packed = (diagram.text or "").strip()
        if not list(diagram) and packed:
            try:
                inflated = zlib.decompress(base64.b64decode(packed), -15).decode()
                cells += list(ElementTree.fromstring(urllib.parse.unquote(inflated)).iter("mxCell"))
            except (ValueError, zlib.error, ElementTree.ParseError):
                out.notes.append("a compressed draw.io page could not be read")
    for cell in cells:
        if cell.get("vertex") == "1" and cell.get("value"):
            out.node(cell.get("id", ""), cell.get("value", ""))
    for cell in cells:
        source, target = cell.get("source"), cell.get("target")
        if cell.get("edge") == "1" and source in out.labels and target in out.labels:
            style = cell.get("style", "")
            kind = "inherits" if "endFill=0" in style and "block" in style else "imports"
            kind = "composes" if "diamond" in style else kind
            out.edges.append(DiagramEdge(source, target, kind, 0))
    return out


def _svg(text: str) -> DiagramSource:
    out = DiagramSource("svg")
    root = _xml(text, "the SVG")
    groups = [g for g in root.iter() if g.tag.endswith("}g") or g.tag == "g"]
    nodes = [g for g in groups if g.get("class") == "node"]
    if nodes:  # Graphviz: <g class="node"><title>id</title><text>label</text>
        for g in nodes:
            title = _child_text(g, "title")
            label = " ".join(t for t in (_all_text(x) for x in g.iter() if x.tag.endswith("text")) if t)
            node_id = out.node(title, label.split("  ")[0])
            href = next((v for x in g.iter() for k, v in x.attrib.items() if k.endswith("href")), "")
            if href:
                out.link(node_id, html.unescape(href))
        for g in groups:
            if g.get("class") == "edge":
                a, _, b = html.unescape(_child_text(g, "title")).partition("->")
                if a.strip() in out.labels and b.strip() in out.labels:
                    out.edges.append(DiagramEdge(a.strip(), b.strip(), "imports", 0))
        return out
    for i, element in enumerate(x for x in root.iter() if x.tag.endswith("text")):
        label = _all_text(element)
        if label:
            out.node(f"t{i}", label)
    out.notes.append("this SVG holds no Graphviz node groups: its text labels are read as nodes, its edges are not")
    return out


def _child_text(element: ElementTree.Element, tag: str) -> str:
    found = next((c for c in element if c.tag.endswith(tag)), None)
    return (found.text or "").strip() if found is not None else ""


def _all_text(element: ElementTree.Element) -> str:
    return " ".join("".join(element.itertext()).split())


def _clean(label: str) -> str:
    """A label's first line without markup, counts and stereotypes."""
    label = html.unescape(re.sub(r"<br\s*/?>|\\n|\\l", "\n", label))
    label = re.sub(r"<[^>]+>", "", label)
    first = next((ln.strip() for ln in label.splitlines() if ln.strip()), "")
    first = re.sub(r"\s*\(\d+\)$", "", first)  # a clustered package's count
    return re.sub(r"^<<\w+>>\s*", "", first).strip().strip('"`')
