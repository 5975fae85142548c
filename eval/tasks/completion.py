"""Repository completion: write a function's body from its signature and docstring, with and
without repository context (the function's own chunk is never part of the context)."""

from __future__ import annotations

import difflib
import re
from typing import Any

from codemm.eval.context import RunContext, Variant
from codemm.eval.tasks import register
from codemm.eval.tasks.base import Task

REPOS = [
    "examples/sample-repo",
    "eval/suites/repoqa/repos/ledger-go",
    "eval/suites/repoqa/repos/scheduler-ts",
]
FENCE = re.compile(r"```[\w+-]*\s*\n(.*?)(?:```|$)", re.S)
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")


def normalise(code: str) -> str:
    return "\n".join(line.strip() for line in code.strip().splitlines() if line.strip())


@register
class Completion(Task):
    name = "completion"
    default_variants = ("repo", "no-repo")
    primary = "edit_similarity"

    def items(self, ctx: RunContext) -> list[dict[str, Any]]:
        items = []
        for repo in REPOS:
            index = ctx.index(ctx.root / repo)
            for sym in index.symbols():
                if sym.kind not in ("function", "method") or not 4 <= sym.end - sym.start <= 25:
                    continue
                lines = (index.root / sym.path).read_text().splitlines()
                head, body = _split(lines[sym.start - 1 : sym.end])
                if body.strip():
                    items.append({"id": f"{repo}:{sym.path}:{sym.name}", "repo": repo, "path": sym.path,
                                  "start": sym.start, "end": sym.end, "head": head, "body": body})  # fmt: skip
        per_repo = self.options.get("per_repo", 5)
        chosen: list[dict[str, Any]] = []
        for repo in REPOS:
            chosen += [i for i in items if i["repo"] == repo][:per_repo]
        return chosen

    def run_item(self, item: dict[str, Any], variant: Variant, sample: int, ctx: RunContext) -> dict[str, Any]:
        context = ""
        if variant.repo:
            from codemm.repo.retrieve import retriever_for

            index = ctx.index(ctx.root / item["repo"])
            own = (item["path"], item["start"], item["end"])
            hits = [h for h in retriever_for(index).search(item["head"], k=4) if not _overlaps(h, own)][:2]
            context = "".join(f"### {h.path}:{h.start}-{h.end}\n```\n{h.text}\n```\n\n" for h in hits)
        prompt = (f"{context}Complete the body of this function from {item['path']}. Reply with the body only, "
                  f"in one fenced block.\n\n```\n{item['head']}\n```")  # fmt: skip
        gen = ctx.generate(variant, [{"role": "user", "content": prompt}], sample, 128)
        match = FENCE.search(gen.text)
        guess = match.group(1) if match else gen.text
        if guess.lstrip().startswith(item["head"].strip().splitlines()[0].strip()):
            guess = guess.strip().split("\n", len(item["head"].splitlines()))[-1]  # the model repeated the head
        gold_ids = set(IDENT.findall(item["body"]))
        return {
            "exact_match": normalise(guess) == normalise(item["body"]),
            "edit_similarity": difflib.SequenceMatcher(None, normalise(guess), normalise(item["body"])).ratio(),
            "identifier_recall": len(gold_ids & set(IDENT.findall(guess))) / max(1, len(gold_ids)),
            "output": gen.text,
            "_generation": gen,
        }


def _overlaps(hit: Any, own: tuple[str, int, int]) -> bool:
    """Whether a retrieved chunk shows the function being completed (that would leak the answer)."""
    path, start, end = own
    return bool(hit.path == path and hit.start <= end and hit.end >= start)


def _split(lines: list[str]) -> tuple[str, str]:
    """Signature (and docstring) vs body."""
    i = 0
    while i < len(lines) and not lines[i].rstrip().endswith((":", "{")):
        i += 1
    i += 1
    if i < len(lines) and lines[i].strip().startswith(('"""', "'''")):
        quote = lines[i].strip()[:3]
        if lines[i].strip().count(quote) == 1:
            i += 1
            while i < len(lines) and quote not in lines[i]:
                i += 1
        i += 1
    return "\n".join(lines[:i]), "\n".join(lines[i:])
