"""Hybrid retrieval over chunks: BM25, dense embeddings and symbol-name matches, fused by RRF."""

from __future__ import annotations

import functools
import math
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from codemm.repo.chunks import Chunk
from codemm.repo.index import RepoIndex
from codemm.repo.languages import is_code
from codemm.repo.symbols import Symbol
from codemm.repo.tokens import code_tokens, identifier_parts, identifiers, stem

if TYPE_CHECKING:
    from codemm.repo.propagate import FileGraph

RRF_K = 60
RETRIEVERS = ("bm25", "dense", "symbols")
CARD_RETRIEVERS = ("card_bm25", "card_dense")
# Symbol matches on shared words are noisier than exact ones; at half weight fused MRR on the
# repo-QA suite rose from 0.893 to 0.913 (python -m codemm.eval.bench.retrieval).
RRF_WEIGHTS = {"bm25": 1.0, "dense": 1.0, "symbols": 0.5, "card_bm25": 1.0, "card_dense": 1.0}

DOC_WORDS = re.compile(r"\b(readme|docs?|documentation|markdown|guide|changelog)\b", re.I)
PROSE_WEIGHT = 0.5


TEST_PATH = re.compile(r"(^|/)(tests?|testing)/|(^|/)(test_[^/]*|[^/]*_test\.\w+|conftest\.py)$")
EXAMPLE_PATH = re.compile(r"(^|/)(examples?|demos?|samples?)/")
EXAMPLE_WORDS = re.compile(r"\b(examples?|demos?|samples?)\b", re.I)
TEST_WORDS = re.compile(r"\b(tests?|testing|unittests?|pytest|fixtures?|conftest)\b", re.I)


@dataclass(frozen=True)
class RetrievalOptions:
    """How search ranks; the defaults are what the harder suite supported (python -m
    codemm.eval.bench.retrieval_hard --ablate), each switch is one row of that ablation."""

    cards: bool = True
    """Rank files by their cards too (chunks.py: names as words, docstrings' first lines)."""
    file_rank: bool = True
    """Order hits by file: a file's score is its best chunk's plus its cards' (then the next files)."""
    test_weight: float = 0.5
    """Multiplies the score of test files when the question is not about tests: a test names the
    same things as the code it tests and so crowds it out of the first ranks."""
    chunk_decay: float = 0.0
    """With file_rank and chunk fusion (file_fusion off), what a file's 2nd best chunk adds to its
    score (its 3rd adds the square...); 0 ranks a file by its best chunk alone."""
    file_fusion: bool = True
    """With file_rank, fuse files, not chunks: each chunk retriever ranks files by their best chunk and
    RRF sums those file ranks, so a file found by BM25 in one chunk and by the embedding in another
    gets both (chunk fusion credits a file only with its single best chunk's retrievers). Dev split
    of the harder suite, plain questions: recall@1 0.52 -> 0.57, recall@5 0.86 -> 0.95."""
    graph: float = 0.0
    """RRF weight of files reached from the best files over the reference graph (propagate.py)."""
    graph_edges: str = "names"
    """Which reference graph propagation walks: ``names`` or ``imports`` (graph.GraphKind)."""
    rrf_k: int = 10
    """Reciprocal-rank constant: smaller makes the first ranks of each retriever count more. With five
    rankings, k=60 let a file found late by many retrievers beat one found first by two (dev split
    of the harder suite: recall@5 0.71 -> 0.88 without embeddings; repo-QA MRR 0.905 -> 0.937)."""
    example_weight: float = 0.5
    """Multiplies the score of example/demo files unless the question asks for examples: they use
    the library the way its tests do."""
    weights: tuple[tuple[str, float], ...] = ()
    """Overrides of RRF_WEIGHTS, e.g. (("card_dense", 2.0),)."""

    def weight(self, name: str) -> float:
        return dict(self.weights).get(name, RRF_WEIGHTS[name])


RANK_DEPTH = 50
GRAPH_SEEDS = 5
GRAPH_DEPTH = 50
CardFind = tuple[int, float, int]
"""A file found by a card retriever: (file rank, score, the best card's index)."""

BASELINE = RetrievalOptions(
    cards=False, file_rank=False, file_fusion=False, test_weight=1.0, example_weight=1.0, rrf_k=RRF_K
)
"""Search as it was before the harder suite: chunks fused by RRF, ranked alone."""


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
    explain: dict[str, Any] | None = field(default=None, repr=False)
    """Per retriever that found this hit's chunk or file: its rank, score and the field it matched."""

    def as_json(self) -> dict[str, Any]:
        data = {"path": self.path, "start": self.start, "end": self.end, "score": round(self.score, 5),
                "sources": self.sources, "kind": self.kind, "symbol": self.symbol}  # fmt: skip
        if self.explain is not None:
            data["explain"] = self.explain
        return data


class Retriever:
    """Built once per index generation; each search is then in-memory work only.

    Chunks and cards are ranked apart: ``bm25``, ``dense`` and ``symbols`` rank chunks (what a
    hit shows); ``card_bm25`` and ``card_dense`` rank files by their cards."""

    def __init__(self, index: RepoIndex, dense: bool = True, options: RetrievalOptions | None = None) -> None:
        import bm25s

        self.options = options or RetrievalOptions()
        self.generation = index.generation()
        self.embedding = index.embedding  # queries are embedded by the model that made the vectors
        every = index.chunks()
        self.chunks: list[Chunk] = [c for c in every if c.kind != "card"]
        self.cards: list[Chunk] = [c for c in every if c.kind == "card"]
        self.symbols: list[Symbol] = index.symbols()
        self.symbol_index = SymbolIndex(self.symbols)
        self._references = index.references() if self.options.graph > 0 else []
        self._root = index.root
        self._graph: FileGraph | None = None
        self.bm25, self.vocab = self._bm25(bm25s, self.chunks, lambda c: f"{c.path} {c.symbol} {c.text}")
        self.card_bm25, self.card_vocab = self._bm25(bm25s, self.cards, lambda c: c.text)
        self.dense = dense
        self.matrix: np.ndarray | None = None
        self.card_matrix: np.ndarray | None = None
        self._embedded: np.ndarray | None = None
        self._card_embedded: np.ndarray | None = None
        self.vectors = ""
        if dense:
            self.load_vectors(index)
        self._by_path: dict[str, list[int]] = defaultdict(list)
        for i, c in enumerate(self.chunks):
            self._by_path[c.path].append(i)
        self._query_vector: tuple[str, np.ndarray] | None = None

    def load_vectors(self, index: RepoIndex) -> None:
        """Takes in the index's vectors, as many as are ready: while embeddings are being built, a
        chunk without a vector is left out of the dense rankings (the lexical ones still see it)."""
        from codemm.repo.embeddings import load_vectors

        self.vectors = index.vectors_generation()
        vectors = load_vectors(index) if self.chunks else {}
        self.matrix, self._embedded = _stack(vectors, self.chunks)
        self.card_matrix, self._card_embedded = _stack(vectors, self.cards)

    @staticmethod
    def _bm25(bm25s: Any, chunks: list[Chunk], text: Callable[[Chunk], str]) -> tuple[Any, set[str]]:
        corpus = [code_tokens(text(c)) or ["_"] for c in chunks]
        model = bm25s.BM25()
        if chunks:
            model.index(corpus, show_progress=False)
        return model, {t for doc in corpus for t in doc}

    # Each ranker returns (chunk or card index, score) pairs, best first.

    def _bm25_ranking(self, model: Any, vocab: set[str], size: int, query: str, k: int) -> list[tuple[int, float]]:
        tokens = [t for t in code_tokens(query) if t in vocab]
        if not tokens or not size:
            return []
        ids, scores = model.retrieve([tokens], k=min(k, size), show_progress=False)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if s > 0]

    def _query_embedding(self, query: str, dimension: int) -> np.ndarray:
        if self._query_vector is None or self._query_vector[0] != query:  # cards and chunks share it
            from codemm.repo.embeddings import query_vector

            self._query_vector = (query, query_vector(self.embedding, query, dimension))
        return self._query_vector[1]

    def _dense_ranking(
        self, matrix: np.ndarray | None, embedded: np.ndarray | None, query: str, k: int
    ) -> list[tuple[int, float]]:
        if matrix is None:
            return []
        sims = matrix @ self._query_embedding(query, matrix.shape[1])
        if embedded is not None:  # rows of chunks still without a vector never rank
            sims = np.where(embedded, sims, -np.inf)
            k = min(k, int(embedded.sum()))
        top = np.argpartition(-sims, min(k, len(sims)) - 1)[:k] if len(sims) > k else np.arange(len(sims))
        return [(int(i), float(sims[i])) for i in sorted(top, key=lambda i: -sims[i])]

    def rank_bm25(self, query: str, k: int) -> list[tuple[int, float]]:
        return self._bm25_ranking(self.bm25, self.vocab, len(self.chunks), query, k)

    def rank_dense(self, query: str, k: int) -> list[tuple[int, float]]:
        return self._dense_ranking(self.matrix, self._embedded, query, k)

    def rank_card_bm25(self, query: str, k: int) -> list[tuple[int, float]]:
        return self._bm25_ranking(self.card_bm25, self.card_vocab, len(self.cards), query, k)

    def rank_card_dense(self, query: str, k: int) -> list[tuple[int, float]]:
        return self._dense_ranking(self.card_matrix, self._card_embedded, query, k)

    def rank_symbols(self, query: str, k: int) -> list[tuple[int, float]]:
        scores = self.symbol_index.scores(query)
        ranked: dict[int, float] = {}
        for sym, score in sorted(scores.items(), key=lambda kv: -kv[1]):
            for i in self._by_path.get(sym.path, []):
                chunk = self.chunks[i]
                if chunk.start <= sym.start <= chunk.end or (chunk.symbol == sym.name and chunk.kind != "module"):
                    ranked[i] = max(ranked.get(i, 0.0), score)
        return sorted(ranked.items(), key=lambda kv: -kv[1])[:k]

    def search(
        self, query: str, k: int = 10, per_file: int = 2, methods: tuple[str, ...] = RETRIEVERS, explain: bool = False
    ) -> list[Hit]:
        opts = self.options
        # Each retriever ranks the same depth whatever k is (up to 25 hits), so that -k only cuts the
        # list: with depth growing with k, deeper tails changed the fused order of the first files.
        depth = max(RANK_DEPTH, 2 * k)
        chunk_methods = [m for m in methods if m in RETRIEVERS]
        # Cards join the full fusion (or when named); a single retriever asked for stays alone.
        card_methods = [m for m in CARD_RETRIEVERS if opts.cards and (m in methods or set(RETRIEVERS) <= set(methods))]
        rankings = {name: getattr(self, f"rank_{name}")(query, depth) for name in chunk_methods + card_methods}
        fused: dict[int, float] = defaultdict(float)
        found: dict[int, dict[str, tuple[int, float]]] = defaultdict(dict)
        for name in chunk_methods:
            for rank, (i, score) in enumerate(rankings[name]):
                fused[i] += opts.weight(name) / (opts.rrf_k + rank + 1)
                found[i][name] = (rank + 1, score)
        file_bonus: dict[str, float] = defaultdict(float)
        file_found: dict[str, dict[str, CardFind]] = defaultdict(dict)
        for name in card_methods:
            for path, rank, score, i in _file_ranking(rankings[name], lambda i: self.cards[i].path):
                file_bonus[path] += opts.weight(name) / (opts.rrf_k + rank)
                file_found[path][name] = (rank, score, i)
        wants_docs = bool(DOC_WORDS.search(query))
        wants_tests = bool(TEST_WORDS.search(query))
        wants_examples = bool(EXAMPLE_WORDS.search(query))

        def prior(path: str) -> float:
            weight = 1.0
            if not wants_docs and not is_code(_language_of(path)):
                weight *= PROSE_WEIGHT  # README prose should not crowd out code for code questions
            if not wants_tests and TEST_PATH.search(path):
                weight *= opts.test_weight
            if not wants_examples and EXAMPLE_PATH.search(path):
                weight *= opts.example_weight
            return weight

        for i in fused:
            fused[i] *= prior(self.chunks[i].path)
        chunk_order = sorted(fused, key=lambda i: -fused[i])
        via: dict[str, dict[str, tuple[int, float, int]]] = {}
        if opts.file_rank:
            best: dict[str, list[int]] = defaultdict(list)
            for i in chunk_order:
                best[self.chunks[i].path].append(i)
            if opts.file_fusion:
                file_score, via = self._file_fusion(chunk_methods, rankings, prior)
            else:  # a file scores as its best chunk, each next one by a further factor of chunk_decay
                file_score = {
                    p: sum(fused[i] * opts.chunk_decay**n for n, i in enumerate(ids)) for p, ids in best.items()
                }
            for path, bonus in file_bonus.items():
                file_score[path] = file_score.get(path, 0.0) + bonus * prior(path)
            if opts.graph > 0:
                self._propagate(file_score, file_found, prior)
            for path in file_score:
                if not best[path] and self._by_path.get(path):
                    card = next((found[2] for found in file_found[path].values() if found[2] >= 0), None)
                    best[path] = [self._representative(path, query, card)]
            ordered = [(i, file_score[p]) for p in sorted(file_score, key=lambda p: -file_score[p]) for i in best[p]]
        else:
            ordered = [(i, fused[i]) for i in chunk_order]
        hits: list[Hit] = []
        per_path: dict[str, int] = defaultdict(int)
        for i, score in ordered:
            c = self.chunks[i]
            if per_path[c.path] >= per_file:
                continue
            per_path[c.path] += 1
            first = per_path[c.path] == 1
            # A file's first hit carries what ranked the file; a later hit only its own chunk's finds.
            chunk_found = via[c.path] if first and c.path in via else {n: (r, sc, i) for n, (r, sc) in found[i].items()}
            card_found = file_found.get(c.path, {}) if first else {}
            hit = Hit(c.path, c.start, c.end, score, list(chunk_found) + list(card_found), c.kind, c.symbol, c.text)
            if explain:
                hit.explain = self._explain(query, i, chunk_found, card_found)
            hits.append(hit)
            if len(hits) >= k:
                break
        return hits

    def _file_fusion(
        self, methods: list[str], rankings: dict[str, list[tuple[int, float]]], prior: Callable[[str], float]
    ) -> tuple[dict[str, float], dict[str, dict[str, tuple[int, float, int]]]]:
        """Files scored by RRF over each chunk retriever's ranking of files (a file ranks where its
        best chunk does), and for each file, per retriever: (file rank, score, that chunk)."""
        score: dict[str, float] = defaultdict(float)
        via: dict[str, dict[str, tuple[int, float, int]]] = defaultdict(dict)
        for name in methods:
            for path, rank, found_score, i in _file_ranking(rankings[name], lambda i: self.chunks[i].path):
                via[path][name] = (rank, found_score, i)
                score[path] += self.options.weight(name) / (self.options.rrf_k + rank) * prior(path)
        return dict(score), dict(via)

    def _propagate(
        self, file_score: dict[str, float], file_found: dict[str, dict[str, CardFind]], prior: Callable[[str], float]
    ) -> None:
        """Adds the ``graph`` ranking: files reached from the best files over the reference graph."""
        if self._graph is None:
            from codemm.repo.propagate import FileGraph

            self._graph = FileGraph(
                self.symbols, self._references, sorted(self._by_path), self.options.graph_edges, self._root
            )
        seeds = dict(sorted(file_score.items(), key=lambda kv: -kv[1])[:GRAPH_SEEDS])
        for rank, (path, score) in enumerate(self._graph.rank(seeds)[:GRAPH_DEPTH], 1):
            added = self.options.graph / (self.options.rrf_k + rank) * prior(path)
            file_score[path] = file_score.get(path, 0.0) + added
            file_found[path]["graph"] = (rank, score, -1)

    def _representative(self, path: str, query: str, card: int | None) -> int:
        """The chunk to show for a file found only by its cards: the one closest to the question
        by embedding, else the one defining what the card's best-matching line names."""
        ids = self._by_path[path]
        embedded = [i for i in ids if self._embedded is None or self._embedded[i]]
        if self.matrix is not None and embedded:
            sims = self.matrix[embedded] @ self._query_embedding(query, self.matrix.shape[1])
            return embedded[int(np.argmax(sims))]
        if card is not None:
            line = _best_card_line(set(code_tokens(query)), self.cards[card].text).split(" ")
            name = line[1] if len(line) > 1 else ""
            return next((i for i in ids if self.chunks[i].symbol == name), ids[0])
        return ids[0]

    def _explain(
        self, query: str, i: int, chunk_found: dict[str, tuple[int, float, int]], card_found: dict[str, CardFind]
    ) -> dict[str, Any]:
        words = set(code_tokens(query))
        out: dict[str, Any] = {}
        for name, (rank, score, j) in chunk_found.items():
            out[name] = {"rank": rank, "score": round(score, 4), "fields": _matched_fields(words, self.chunks[j], name)}
            if j != i:  # the retriever found the file through another of its chunks
                out[name]["chunk"] = self.chunks[j].label
        for name, (rank, score, card) in card_found.items():
            if card < 0:
                out[name] = {"rank": rank, "score": round(score, 4), "fields": ["references"]}
                continue
            entry = _best_card_line(words, self.cards[card].text)
            out[name] = {"rank": rank, "score": round(score, 4), "fields": ["card"], "card_line": entry}
        return out


def _file_ranking(ranking: list[tuple[int, float]], path_of: Callable[[int], str]) -> list[tuple[str, int, float, int]]:
    """The files a ranking of chunks or cards reaches, in order: (path, file rank, the score of the
    file's best item, that item). A file ranks where its best item does; ranks count files."""
    files: list[tuple[str, int, float, int]] = []
    seen: set[str] = set()
    for i, score in ranking:
        path = path_of(i)
        if path not in seen:
            seen.add(path)
            files.append((path, len(files) + 1, score, i))
    return files


def _matched_fields(words: set[str], chunk: Chunk, retriever: str) -> list[str]:
    """Which parts of a chunk share the query's words: name, path, docstring/comment, body. Dense
    similarity matches meaning, not words: it is reported as ``body`` (what was embedded)."""
    if retriever == "dense":
        return ["path+body"]
    fields = []
    if words & set(code_tokens(chunk.symbol)):
        fields.append("name")
    if retriever == "symbols":
        return fields or ["name"]
    if words & set(code_tokens(chunk.path)):
        fields.append("path")
    prose, code = _split_prose(chunk.text)
    if words & set(code_tokens(prose)):
        fields.append("docstring/comment")
    if words & set(code_tokens(code)):
        fields.append("body")
    return fields


_PROSE = re.compile(r'"""(.*?)"""|\'\'\'(.*?)\'\'\'|#(.*)$|//(.*)$|/\*(.*?)\*/', re.S | re.M)


def _split_prose(text: str) -> tuple[str, str]:
    """A chunk's docstrings and comments, and the rest."""
    prose = " ".join(next((g for g in m.groups() if g), "") for m in _PROSE.finditer(text))
    return prose, _PROSE.sub(" ", text)


def _best_card_line(words: set[str], card: str) -> str:
    lines = card.splitlines()[1:] or card.splitlines()
    return max(lines, key=lambda line: len(words & set(code_tokens(line))), default="")[:160]


def _language_of(path: str) -> str | None:
    from pathlib import PurePosixPath

    from codemm.repo.languages import language_of

    return language_of(PurePosixPath(path))


def symbol_scores(query: str, symbols: list[Symbol]) -> dict[Symbol, float]:
    """How strongly the query names each symbol: exact identifiers beat shared words."""
    return _score_symbols(query, symbols)


class SymbolIndex:
    """symbol_scores over a fixed list of symbols, looking only at the symbols that share a name or
    a word with the query (a search scored all ~10k symbols of a 100k-line repo otherwise)."""

    def __init__(self, symbols: list[Symbol]) -> None:
        self.by_name: dict[str, list[Symbol]] = defaultdict(list)
        self.by_part: dict[str, list[Symbol]] = defaultdict(list)
        for sym in symbols:
            self.by_name[sym.name.lower()].append(sym)
            for part in set(_name_parts(sym.name)[1]):
                self.by_part[part].append(sym)

    def scores(self, query: str) -> dict[Symbol, float]:
        candidates: dict[Symbol, None] = {}
        for word in identifiers(query):
            candidates.update(dict.fromkeys(self.by_name.get(word.lower(), ())))
        for token in code_tokens(query):
            candidates.update(dict.fromkeys(self.by_part.get(stem(token), ())))
        return _score_symbols(query, list(candidates))


def _score_symbols(query: str, symbols: list[Symbol]) -> dict[Symbol, float]:
    exact = {w.lower() for w in identifiers(query)}
    words = {stem(t) for t in code_tokens(query)}
    scores: dict[Symbol, float] = {}
    for sym in symbols:
        name = sym.name.lower()
        if sym.kind == "constant" and name not in exact:
            continue
        n_parts, parts = _name_parts(sym.name)
        if name in exact and (len(name) > 3 or n_parts > 1):
            scores[sym] = 3.0
            continue
        if not parts:
            continue
        shared = sum(1 for p in parts if p in words)
        if shared and shared / len(parts) >= 0.5:
            # Longer names matched on more words are more specific.
            scores[sym] = shared / len(parts) * (1 + math.log(len(parts)))
    return scores


@functools.lru_cache(maxsize=1 << 17)
def _name_parts(name: str) -> tuple[int, tuple[str, ...]]:
    """A name's number of parts and its stemmed parts of two letters or more. Cached: every search
    matches the query against every symbol, and splitting names was most of a search's time."""
    parts = identifier_parts(name)
    return len(parts), tuple(stem(p) for p in parts if len(p) > 1)


_CACHE: dict[str, Retriever] = {}


def retriever_for(index: RepoIndex, dense: bool = True, options: RetrievalOptions | None = None) -> Retriever:
    """A Retriever reused while the index generation is unchanged (chat asks many questions); new
    vectors alone (a batch of an embedding build) are loaded into it, not a rebuild."""
    options = options or RetrievalOptions()
    key = f"{index.db_path}:{dense}:{index.embedding}:{options}"
    cached = _CACHE.get(key)
    if cached is None or cached.generation != index.generation():
        cached = _CACHE[key] = Retriever(index, dense, options)
    elif dense and cached.vectors != index.vectors_generation():
        cached.load_vectors(index)
    return cached


def _stack(vectors: dict[str, np.ndarray], chunks: list[Chunk]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The chunks' vectors as rows (None: none has one yet) and which rows are real (None: all);
    a row of zeros stands for a chunk not embedded yet."""
    have = [c.sha in vectors for c in chunks]
    if not any(have):
        return None, None
    if all(have):
        return np.stack([vectors[c.sha] for c in chunks]), None
    dimension = next(len(vectors[c.sha]) for c in chunks if c.sha in vectors)
    empty = np.zeros(dimension, dtype=np.float32)
    return np.stack([vectors.get(c.sha, empty) for c in chunks]), np.array(have)
