"""The repo-QA suite: questions over fixture repositories with gold files, and retrieval metrics."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

SUITE = "suites/repoqa/questions.jsonl"
METHODS: dict[str, tuple[str, ...]] = {
    "bm25": ("bm25",),
    "dense": ("dense",),
    "symbols": ("symbols",),
    "fused": ("bm25", "dense", "symbols"),
}


@dataclass(frozen=True)
class Question:
    id: str
    repo: str
    question: str
    gold_files: list[str]
    gold_symbol: str
    facts: list[str]


def project_root() -> Path:
    """The checkout holding examples/ and eval/suites (the suite's repo paths are relative to it)."""
    return Path(str(resources.files("codemm.eval"))).resolve().parent


def load_questions(path: Path | None = None) -> list[Question]:
    path = path or project_root() / "eval" / SUITE
    with path.open(encoding="utf-8") as handle:
        return [Question(**json.loads(line)) for line in handle if line.strip()]


def first_gold_rank(paths: list[str], gold: list[str]) -> int | None:
    """1-based rank of the first hit in a gold file, or None."""
    return next((i for i, p in enumerate(paths, 1) if p in gold), None)


def retrieval_metrics(ranks: list[int | None], ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    n = len(ranks) or 1
    out = {f"recall@{k}": sum(1 for r in ranks if r is not None and r <= k) / n for k in ks}
    out["mrr"] = sum(1.0 / r for r in ranks if r is not None) / n
    return out


def evaluate_retrieval(questions: list[Question], root: Path | None = None, k: int = 10) -> dict[str, Any]:
    """recall@1/5/10 and MRR for each retriever alone and fused, over every question."""
    from codemm.repo.index import RepoIndex
    from codemm.repo.retrieve import retriever_for

    root = root or project_root()
    ranks: dict[str, list[int | None]] = {name: [] for name in METHODS}
    per_question = []
    for repo in sorted({q.repo for q in questions}):
        with RepoIndex(root / repo) as index:
            index.refresh()
            retriever = retriever_for(index)
            for q in (q for q in questions if q.repo == repo):
                row: dict[str, Any] = {"id": q.id}
                for name, methods in METHODS.items():
                    hits = retriever.search(q.question, k=k, methods=methods)
                    rank = first_gold_rank([h.path for h in hits], q.gold_files)
                    ranks[name].append(rank)
                    row[name] = rank
                per_question.append(row)
    return {"metrics": {name: retrieval_metrics(r) for name, r in ranks.items()}, "questions": per_question}
