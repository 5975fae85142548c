"""Diagrams of the code as it is, drawn from analysis (never from a model), and the drift between a
team's diagram and the code.

``draw`` builds a kind's graph (``modules``, ``classes``, ``calls``, ``focus``) from the repository
index, the files' syntax trees and (calls) code intelligence's call hierarchy; ``formats`` writes
it as Mermaid or DOT, or renders SVG/PNG with Graphviz;
``check`` reads a diagram (Mermaid, PlantUML, DOT, draw.io, SVG) and compares it with the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from codemm.diagram.graph import Graph, cluster
from codemm.errors import BadInputError
from codemm.repo.index import RepoIndex

if TYPE_CHECKING:
    from codemm.diagram.source import Repo
    from codemm.intel.navigator import Navigator

KINDS = ("modules", "classes", "calls", "focus")
DEFAULT_MAX_NODES = 60
DEFAULT_DEPTH = {"modules": 0, "classes": 0, "calls": 1, "focus": 1}


@dataclass(frozen=True)
class DiagramOptions:
    depth: int | None = None
    """Edges to follow out of the target (None: the kind's default)."""
    scope: str = ""
    """Comma-separated path globs: only these files are drawn."""
    externals: bool = False
    """One node per outside package (or base class) the drawn code uses."""
    members: bool = False
    max_nodes: int = DEFAULT_MAX_NODES
    """Over this many nodes the diagram is drawn by package."""
    dense: bool = True
    """focus: retrieval with embeddings (False: BM25 and symbols only)."""


def draw(
    index: RepoIndex, kind: str, target: str = "", options: DiagramOptions | None = None, nav: Navigator | None = None
) -> Graph:
    """The graph of ``kind`` for ``target`` (a folder, module, class, for calls a function or
    ``path:line``, for focus a question). ``nav``: a warm navigator to ask for calls (else one is
    opened for this drawing)."""
    from codemm.diagram.classes import class_graph
    from codemm.diagram.focus import focus_graph
    from codemm.diagram.modules import module_graph
    from codemm.diagram.source import Repo

    options = options or DiagramOptions()
    if kind not in KINDS:
        raise BadInputError(f"unknown diagram kind {kind!r}; use one of {', '.join(KINDS)} (or check FILE)")
    depth = DEFAULT_DEPTH[kind] if options.depth is None else options.depth
    repo = Repo.from_index(index, options.scope)
    if kind == "modules":
        graph = module_graph(repo, target, depth, options.externals)
    elif kind == "classes":
        if options.depth is None and target and "/" not in target and target[:1].isupper():
            depth = 1  # a class: its neighbourhood
        graph = class_graph(repo, target, depth, options.members, options.externals)
    elif kind == "calls":
        graph = _calls(index, repo, target, depth, options, nav)
    else:
        graph = focus_graph(index, repo, target, depth, options.dense)
    return cluster(graph, options.max_nodes)


def _calls(index: RepoIndex, repo: Repo, target: str, depth: int, options: DiagramOptions,
           nav: Navigator | None) -> Graph:  # fmt: skip
    from codemm.diagram.calls import call_graph
    from codemm.intel.navigator import Navigator

    if not target.strip():
        raise BadInputError("calls needs a function: codemm diagram calls pkg.mod.func (or Class.method, or PATH:LINE)")
    own = nav is None
    nav = nav or Navigator(index.root)
    try:
        return call_graph(nav, repo, target, depth, options.externals, options.max_nodes)
    finally:
        if own:
            nav.close()
