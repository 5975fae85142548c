"""The repo map: definitions ranked by personalised PageRank over the file reference graph,
rendered as an outline within a token budget (after aider's repo map).

Files are nodes; a file that references an identifier points at each file that defines it, with
aider's weights. The graph comes from the index (cached per file); only PageRank runs per question.
Where aider's ranking put the wrong things first on real libraries (requests), codemm differs:
a capitalised name (``Session``) counts as specific however short; ``str`` in a Python file is the
builtin unless the file imports it; a class is credited with its methods' use; module constants
weigh a tenth. Methods are shown indented under their class.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from codemm.repo.graph import edge_multiplier, reference_counts
from codemm.repo.index import RepoIndex
from codemm.repo.precise_graph import file_edges
from codemm.repo.retrieve import symbol_scores
from codemm.repo.symbols import Reference, Symbol

KIND_WEIGHT = {"constant": 0.1}
"""Module-level assignments are data, aliases and re-exports (``builtin_str = str``): a map of the
code's structure shows its classes and functions first and constants after them."""


@dataclass
class RepoMap:
    text: str
    tokens: int
    shown: int
    """Definitions rendered."""
    total: int
    """Definitions ranked."""


def rank_definitions(
    symbols: list[Symbol],
    references: list[Reference],
    files: list[str],
    focus_files: set[str] = frozenset(),  # type: ignore[assignment]
    focus_names: set[str] = frozenset(),  # type: ignore[assignment]
    edges: str = "names",
    root: Path | None = None,
) -> list[tuple[Symbol, float]]:
    """``edges`` and ``root``: which reference graph (precise_graph.file_edges)."""
    import networkx as nx

    defines, _ = reference_counts(symbols, [])
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(files)
    for name, pairs in file_edges(symbols, references, edges, root).items():
        mul = edge_multiplier(name, len(defines[name]), focus_names)
        for (user, definer), count in pairs.items():
            graph.add_edge(user, definer, weight=mul * math.sqrt(count), name=name)
    if not graph:
        return []
    personal = {f: 1.0 for f in files if f in focus_files}
    try:
        rank = nx.pagerank(graph, weight="weight", personalization=personal or None)
    except nx.PowerIterationFailedConvergence:
        rank = {f: 1.0 / len(files) for f in files}

    out_weight: dict[str, float] = defaultdict(float)
    for src, _, data in graph.edges(data=True):
        out_weight[src] += data["weight"]
    def_rank: dict[tuple[str, str], float] = defaultdict(float)
    for src, dst, data in graph.edges(data=True):
        def_rank[(dst, data["name"])] += rank[src] * data["weight"] / out_weight[src]

    # A class is used through its methods too (session.get(...)): it is credited with their rank.
    api_rank: dict[tuple[str, str], float] = defaultdict(float)
    for sym in symbols:
        if sym.parent:
            api_rank[(sym.path, sym.parent)] += def_rank.get((sym.path, sym.name), 0.0)
    ranked = []
    for sym in symbols:
        # Unreferenced definitions still appear, behind referenced ones, ordered by their file's rank.
        own = def_rank.get((sym.path, sym.name), 0.0) + api_rank.get((sym.path, sym.name), 0.0)
        score = own or rank.get(sym.path, 0.0) * 1e-3
        score *= KIND_WEIGHT.get(sym.kind, 1.0)
        if sym.name in focus_names:
            score *= 10
        ranked.append((sym, score))
    ranked.sort(key=lambda pair: -pair[1])
    return ranked


def render(ranked: list[tuple[Symbol, float]], n: int) -> str:
    """The first ``n`` ranked definitions, by file, in line order; a method sits indented under its
    class, whose line is shown (as context) even when the class itself did not rank."""
    owners = _owners([sym for sym, _ in ranked])
    by_path: dict[str, set[Symbol]] = {}
    for sym, _ in ranked[:n]:
        shown = by_path.setdefault(sym.path, set())
        shown.add(sym)
        owner = owners.get(sym)
        if owner is not None:
            shown.add(owner)
    lines = []
    for path, shown in by_path.items():
        lines.append(f"{path}:")
        for sym in sorted(shown, key=lambda s: (s.start, -s.end)):
            indent = "    " if sym in owners else ""
            lines.append(f"{sym.start:>6}│ {indent}{sym.signature or sym.name}")
    return "\n".join(lines)


def _owners(symbols: list[Symbol]) -> dict[Symbol, Symbol]:
    """Each method's class: the definition named like its parent, in its file, that encloses it."""
    by_name: dict[tuple[str, str], list[Symbol]] = defaultdict(list)
    for sym in symbols:
        by_name[(sym.path, sym.name)].append(sym)
    owners = {}
    for sym in symbols:
        if sym.parent:
            around = [c for c in by_name.get((sym.path, sym.parent), []) if c != sym and c.start <= sym.start <= c.end]
            if around:
                owners[sym] = max(around, key=lambda c: c.start)  # the innermost
    return owners


def focus_of(text: str, symbols: list[Symbol], files: list[str]) -> tuple[set[str], set[str]]:
    """Files and identifiers the question mentions."""
    lowered = text.lower()
    focus_files = {f for f in files if f.lower() in lowered or PurePosixPath(f).name.lower() in lowered}
    names = {sym.name for sym, score in symbol_scores(text, symbols).items() if score >= 1.0}
    return focus_files, names


def build_repo_map(
    index: RepoIndex, count_tokens: Callable[[str], int], budget: int = 1024, focus: str = "", edges: str = "names"
) -> RepoMap:
    symbols = index.symbols()
    files = sorted(index.file_lines())
    focus_files, focus_names = focus_of(focus, symbols, files) if focus else (set(), set())
    ranked = rank_definitions(symbols, index.references(), files, focus_files, focus_names, edges, index.root)
    if budget <= 0 or not ranked:
        return RepoMap("", 0, 0, len(ranked))
    lo, hi, best = 1, len(ranked), ""
    best_tokens = best_n = 0
    while lo <= hi:  # the largest prefix of the ranking that fits the budget
        mid = (lo + hi) // 2
        text = render(ranked, mid)
        tokens = count_tokens(text)
        if tokens <= budget:
            best, best_tokens, best_n, lo = text, tokens, mid, mid + 1
        else:
            hi = mid - 1
    return RepoMap(best, best_tokens, best_n, len(ranked))
