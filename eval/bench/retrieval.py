"""Retrieval quality on the repo-QA suite: recall@1/5/10 and MRR for BM25, dense, symbols and fused.

python -m codemm.eval.bench.retrieval [--json]
"""

from __future__ import annotations

import argparse
import json

from codemm.eval.repoqa import evaluate_retrieval, load_questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    questions = load_questions()
    result = evaluate_retrieval(questions)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{len(questions)} questions over {len({q.repo for q in questions})} repositories")
    print(f"{'retriever':<10} {'recall@1':>9} {'recall@5':>9} {'recall@10':>10} {'MRR':>7}")
    for name, m in result["metrics"].items():
        print(f"{name:<10} {m['recall@1']:>9.3f} {m['recall@5']:>9.3f} {m['recall@10']:>10.3f} {m['mrr']:>7.3f}")
    misses = [q["id"] for q in result["questions"] if q["fused"] is None or q["fused"] > 5]
    print(f"fused misses at 5: {', '.join(misses) or 'none'}")


if __name__ == "__main__":
    main()
