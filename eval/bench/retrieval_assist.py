"""Model-assisted retrieval on the harder suite: does spending a model call on search pay?

    python -m codemm.eval.bench.retrieval_assist --split dev|test [--backend transformers|openai
        --api-base URL] [--model NAME] [--library NAME] [--json]

Four configurations over the same questions (codemm/repo/assist.py): default (search alone),
+rewrite (search on the question plus the model's identifiers and snippet), +rerank (the model
orders the retriever's 25 best files) and +both (rerank of the rewritten search; the reranker
always sees the original question). File-level recall@1/5/10 and MRR over all questions and the
plain-language ones, as python -m codemm.eval.bench.retrieval_hard reports them; the cost of the
model steps per question (mean and p95 seconds, prompt and new tokens); each step's change in MRR
against the default with a paired bootstrap interval; and how usable the reranker's replies were.
The libraries and their indexes (embeddings included) come from the cache the retrieval_hard
benchmark fills. Tune prompts on --split dev; report --split test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from codemm.eval.bench.retrieval_hard import FILES_RANKED, METRICS_HEADER, _p95, metric_cells
from codemm.eval.repoqa import first_gold_rank, retrieval_metrics
from codemm.eval.retrieval_hard import fetch_all, load_hard_questions, load_sources
from codemm.repo.assist import RERANK_CANDIDATES, StepCost, card_lines, main_language, rerank_hits, rewrite_query

CONFIGS = ("default", "+rewrite", "+rerank", "+both")


def evaluate(model: Any, split: str, libraries: list[str] | None = None, limit: int = 0) -> dict[str, Any]:
    from codemm.repo.index import RepoIndex
    from codemm.repo.retrieve import Retriever

    questions = [q for q in load_hard_questions(split=split) if not libraries or q.repo in libraries]
    questions = questions[:limit] if limit else questions
    sources = load_sources()
    roots = fetch_all({name: sources[name] for name in {q.repo for q in questions}})
    ranks: dict[str, dict[str, list[int | None]]] = {name: {"all": [], "plain": []} for name in CONFIGS}
    costs: dict[str, list[StepCost]] = {name: [] for name in CONFIGS[1:]}
    candidates_rank: list[int | None] = []
    per_question: list[dict[str, Any]] = []
    started = time.perf_counter()
    for repo in sorted({q.repo for q in questions}):
        with RepoIndex(roots[repo]) as index:
            index.refresh(embed=True)
            retriever = Retriever(index, True)
            cards = card_lines(retriever)
            language = main_language(c.path for c in retriever.chunks)
            for q in (q for q in questions if q.repo == repo):
                default = retriever.search(q.question, k=FILES_RANKED, per_file=1)
                candidates = retriever.search(q.question, k=RERANK_CANDIDATES, per_file=1)
                rewrite = rewrite_query(model, q.question, language)
                rewritten = retriever.search(rewrite.query, k=FILES_RANKED, per_file=1)
                rewritten_candidates = retriever.search(rewrite.query, k=RERANK_CANDIDATES, per_file=1)
                rerank = rerank_hits(model, q.question, candidates, cards)
                both = rerank_hits(model, q.question, rewritten_candidates, cards)
                lists = {"default": default, "+rewrite": rewritten, "+rerank": rerank.hits, "+both": both.hits}
                row: dict[str, Any] = {"id": q.id, "style": q.style, "rewrite": rewrite.text,
                                       "rerank_reply": rerank.reply, "both_reply": both.reply}  # fmt: skip
                for name, hits in lists.items():
                    rank = first_gold_rank([h.path for h in hits[:FILES_RANKED]], q.gold_files)
                    ranks[name]["all"].append(rank)
                    if q.style == "plain":
                        ranks[name]["plain"].append(rank)
                    row[name] = rank
                candidates_rank.append(first_gold_rank([h.path for h in candidates], q.gold_files))
                row["picked"] = rerank.picked
                row["both_picked"] = both.picked
                costs["+rewrite"].append(rewrite.cost)
                costs["+rerank"].append(rerank.cost)
                costs["+both"].append(rewrite.cost + both.cost)
                per_question.append(row)
    replies = [(r["picked"], r["rerank_reply"]) for r in per_question] + [
        (r["both_picked"], r["both_reply"]) for r in per_question
    ]
    return {
        "split": split,
        "model": model.name,
        "backend": model.backend,
        "questions": len(questions),
        "plain": sum(q.style == "plain" for q in questions),
        "wall_s": round(time.perf_counter() - started, 1),
        "load_s": round(model.load_s, 2),
        "metrics": {
            name: {"all": retrieval_metrics(r["all"]), "plain": retrieval_metrics(r["plain"])}
            for name, r in ranks.items()
        },
        "vs_default": {name: paired_vs_default(ranks["default"]["all"], ranks[name]["all"]) for name in CONFIGS[1:]},
        "candidates_recall": retrieval_metrics(candidates_rank, ks=(5, 10, RERANK_CANDIDATES)),
        "costs": {name: _cost_summary(c) for name, c in costs.items()},
        "replies": {
            "count": len(replies),
            "with_a_pick": sum(bool(p) for p, _ in replies),
            "retriever_order": sum(p == list(range(len(p))) and bool(p) for p, _ in replies),
            "mean_picks": round(statistics.mean(len(p) for p, _ in replies), 2) if replies else 0.0,
        },
        "per_question": per_question,
    }


def paired_vs_default(default: list[int | None], other: list[int | None]) -> dict[str, Any]:
    """The change in MRR over the same questions, with its 95% paired bootstrap interval, and how
    many questions the step moved up or down (reciprocal rank at 10)."""
    from codemm.eval.stats import paired_bootstrap

    before = [1.0 / r if r else 0.0 for r in default]
    after = [1.0 / r if r else 0.0 for r in other]
    delta, low, high = paired_bootstrap(before, after)
    return {"mrr_delta": round(delta, 3), "ci95": [round(low, 3), round(high, 3)],
            "better": sum(b > a for a, b in zip(before, after, strict=True)),
            "worse": sum(b < a for a, b in zip(before, after, strict=True))}  # fmt: skip


def _cost_summary(costs: list[StepCost]) -> dict[str, float]:
    seconds = [c.seconds for c in costs]
    return {
        "seconds_mean": round(statistics.mean(seconds), 2) if seconds else 0.0,
        "seconds_p95": round(_p95(seconds), 2),
        "prompt_tokens_mean": round(statistics.mean(c.prompt_tokens for c in costs)) if costs else 0,
        "new_tokens_mean": round(statistics.mean(c.new_tokens for c in costs), 1) if costs else 0.0,
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"split {result['split']}: {result['questions']} questions ({result['plain']} plain-language), file level; "
        f"model {result['model']} ({result['backend']}), load {result['load_s']}s, run {result['wall_s']}s",
        f"{'configuration':<14} {METRICS_HEADER} | {'model s/q':>9} {'p95 s':>6} {'prompt tok':>10} {'new tok':>7}",
    ]
    for name, m in result["metrics"].items():
        c = result["costs"].get(name, {})
        cost = f"{'-':>9} {'-':>6} {'-':>10} {'-':>7}"
        if c:
            cost = f"{c['seconds_mean']:>9.2f} {c['seconds_p95']:>6.2f} {c['prompt_tokens_mean']:>10} "
            cost += f"{c['new_tokens_mean']:>7}"
        lines.append(f"{name:<14} {metric_cells(m)} | {cost}")
    for name, paired in result["vs_default"].items():
        low, high = paired["ci95"]
        lines.append(f"{name} vs default: MRR {paired['mrr_delta']:+.3f} (95% CI {low:+.3f} to {high:+.3f}), "
                     f"{paired['better']} questions ranked better, {paired['worse']} worse")  # fmt: skip
    ceiling = result["candidates_recall"]
    replies = result["replies"]
    lines.append(
        f"reranker's candidates hold the gold file for {ceiling[f'recall@{RERANK_CANDIDATES}']:.2f} of questions "
        f"(its ceiling at 10: {ceiling['recall@10']:.2f} before reranking); replies naming a candidate: "
        f"{replies['with_a_pick']}/{replies['count']}, only confirming the retriever's order: "
        f"{replies['retriever_order']}, mean files named {replies['mean_picks']}"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=["dev", "test", "all"], default="dev")
    parser.add_argument("--backend", choices=["transformers", "openai"], default=None)
    parser.add_argument("--api-base", default=None, help="openai backend: the server's base URL, ending in /v1")
    parser.add_argument("--model", default=None, help="model (default: the configured one)")
    parser.add_argument("--library", action="append", help="only this library's questions (repeatable)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N questions (prompt trials)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--show", action="store_true", help="per question: ranks, the rewrite and the replies")
    args = parser.parse_args()
    from codemm.config import load_settings
    from codemm.errors import CodemmError
    from codemm.models.factory import open_model

    try:
        settings = load_settings({"backend": args.backend, "api_base": args.api_base, "model": args.model})
        model = open_model(settings)
        try:
            result = evaluate(model, args.split, args.library, args.limit)
        finally:
            model.close()
    except CodemmError as exc:
        print(f"retrieval_assist: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    if args.show:
        for row in result["per_question"]:
            ranks = " ".join(f"{name}={row[name]}" for name in CONFIGS)
            print(f"{row['id']} ({row['style']}) {ranks}\n  rewrite: {row['rewrite']!r}\n"
                  f"  rerank: {row['rerank_reply']!r} -> {row['picked']}\n"
                  f"  both: {row['both_reply']!r} -> {row['both_picked']}")  # fmt: skip
    print(table(result))


if __name__ == "__main__":
    main()
