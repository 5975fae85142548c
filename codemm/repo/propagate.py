"""Propagating a search's first hits over the file reference graph (personalised PageRank).

The graph is the repo map's (graph.py: a file that uses a name points at the files defining it,
with aider's weights), built once per Retriever as a sparse matrix; each search then runs a few
power iterations from its best files. A question answered by code the first hits call into (the
hits are a caller or a test of it) can reach the answer this way.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from codemm.repo.graph import edge_multiplier, reference_counts
from codemm.repo.precise_graph import file_edges
from codemm.repo.symbols import Reference, Symbol

RESTART = 0.5
"""Probability of jumping back to the seeds at each step: high, so that the walk stays near them."""
ITERATIONS = 20


class FileGraph:
    def __init__(
        self,
        symbols: list[Symbol],
        references: list[Reference],
        files: list[str],
        graph: str = "names",
        root: Path | None = None,
    ) -> None:
        """``graph`` and ``root``: which edges (precise_graph.file_edges)."""
        from scipy.sparse import csr_matrix

        self.files = files
        self.position = {f: i for i, f in enumerate(files)}
        defines, _ = reference_counts(symbols, [])
        weights: dict[tuple[int, int], float] = defaultdict(float)
        for name, pairs in file_edges(symbols, references, graph, root).items():
            mul = edge_multiplier(name, len(defines[name]), set())
            for (user, definer), count in pairs.items():
                if definer != user and user in self.position and definer in self.position:
                    weights[(self.position[user], self.position[definer])] += mul * math.sqrt(count)
        n = len(files)
        rows = np.array([r for r, _ in weights], dtype=np.int64)
        cols = np.array([c for _, c in weights], dtype=np.int64)
        data = np.array(list(weights.values()), dtype=np.float64)
        out = np.zeros(n)
        np.add.at(out, rows, data)
        # Column-stochastic transition (to <- from); a file with no edges keeps its mass at the seeds.
        self.transition = csr_matrix((data / out[rows], (cols, rows)), shape=(n, n)) if n else None

    def rank(self, seeds: dict[str, float]) -> list[tuple[str, float]]:
        """Files by personalised PageRank from ``seeds`` (file -> weight), best first."""
        if self.transition is None or not seeds:
            return []
        restart = np.zeros(len(self.files))
        for path, weight in seeds.items():
            if path in self.position:
                restart[self.position[path]] = weight
        if restart.sum() <= 0:
            return []
        restart /= restart.sum()
        rank = restart.copy()
        for _ in range(ITERATIONS):
            moved = self.transition @ rank
            rank = RESTART * restart + (1 - RESTART) * moved + (1 - RESTART) * (rank.sum() - moved.sum()) * restart
        order = np.argsort(-rank)
        return [(self.files[i], float(rank[i])) for i in order if rank[i] > 0]
