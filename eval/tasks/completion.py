"""Repository completion: write a function's body from its signature and docstring, with and
without repository context (the function's own chunk is never part of the context)."""

from __future__ import annotations

import difflib
import re
import textwrap
from pathlib import Path
from typing import Any

from codemm.eval.context import RunContext, Variant
from codemm.eval.tasks.base import Task, register

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
    default_variants = ("no-repo", "repo")
    primary = "edit_similarity"

    def items(self, ctx: RunContext) -> list[dict[str, Any]]:
        from codemm.eval.repotests import find_test_files, run_repo_tests

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
                                  "name": sym.name, "start": sym.start, "end": sym.end, "head": head,
                                  "body": body})  # fmt: skip
        per_repo = self.options.get("per_repo", 5)
        chosen: list[dict[str, Any]] = []
        for repo in REPOS:
            chosen += [i for i in items if i["repo"] == repo][:per_repo]
        # The repository's own tests, where some exercise the function and pass on the original.
        # Items with such tests go first, so a --limit slice keeps the strongest signal.
        candidates = {
            item["id"]: find_test_files(ctx.root / item["repo"], item["name"]) if item["path"].endswith(".py") else []
            for item in chosen
        }
        chosen.sort(key=lambda item: not candidates[item["id"]])
        chosen = chosen[: self.options.get("limit") or None]  # --limit: at most this many items per suite
        passes_unedited: dict[Path, bool] = {}  # a test file naming several functions runs once
        for item in chosen:
            repo_dir = ctx.root / item["repo"]
            for test in candidates[item["id"]]:
                if test not in passes_unedited:
                    passes_unedited[test] = run_repo_tests(repo_dir, test, limits=ctx.limits).passed
            item["tests"] = [t.relative_to(repo_dir).as_posix() for t in candidates[item["id"]] if passes_unedited[t]]
        return chosen

    def run_item(self, item: dict[str, Any], variant: Variant, sample: int, ctx: RunContext) -> dict[str, Any]:
        context = ""
        repo_dir = ctx.root / item["repo"]
        if variant.repo:
            from codemm.repo.retrieve import retriever_for

            index = ctx.index(repo_dir)
            own = (item["path"], item["start"], item["end"])
            hits = [h for h in retriever_for(index).search(item["head"], k=4) if not _overlaps(h, own)][:2]
            context = "".join(f"### {h.path}:{h.start}-{h.end}\n```\n{h.text}\n```\n\n" for h in hits)
        prompt = (f"{context}Complete the body of this function from {item['path']}. Reply with the body only, "
                  f"in one fenced block.\n\n```\n{item['head']}\n```")  # fmt: skip
        gen = ctx.generate(variant, [{"role": "user", "content": prompt}], sample, 128)
        guess = _indent_like(guess_body(gen.text, item["name"]), item["body"])
        record: dict[str, Any] = {**completion_metrics(guess, item["body"]), "tests_passed": None,
                                  "body": guess, "output": gen.text, "_generation": gen}  # fmt: skip
        if item["path"].endswith(".py"):
            # Dedented: a method's head and body are indented in their class, and must parse alone.
            record["risks"] = ctx.risks(textwrap.dedent(f"{item['head']}\n{guess}\n"), variant, repo_dir)
        return record

    def score(self, item: dict[str, Any], record: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        if not item["tests"]:
            return {}
        from codemm.eval.repotests import run_repo_tests

        repo_dir = ctx.root / item["repo"]
        lines = (repo_dir / item["path"]).read_text().splitlines()
        edited = "\n".join([*lines[: item["start"] - 1], item["head"], record["body"], *lines[item["end"] :]]) + "\n"
        results = [run_repo_tests(repo_dir, repo_dir / t, {item["path"]: edited}, ctx.limits) for t in item["tests"]]
        return {"tests_passed": all(r.passed for r in results)}


def completion_metrics(guess: str, gold: str) -> dict[str, Any]:
    gold_ids = set(IDENT.findall(gold))
    return {
        "exact_match": normalise(guess) == normalise(gold),
        "edit_similarity": difflib.SequenceMatcher(None, normalise(guess), normalise(gold)).ratio(),
        "identifier_recall": len(gold_ids & set(IDENT.findall(guess))) / max(1, len(gold_ids)),
    }


def fenced(output: str) -> str:
    """The first fenced code block of a reply, or all of it when the model wrote bare code."""
    match = FENCE.search(output)
    return match.group(1) if match else output


def guess_body(output: str, name: str) -> str:
    """The function body in a model's reply: small models repeat the signature, add imports before
    it and prose or other functions after it; only the named function's body is kept."""
    lines = fenced(output).splitlines()
    start = _definition_line(lines, name)
    if start is None:
        return "\n".join(lines).rstrip()  # a bare body, as asked
    head, body = _split(lines[start:])
    body_lines = body.splitlines()
    signature = head.splitlines()[-1] if head else ""
    if signature.rstrip().endswith("{"):
        depth = sum(line.count("{") - line.count("}") for line in head.splitlines())
        for i, line in enumerate(body_lines):
            depth += line.count("{") - line.count("}")
            if depth <= 0:
                return "\n".join(body_lines[: i + 1])
        return body.rstrip()
    indent = len(lines[start]) - len(lines[start].lstrip())
    for i, line in enumerate(body_lines):
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            return "\n".join(body_lines[:i]).rstrip()  # dedented: the function ended
    return body.rstrip()


# How a function is defined (not merely called or imported) in Python, Go, JS/TS or Rust, most
# telling first; {name} is the name sought, or a group capturing any name.
DEFINITIONS = (
    r"\b(?:def|func|function|fn)\s+(?:\([^)]*\)\s*)?{name}\b",  # Go methods have a receiver first
    r"\b{name}\s*[:=]\s*(?:async\s*)?(?:function\b|\()",  # const name = (...) => {, name: function
    r"^\s*(?:(?:public|private|protected|static|async|export|override)\s+)*{name}\s*[(<][^;]*[{{:]\s*$",  # methods
)
ANY_NAME = r"([A-Za-z_]\w*)"


def _definition_line(lines: list[str], name: str) -> int | None:
    """The line where ``name`` is defined."""
    for pattern in DEFINITIONS:
        compiled = re.compile(pattern.format(name=re.escape(name)))
        for i, line in enumerate(lines):
            if compiled.search(line):
                return i
    return None


def defined_name(code: str) -> str:
    """The name the first definition in ``code`` gives ("" when there is none)."""
    lines = code.splitlines()
    for pattern in DEFINITIONS:
        compiled = re.compile(pattern.format(name=ANY_NAME))
        for line in lines:
            if match := compiled.search(line):
                return match.group(1)
    return ""


def _indent_like(guess: str, gold: str) -> str:
    """Re-indents the guess to the gold body's indentation (a method's body sits deeper than the
    top-level function the model usually writes)."""
    first = next((line for line in gold.splitlines() if line.strip()), "")
    return textwrap.indent(textwrap.dedent(guess), first[: len(first) - len(first.lstrip())])


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
