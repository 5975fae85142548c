"""`codemm edit` as an eval suite: a small repository, a change request, tests that fail before and
pass after (Python and JavaScript, ``eval/suites/edit/tasks/*``). Each item runs codemm's own edit
loop (up to 3 tries, each failure fed back) with nothing written; the tests of every try run in the
sandbox. One run gives pass after 1 try and after 3 tries, so the loop's gain is paired per item."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from codemm.eval.context import RunContext, Variant
from codemm.eval.repotests import INSTALL_PYTEST, PYTEST_RAISES
from codemm.eval.sandbox import SandboxLimits, SandboxResult, run_program, sandbox_python
from codemm.eval.tasks.base import Task, register

SUITE = Path("eval/suites/edit/tasks")
TRIES = 3

# The wrappers read the run's secret first, run the tests, and write the secret last: a test run
# that exits early (generated code calling exit(0)) never writes it and fails.
PYTHON_WRAPPER = f"""
import sys, runpy
token = sys.stdin.readline().strip()
sys.stdin.close()
sys.path.insert(0, "")
{PYTEST_RAISES}
try:
    import pytest
except ImportError:
    {INSTALL_PYTEST}
tests = runpy.run_path(sys.argv[1], run_name="edit_tests")
for name, test in list(tests.items()):
    if name.startswith("test_") and callable(test):
        test()
open("result", "w").write(token)
"""
NODE_WRAPPER = """
const fs = require("fs");
const token = fs.readFileSync(0, "utf8").trim();
require(require("path").resolve(process.argv[1]));
fs.writeFileSync("result", token);
"""


def suite_dir(root: Path) -> Path:
    return root / SUITE


def load_tasks(root: Path) -> list[dict[str, Any]]:
    items = []
    for path in sorted(suite_dir(root).glob("*/task.json")):
        item = json.loads(path.read_text(encoding="utf-8"))
        item["dir"] = str(path.parent)
        items.append(item)
    return items


def read_files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8") for p in sorted(folder.rglob("*"))
            if p.is_file()}  # fmt: skip


def test_command(item: dict[str, Any]) -> str:
    """How a user would run the task's tests (shown in the loop's output and fed back)."""
    return f"python {item['test']}" if item["language"] == "python" else f"node {item['test']}"


def run_task_tests(item: dict[str, Any], edited: dict[str, str] | None = None, limits: SandboxLimits | None = None
                   ) -> SandboxResult:  # fmt: skip
    """The task's tests on its repository with ``edited`` files laid over it, in the sandbox."""
    files = {**read_files(Path(item["dir"]) / "repo"), **(edited or {})}
    if item["language"] == "python":
        argv = [sandbox_python(), "-I", "-B", "-c", PYTHON_WRAPPER, item["test"]]
    else:
        argv = ["node", "-e", NODE_WRAPPER, item["test"]]
    return run_program(argv, files, limits)


@register
class Edit(Task):
    name = "edit"
    default_variants = ("repo",)
    primary = "passed_3"
    binary = True

    def items(self, ctx: RunContext) -> list[dict[str, Any]]:
        return load_tasks(ctx.root)[: self.options.get("limit") or None]

    def run_item(self, item: dict[str, Any], variant: Variant, sample: int, ctx: RunContext) -> dict[str, Any]:
        from codemm.checks import CheckResult
        from codemm.edit import EditFailed, EditOptions, run_edit

        repo = Path(item["dir"]) / "repo"
        model = ctx.model(variant)
        index = ctx.index(repo) if variant.repo else None
        command = test_command(item)

        def checker(files: dict[str, str]) -> tuple[CheckResult | None, CheckResult | None]:
            run = run_task_tests(item, files, ctx.limits)
            verdict = {"passed": "passed", "timeout": "timeout"}.get(run.status, "failed")
            return None, CheckResult(verdict, run.wall_s, (run.stdout + run.stderr)[-8000:], command)

        options = EditOptions(item["request"], test_cmd=command, tries=TRIES, write=False,
                              generation=ctx.sampling(sample, ctx.max_new_tokens),
                              graph=ctx.settings.graph)  # fmt: skip
        started = time.perf_counter()
        try:
            result = run_edit(model, repo, options, index=index, checker=checker)
        except EditFailed as exc:
            result = exc.result
        tries = result.tries
        passed_at = next((t.number for t in tries if t.passed), None)
        final = next((t for t in tries if t.passed), tries[-1] if tries else None)
        record: dict[str, Any] = {
            "passed_1": passed_at == 1,
            "passed_3": passed_at is not None,
            "tries_used": len(tries),
            "lines_changed": _lines_changed(final.diff if final else ""),
            "edit_s": round(time.perf_counter() - started, 3),
            "no_patch_tries": sum(1 for t in tries if t.problem),
            "tries": [{k: v for k, v in t.as_json().items() if k != "reply"} for t in tries],
            "output": "\n\n".join(f"--- try {t.number} ({t.verdict()})\n{t.reply}" for t in tries),
            "_generation": _Cost(sum(t.new_tokens for t in tries), tries),
        }
        # The risk detectors read whole files (a diff's fragments do not parse): the edited Python files.
        code = "\n\n".join(text for path, text in (final.contents if final else {}).items() if path.endswith(".py"))
        if code.strip():
            record["risks"] = ctx.risks(code, variant, repo)
        return record

    def summary(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """The loop's gain: pass after 3 tries minus pass after 1, paired per item, with its interval."""
        from codemm.eval.stats import mcnemar_exact, paired_bootstrap, wilson_interval

        notes = []
        data: dict[str, Any] = {}
        for variant in dict.fromkeys(r["variant"] for r in rows):
            vrows = [r for r in rows if r["variant"] == variant and "passed_1" in r]
            one = [float(r["passed_1"]) for r in vrows]
            three = [float(r["passed_3"]) for r in vrows]
            gain, lo, hi = paired_bootstrap(one, three)
            p = mcnemar_exact([x > 0 for x in one], [x > 0 for x in three])
            n = len(vrows)
            data[variant] = {
                "items": n, "pass_1": sum(one) / n if n else 0.0, "pass_1_ci": wilson_interval(int(sum(one)), n),
                "pass_3": sum(three) / n if n else 0.0, "pass_3_ci": wilson_interval(int(sum(three)), n),
                "loop_gain": gain, "loop_gain_ci": (lo, hi), "mcnemar_p": p,
                "mean_tries": sum(r["tries_used"] for r in vrows) / n if n else 0.0,
            }  # fmt: skip
            d = data[variant]
            notes.append(
                f"**{variant}**: pass after 1 try {d['pass_1']:.3f} (95% CI {d['pass_1_ci'][0]:.2f}-"
                f"{d['pass_1_ci'][1]:.2f}), after {TRIES} tries {d['pass_3']:.3f} ({d['pass_3_ci'][0]:.2f}-"
                f"{d['pass_3_ci'][1]:.2f}); loop gain {gain:+.3f} (paired bootstrap 95% CI {lo:+.3f} to {hi:+.3f}, "
                f"exact McNemar p = {p:.3g}), mean tries {d['mean_tries']:.2f}, {n} items."
            )
        return {"notes": notes, "loop": data}


class _Cost:
    """What the runner reads off a generation: tokens over all tries."""

    def __init__(self, new_tokens: int, tries: list[Any]) -> None:
        self.new_tokens = new_tokens
        self.prompt_tokens = sum(t.prompt_tokens for t in tries)
        total = sum(t.generation_s for t in tries)
        self.tokens_per_s = new_tokens / total if total > 0 else 0.0


def _lines_changed(diff: str) -> int:
    return sum(1 for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++ ", "--- ")))
