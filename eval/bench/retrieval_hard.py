"""File-level retrieval on the harder suite (eval/suites/retrieval-hard), per configuration.

    python -m codemm.eval.bench.retrieval_hard [--split dev|test|all] [--ablate] [--graph names|imports] [--json]

Downloads the pinned libraries once (pip download, sha256-checked), indexes them (embeddings
included; cached in codemm's index cache like any repo), then ranks files for every question:
recall@1/5/10 and MRR over all questions and over the plain-language ones, and search latency.
Without --ablate only the baseline (search before this suite) and the default configuration run;
with it, every step added, then the default with each step taken away.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from dataclasses import replace
from typing import Any

from codemm.eval.repoqa import first_gold_rank, retrieval_metrics
from codemm.eval.retrieval_hard import fetch_all, load_hard_questions, load_sources
from codemm.repo.embeddings import MODEL_NAME, EmbeddingConfig
from codemm.repo.retrieve import BASELINE, RetrievalOptions

DEFAULT = RetrievalOptions()
CONFIGS: dict[str, RetrievalOptions] = {"baseline": BASELINE, "default": DEFAULT}
ABLATION: dict[str, RetrievalOptions] = {
    "baseline": BASELINE,
    "+file rank": replace(BASELINE, file_rank=True),
    "+cards": replace(BASELINE, file_rank=True, cards=True),
    "+tests/examples down": replace(BASELINE, file_rank=True, cards=True, test_weight=0.5, example_weight=0.5),
    "+rrf k=10": replace(DEFAULT, file_fusion=False),
    "+file fusion (=default)": DEFAULT,
    "default -cards": replace(DEFAULT, cards=False),
    "default -file rank": replace(DEFAULT, file_rank=False),
    "default -file fusion": replace(DEFAULT, file_fusion=False),
    "default -card_dense": replace(DEFAULT, weights=(("card_dense", 0.0),)),
    "default -card_bm25": replace(DEFAULT, weights=(("card_bm25", 0.0),)),
    "default -tests/ex down": replace(DEFAULT, test_weight=1.0, example_weight=1.0),
    "default -dense": replace(DEFAULT, weights=(("dense", 0.0), ("card_dense", 0.0))),
    "default +graph 0.5": replace(DEFAULT, graph=0.5),
}
TUNING: dict[str, RetrievalOptions] = {
    "default": DEFAULT,
    "chunk fusion": replace(DEFAULT, file_fusion=False),
    "rrf k 5": replace(DEFAULT, rrf_k=5),
    "rrf k 20": replace(DEFAULT, rrf_k=20),
    "tests 0.25": replace(DEFAULT, test_weight=0.25, example_weight=0.25),
    "symbols 0.25": replace(DEFAULT, weights=(("symbols", 0.25),)),
    "bm25 0.5": replace(DEFAULT, weights=(("bm25", 0.5),)),
    "card_dense 0.5": replace(DEFAULT, weights=(("card_dense", 0.5),)),
    "dense 2": replace(DEFAULT, weights=(("dense", 2.0),)),
    "graph 0.5": replace(DEFAULT, graph=0.5),
}
FILES_RANKED = 10


def evaluate(
    split: str,
    configs: dict[str, RetrievalOptions],
    dense: bool = True,
    libraries: list[str] | None = None,
    embedding: EmbeddingConfig | None = None,
) -> dict[str, Any]:
    from codemm.repo.index import RepoIndex, index_path
    from codemm.repo.retrieve import Retriever

    questions = [q for q in load_hard_questions(split=split) if not libraries or q.repo in libraries]
    sources = load_sources()
    roots = fetch_all({name: sources[name] for name in {q.repo for q in questions}})
    ranks: dict[str, dict[str, list[int | None]]] = {name: {"all": [], "plain": []} for name in configs}
    latency: dict[str, list[float]] = {name: [] for name in configs}
    per_question: list[dict[str, Any]] = []
    index_seconds = 0.0
    for repo in sorted({q.repo for q in questions}):
        db_path = None
        if embedding is not None and embedding.kind != "builtin":  # its own index, so the default's vectors stay
            db_path = index_path(roots[repo]).with_name(f"index-{_slug(embedding.model)}.sqlite")
        with RepoIndex(roots[repo], db_path, embedding) as index:
            index_seconds += index.refresh(embed=dense).seconds
            retrievers = {name: Retriever(index, dense, options) for name, options in configs.items()}
            for q in (q for q in questions if q.repo == repo):
                row: dict[str, Any] = {"id": q.id, "style": q.style}
                for name, retriever in retrievers.items():
                    started = time.perf_counter()
                    hits = retriever.search(q.question, k=FILES_RANKED, per_file=1)
                    latency[name].append((time.perf_counter() - started) * 1000)
                    rank = first_gold_rank([h.path for h in hits], q.gold_files)
                    ranks[name]["all"].append(rank)
                    if q.style == "plain":
                        ranks[name]["plain"].append(rank)
                    row[name] = rank
                per_question.append(row)
    metrics = {
        name: {
            "all": retrieval_metrics(r["all"]),
            "plain": retrieval_metrics(r["plain"]),
            "latency_ms_p50": statistics.median(latency[name]) if latency[name] else 0.0,
            "latency_ms_p95": _p95(latency[name]),
        }
        for name, r in ranks.items()
    }
    return {"split": split, "questions": len(questions), "plain": sum(q.style == "plain" for q in questions),
            "index_seconds": index_seconds, "metrics": metrics, "per_question": per_question}  # fmt: skip


def _slug(spec: str) -> str:
    return hashlib.sha256(spec.encode()).hexdigest()[:12]


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)] if ordered else 0.0


METRICS_HEADER = f"{'R@1':>5} {'R@5':>5} {'R@10':>5} {'MRR':>5} | {'plain R@1':>9} {'R@5':>5} {'R@10':>5} {'MRR':>5}"
"""The recall and MRR columns, over all questions then the plain ones, as metric_cells fills them."""


def metric_cells(m: dict[str, Any]) -> str:
    a, p = m["all"], m["plain"]
    return (
        f"{a['recall@1']:>5.2f} {a['recall@5']:>5.2f} {a['recall@10']:>5.2f} {a['mrr']:>5.2f} | "
        f"{p['recall@1']:>9.2f} {p['recall@5']:>5.2f} {p['recall@10']:>5.2f} {p['mrr']:>5.2f}"
    )


def table(result: dict[str, Any]) -> str:
    lines = [
        f"split {result['split']}: {result['questions']} questions ({result['plain']} plain-language), file level",
        f"{'configuration':<24} {METRICS_HEADER} | {'p50 ms':>6} {'p95 ms':>6}",
    ]
    for name, m in result["metrics"].items():
        lines.append(f"{name:<24} {metric_cells(m)} | {m['latency_ms_p50']:>6.0f} {m['latency_ms_p95']:>6.0f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=["dev", "test", "all"], default="test")
    parser.add_argument("--ablate", action="store_true", help="every step added, then each taken away")
    parser.add_argument("--tune", action="store_true", help="variations of the default's settings (on dev)")
    parser.add_argument("--no-dense", action="store_true", help="without embeddings (BM25, symbols, cards' BM25)")
    parser.add_argument("--library", action="append", help="only this library's questions (repeatable)")
    parser.add_argument("--embedding-model", default=MODEL_NAME, help="what embedding_model takes (a local dir...)")
    parser.add_argument("--graph", choices=["names", "imports"], default="names", help="the graph propagation walks")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--misses", action="store_true", help="list the questions the default misses at 5")
    args = parser.parse_args()
    configs = ABLATION if args.ablate else TUNING if args.tune else CONFIGS
    configs = {name: replace(options, graph_edges=args.graph) for name, options in configs.items()}
    embedding = EmbeddingConfig(args.embedding_model)
    result = evaluate(args.split, configs, dense=not args.no_dense, libraries=args.library, embedding=embedding)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(table(result))
    if args.misses:
        last = "+file fusion (=default)" if args.ablate else "default"
        misses = [f"{q['id']}({q[last]})" for q in result["per_question"] if q[last] is None or q[last] > 5]
        print(f"{last} misses at 5: {', '.join(misses) or 'none'}")


if __name__ == "__main__":
    main()
