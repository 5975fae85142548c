"""One embedding model on the repo-QA suite: embedding time, query time, and recall@1/5/10 + MRR for
dense alone and fused, on fresh indexes (a temporary cache).

    python -m codemm.eval.bench.embedding_models [--embedding-model SPEC] [--api-base URL] [--json]

SPEC is what ``embedding_model`` takes: all-MiniLM-L6-v2 (the default), a local
sentence-transformers dir, or openai:<model-id> served at --api-base.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from typing import Any


def run(spec: str, api_base: str, api_key_env: str, timeout: float = 120.0) -> dict[str, Any]:
    from codemm.eval.repoqa import first_gold_rank, load_questions, project_root, retrieval_metrics
    from codemm.repo.embeddings import EmbeddingConfig, embed_missing, embedding_report
    from codemm.repo.index import RepoIndex
    from codemm.repo.retrieve import Retriever

    config = EmbeddingConfig(spec, api_base, api_key_env, timeout)
    questions = load_questions()
    root = project_root()
    methods = {"dense": ("dense",), "fused": ("bm25", "dense", "symbols")}
    ranks: dict[str, list[int | None]] = {name: [] for name in methods}
    parse_s = embed_s = 0.0
    chunks = 0
    query_ms: list[float] = []
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CODEMM_CACHE_DIR"] = tmp
        for repo in sorted({q.repo for q in questions}):
            with RepoIndex(root / repo, embedding=config) as index:
                parse_s += index.refresh(embed=False).seconds
                started = time.perf_counter()
                chunks += embed_missing(index)
                embed_s += time.perf_counter() - started
                report = embedding_report(index)
                retriever = Retriever(index)
                for q in (q for q in questions if q.repo == repo):
                    for name, chosen in methods.items():
                        started = time.perf_counter()
                        hits = retriever.search(q.question, k=10, methods=chosen)
                        if name == "dense":
                            query_ms.append((time.perf_counter() - started) * 1000)
                        ranks[name].append(first_gold_rank([h.path for h in hits], q.gold_files))
    return {
        "embedding": {k: report.get(k) for k in ("name", "kind", "identity", "dimension")},
        "questions": len(questions), "chunks_embedded": chunks, "parse_s": round(parse_s, 2),
        "embed_s": round(embed_s, 2), "dense_query_ms_p50": round(statistics.median(query_ms), 1),
        "metrics": {name: {k: round(v, 3) for k, v in retrieval_metrics(r).items()} for name, r in ranks.items()},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--embedding-model", default="all-MiniLM-L6-v2")
    parser.add_argument("--api-base", default="http://127.0.0.1:8080/v1")
    parser.add_argument("--api-key-env", default="")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request to the server")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.embedding_model, args.api_base, args.api_key_env, args.timeout)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    e = result["embedding"]
    print(f"{e['name']} ({e['kind']}, {e['dimension']}-dim): {result['chunks_embedded']} chunks embedded in "
          f"{result['embed_s']}s (parse {result['parse_s']}s); dense search p50 {result['dense_query_ms_p50']} ms "
          f"incl. the query's embedding; {result['questions']} questions")  # fmt: skip
    print(f"{'retriever':<10} {'recall@1':>9} {'recall@5':>9} {'recall@10':>10} {'MRR':>7}")
    for name, m in result["metrics"].items():
        print(f"{name:<10} {m['recall@1']:>9.3f} {m['recall@5']:>9.3f} {m['recall@10']:>10.3f} {m['mrr']:>7.3f}")


if __name__ == "__main__":
    main()
