"""Hybrid retrieval over chunks: BM25, dense embeddings and symbol-name matches, fused by RRF."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from codemm.repo.chunks import Chunk
from codemm.repo.index import RepoIndex
from codemm.repo.languages import is_code
from codemm.repo.symbols import Symbol
from codemm.repo.tokens import code_tokens, identifier_parts, identifiers, stem

RRF_K = 60
RETRIEVERS = ("bm25", "dense", "symbols")
# Symbol matches on shared words are noisier than exact ones; at half weight fused MRR on the
# repo-QA suite rose from 0.893 to 0.913 (python -m codemm.eval.bench.retrieval).
RRF_WEIGHTS = {"bm25": 1.0, "dense": 1.0, "symbols": 0.5}

DOC_WORDS = re.compile(r"\b(readme|docs?|documentation|markdown|guide|changelog)\b", re.I)
PROSE_WEIGHT = 0.5


@dataclass
class Hit:
    path: str
    start: int
    end: int
    score: float
    sources: list[str]
    kind: str = ""
    symbol: str = ""
    text: str = field(default="", repr=False)

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "start": self.start, "end": self.end, "score": round(self.score, 5),
                "sources": self.sources, "kind": self.kind, "symbol": self.symbol}  # fmt: skip


class Retriever:
    """Built once per index generation; each search is then in-memory work only."""

    def __init__(self, index: RepoIndex, dense: bool = True) -> None:
        import bm25s

        self.generation = index.generation()
        self.embedding = index.embedding  # queries are embedded by the model that made the vectors
        self.chunks: list[Chunk] = index.chunks()
        self.symbols: list[Symbol] = index.symbols()
        self.bm25 = bm25s.BM25()
        corpus = [code_tokens(f"{c.path} {c.symbol} {c.text}") or ["_"] for c in self.chunks]
        self.bm25.index(corpus, show_progress=False) if self.chunks else None
        self.vocab = {t for doc in corpus for t in doc}
        self.matrix: np.ndarray | None = None
        if dense and self.chunks:
            from codemm.repo.embeddings import load_vectors

            vectors = load_vectors(index)
            if all(c.sha in vectors for c in self.chunks):
                self.matrix = np.stack([vectors[c.sha] for c in self.chunks])
        self._by_path: dict[str, list[int]] = defaultdict(list)
        for i, c in enumerate(self.chunks):
            self._by_path[c.path].append(i)

    # Each ranker returns chunk indices, best first.

    def rank_bm25(self, query: str, k: int) -> list[int]:
        tokens = [t for t in code_tokens(query) if t in self.vocab]
        if not tokens or not self.chunks:
            return []
        ids, scores = self.bm25.retrieve([tokens], k=min(k, len(self.chunks)), show_progress=False)
        return [int(i) for i, s in zip(ids[0], scores[0], strict=True) if s > 0]

    def rank_dense(self, query: str, k: int) -> list[int]:
        if self.matrix is None:
            return []
        from codemm.repo.embeddings import query_vector

        sims = self.matrix @ query_vector(self.embedding, query, self.matrix.shape[1])
        return [int(i) for i in np.argsort(-sims)[:k]]

    def rank_symbols(self, query: str, k: int) -> list[int]:
        scores = symbol_scores(query, self.symbols)
        ranked: dict[int, float] = {}
        for sym, score in sorted(scores.items(), key=lambda kv: -kv[1]):
            for i in self._by_path.get(sym.path, []):
                chunk = self.chunks[i]
                if chunk.start <= sym.start <= chunk.end or (chunk.symbol == sym.name and chunk.kind != "module"):
                    ranked[i] = max(ranked.get(i, 0.0), score)
        return sorted(ranked, key=lambda i: -ranked[i])[:k]

    def search(self, query: str, k: int = 10, per_file: int = 2, methods: tuple[str, ...] = RETRIEVERS) -> list[Hit]:
        depth = max(50, k * 5)
        rankings = {name: getattr(self, f"rank_{name}")(query, depth) for name in methods}
        fused: dict[int, float] = defaultdict(float)
        sources: dict[int, list[str]] = defaultdict(list)
        for name, ranking in rankings.items():
            for rank, i in enumerate(ranking):
                fused[i] += RRF_WEIGHTS[name] / (RRF_K + rank + 1)
                sources[i].append(name)
        wants_docs = bool(DOC_WORDS.search(query))
        for i in fused:
            if not wants_docs and not is_code(_language_of_chunk(self.chunks[i])):
                fused[i] *= PROSE_WEIGHT  # README prose should not crowd out code for code questions
        hits: list[Hit] = []
        per_path: dict[str, int] = defaultdict(int)
        for i in sorted(fused, key=lambda i: -fused[i]):
            c = self.chunks[i]
            if per_path[c.path] >= per_file:
                continue
            per_path[c.path] += 1
            hits.append(Hit(c.path, c.start, c.end, fused[i], sources[i], c.kind, c.symbol, c.text))
            if len(hits) >= k:
                break
        return hits


def _language_of_chunk(chunk: Chunk) -> str | None:
    from pathlib import PurePosixPath

    from codemm.repo.languages import language_of

    return language_of(PurePosixPath(chunk.path))


def symbol_scores(query: str, symbols: list[Symbol]) -> dict[Symbol, float]:
    """How strongly the query names each symbol: exact identifiers beat shared words."""
    exact = {w.lower() for w in identifiers(query)}
    words = {stem(t) for t in code_tokens(query)}
    scores: dict[Symbol, float] = {}
    for sym in symbols:
        if sym.kind == "constant" and sym.name.lower() not in exact:
            continue
        name = sym.name.lower()
        if name in exact and (len(name) > 3 or len(identifier_parts(sym.name)) > 1):
            scores[sym] = 3.0
            continue
        parts = [stem(p) for p in identifier_parts(sym.name) if len(p) > 1]
        if not parts:
            continue
        shared = sum(1 for p in parts if p in words)
        if shared and shared / len(parts) >= 0.5:
            # Longer names matched on more words are more specific.
            scores[sym] = shared / len(parts) * (1 + math.log(len(parts)))
    return scores


_CACHE: dict[str, Retriever] = {}


def retriever_for(index: RepoIndex, dense: bool = True) -> Retriever:
    """A Retriever reused while the index generation is unchanged (chat asks many questions)."""
    key = f"{index.db_path}:{dense}:{index.embedding}"
    cached = _CACHE.get(key)
    if cached is None or cached.generation != index.generation():
        cached = _CACHE[key] = Retriever(index, dense)
    return cached
