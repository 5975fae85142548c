"""Repository QA through the same pipeline as `codemm ask`: retrieval, citations, facts."""

from __future__ import annotations

from typing import Any

from codemm.eval.context import RunContext, Variant
from codemm.eval.repoqa import first_gold_rank, load_questions
from codemm.eval.tasks.base import Task, register
from codemm.eval.tasks.completion import fenced


@register
class RepoQA(Task):
    name = "repoqa"
    default_variants = ("no-repo", "repo")
    primary = "gold_file_named"
    binary = True

    def items(self, ctx: RunContext) -> list[dict[str, Any]]:
        questions = load_questions(ctx.root / "eval" / "suites" / "repoqa" / "questions.jsonl")
        limit = self.options.get("limit")
        return [{"id": q.id, "question": q} for q in questions[: limit or None]]

    def run_item(self, item: dict[str, Any], variant: Variant, sample: int, ctx: RunContext) -> dict[str, Any]:
        from codemm.ask import AskRequest

        q = item["question"]
        index = ctx.index(ctx.root / q.repo) if variant.repo else None
        result, gen = ctx.ask(variant, AskRequest(q.question, index=index, k=3, map_tokens=0), sample, 64)
        answer = gen.text
        cited = [c for c in result.citations if c.source == "model"]
        lowered = answer.lower()
        gold_name = q.gold_files[0].rsplit("/", 1)[-1].lower()
        retrieved = [h.path for h in result.prepared.prompt.included]
        rank = first_gold_rank(retrieved, q.gold_files)
        risks = {"risks": ctx.risks(fenced(answer), variant, ctx.root / q.repo)} if "```" in answer else {}
        return {
            **risks,
            "gold_file_named": gold_name in lowered or q.gold_symbol.lower() in lowered,
            "gold_retrieved": rank is not None,
            "recall@3": float(rank is not None and rank <= 3),
            "facts": sum(1 for f in q.facts if f.lower() in lowered) / max(1, len(q.facts)),
            "citations": len(cited),
            "citations_valid": sum(1 for c in cited if c.valid),
            "output": answer,
            "_generation": gen,
        }
