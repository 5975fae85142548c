"""Diagrams in answers, both ways. When a question asks for one ("draw the classes around Client",
"a diagram of what calls parse_date"), codemm draws it from analysis and states it as Mermaid in
the Markdown ahead of the model's prose, as it states grounded facts: a small model asked to draw
invents edges, this block has none it did not find in the code. When a picture comes with a
question about whether it still holds ("does the code still match this diagram?"), codemm checks
the labels it read against the code (``codemm diagram check``'s comparison) and states what differs,
with ``path:line``. Every surface that answers (ask, chat, serve's chat completions, eval) shows
both through ``codemm.ask.preamble``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from codemm.diagram.check import DriftReport
from codemm.errors import CodemmError
from codemm.grounding import names_code
from codemm.repo.index import RepoIndex
from codemm.repo.tokens import identifiers

log = logging.getLogger("codemm.diagram")
ANSWER_MAX_NODES = 30
"""A diagram read inside an answer: past this it is drawn by package."""
_PICTURE = (r"(diagram|uml|mermaid|flowchart|architecture"
            r"|(call|dependency|import|module|class|inheritance)\s+(graph|tree|hierarchy))")  # fmt: skip
_ASKS = re.compile(
    # a request for one: "draw a call graph", "show me a class diagram", "visualise the import graph",
    # "draw the modules under src/"
    rf"\b(draw|show|give|generate|make|render|produce|sketch|create|plot|visuali[sz]e)\b[^.?!]{{0,50}}?\b{_PICTURE}\b"
    r"|\bdraw\b[^.?!]{0,40}\b(classes|modules|imports|dependencies|architecture)\b"
    # or one named by what it is of: "a diagram of the imports", "the call graph for parse_date"
    rf"|\b{_PICTURE}\s+(of|for|showing)\b",
    re.IGNORECASE,
)
"""Asking for a picture of the code, not about code that draws or parses pictures ("how is the
chart drawn?", "how does the Mermaid parser work?", "what does the import graph setting do?")."""
_CALLS = re.compile(r"\b(call(s|ers?|ees?|ed|ing)?|invok\w*)\b", re.IGNORECASE)
_CLASSES = re.compile(r"\b(class(es)?|inherit\w*|subclass\w*|hierarch\w*|bases?)\b", re.IGNORECASE)
_MODULES = re.compile(r"\b(modules?|imports?|dependenc\w*|depends?|packages?)\b", re.IGNORECASE)
_DRIFT = re.compile(
    r"\b(match(es)?|drift\w*|up[- ]to[- ]date|out[- ]of[- ]date|outdated|stale|consistent|agrees?"
    r"|still (right|correct|accurate|valid|true|hold))\b",
    re.IGNORECASE,
)
_DIAGRAM = re.compile(r"\b(diagrams?|architecture|chart|uml|drawing)\b", re.IGNORECASE)
"""A drift question names the picture as a diagram: "why does this field not match?" is not one."""
SHOWN_FINDINGS = 12
_PATH = re.compile(r"(?<![\w/])([\w.-]+/[\w./-]*|[\w-]+\.py)(?![\w/])")


@dataclass(frozen=True)
class AnswerDiagram:
    kind: str
    target: str
    mermaid: str
    nodes: int
    edges: int
    notes: tuple[str, ...] = ()

    def render(self) -> str:
        what = f"{self.kind} {self.target}".strip()
        return (f"Diagram ({what}; drawn from the code by static analysis, {self.nodes} nodes, {self.edges} edges, "
                f"each node links to its path:line):\n\n```mermaid\n{self.mermaid.rstrip()}\n```")  # fmt: skip

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target, "mermaid": self.mermaid, "nodes": self.nodes,
                "edges": self.edges, "notes": list(self.notes)}  # fmt: skip


def wants_diagram(question: str) -> bool:
    return bool(_ASKS.search(question))


def choose(index: RepoIndex, question: str, found_paths: list[str]) -> tuple[str, str]:
    """The kind and target a question asks for: calls of a function it names, the classes around a
    class it names, the modules of a folder it names; else the modules around what retrieval found."""
    named = [w for w in dict.fromkeys(identifiers(question)) if names_code(w, question)]
    symbols = [s for w in named for s in index.symbols(w)]
    if _CALLS.search(question):
        function = next((s for s in symbols if s.kind in ("function", "method")), None)
        if function is not None:
            return "calls", f"{function.parent}.{function.name}" if function.parent else function.name
    if _CLASSES.search(question):
        cls = next((s for s in symbols if s.kind == "class"), None)
        return "classes", cls.name if cls else _folder(question, found_paths)
    if _MODULES.search(question):
        return "modules", _folder(question, found_paths)
    return "focus", question


def answer_diagram(index: RepoIndex, question: str, found_paths: list[str]) -> AnswerDiagram | None:
    """The diagram the question asks for, or None when it asks for none or none can be drawn
    (the answer goes on without it: a diagram is an aid, not the answer)."""
    if not wants_diagram(question):
        return None
    from codemm.diagram import DiagramOptions, draw
    from codemm.diagram.formats import to_mermaid
    from codemm.intel.navigator import Navigator

    asked = choose(index, question, found_paths)
    options = DiagramOptions(max_nodes=ANSWER_MAX_NODES, dense=False)
    # A name or folder that is not the repository's, or a focus retrieval finds nothing for: the
    # modules around the files the answer's own retrieval found.
    fallback = ("modules", found_paths[0].rpartition("/")[0]) if found_paths else None
    graph = None
    # Its own navigator, without language servers: an answer does not start gopls or jdtls.
    nav = Navigator(index.root, lsp="off") if asked[0] == "calls" else None
    try:
        for kind, target in (k for k in (asked, fallback) if k is not None):
            try:
                graph = draw(index, kind, target, options, nav)
                break
            except CodemmError:
                continue
            except Exception:  # an aid, not the answer: a bug here must not cost the answer
                log.exception("drawing the diagram the question asked for failed")
                continue
    finally:
        if nav is not None:
            nav.close()
    if graph is None or not graph.nodes:
        return None
    return AnswerDiagram(kind, target if kind != "focus" else "", to_mermaid(graph), len(graph.nodes),
                         len(graph.edges), tuple(graph.notes))  # fmt: skip


def _folder(question: str, found_paths: list[str]) -> str:
    """A folder or file the question names, else the folder of the best retrieved file (else the
    whole repository)."""
    for match in _PATH.finditer(question):
        candidate = match.group(1).strip(".").rstrip("/")
        if candidate:
            return candidate
    return found_paths[0].rpartition("/")[0] if found_paths else ""


def image_drift(index: RepoIndex, question: str, images: list[tuple[str, str]]) -> list[DriftReport]:
    """For a question about whether attached pictures still hold: each picture's labels (its OCR
    text, ``(name, text)``) compared with the code. Nothing when the question is not about that."""
    from codemm.diagram.check import compare
    from codemm.diagram.picture import labels_from_text

    if not (_DRIFT.search(question) and _DIAGRAM.search(question)):
        return []
    reports = []
    for name, text in images:
        source = labels_from_text(text)
        if not source.labels:
            continue
        try:
            reports.append(compare(index, source, name))
        except CodemmError:
            continue  # a repository with no code files: nothing to compare with
        except Exception:  # an aid, not the answer
            log.exception("checking %s against the code failed", name)
    return reports


def render_drift(report: DriftReport) -> str:
    head = (f"Diagram check of {report.diagram} (codemm compared the labels it read in the picture with the code; "
            f"edges could not be read from a picture): {len(report.matched)} labels matched the code, "
            f"{len(report.findings)} not found in it.")  # fmt: skip
    lines = [f"- {f.message} [{f.evidence}]" for f in report.findings[:SHOWN_FINDINGS]]
    if len(report.findings) > SHOWN_FINDINGS:
        lines.append(f"- ... and {len(report.findings) - SHOWN_FINDINGS} more (codemm diagram check FILE)")
    matched = ", ".join(f"{label} = {node}" for label, node in list(report.matched.items())[:SHOWN_FINDINGS])
    return "\n".join([head, *lines] + ([f"Matched: {matched}"] if matched else []))
