"""The `edit` suite: every task's tests fail on its repository and pass with its reference solution
(in the sandbox), and the task scores codemm's edit loop with a scripted model."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from codemm.config import Settings
from codemm.eval.context import RunContext, Variant
from codemm.eval.repoqa import project_root
from codemm.eval.tasks import get_task
from codemm.eval.tasks.edit import load_tasks, read_files, run_task_tests
from tests.test_edit import ScriptedModel

TASKS = load_tasks(project_root())


def test_the_suite_has_at_least_20_tasks_in_python_and_javascript() -> None:
    assert len(TASKS) >= 20
    languages = {t["language"] for t in TASKS}
    assert languages == {"python", "javascript"}
    assert all(sum(t["language"] == lang for t in TASKS) >= 5 for lang in languages)


def _before_and_after(task: dict) -> tuple[str, str, str]:  # type: ignore[type-arg]
    before = run_task_tests(task)
    after = run_task_tests(task, read_files(Path(task["dir"]) / "solution"))
    return task["id"], before.status, after.status + (f" ({after.detail})" if not after.passed else "")


def test_every_task_fails_before_and_passes_with_its_reference_solution() -> None:
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(_before_and_after, TASKS))
    wrong = [o for o in outcomes if o[1] == "passed" or o[2] != "passed"]
    assert not wrong, wrong
    assert all(o[1] == "failed" for o in outcomes), outcomes  # failing tests, not a crash or a timeout


def test_an_early_exit_in_generated_code_does_not_pass() -> None:
    task = next(t for t in TASKS if t["id"] == "js-sum-start")
    assert run_task_tests(task, {"sum.js": "process.exit(0);\n"}).status == "failed"
    task = next(t for t in TASKS if t["id"] == "py-add-sign")
    assert run_task_tests(task, {"calc.py": "import os\nos._exit(0)\n"}).status == "failed"


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    return RunContext(Settings(model="fake"), root=project_root())


def test_the_task_scores_one_try_three_tries_and_the_loop_gain(ctx: RunContext) -> None:
    task = get_task("edit")
    items = {i["id"]: i for i in task.items(ctx)}
    wrong = "calc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a * b\n>>>>>>> REPLACE\n"
    right = "calc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n"
    rows = []
    for replies in ([right], [wrong, right], [wrong]):
        ctx._models["none"] = ScriptedModel(replies=replies)
        rows.append({"variant": "repo", **task.run_item(items["py-add-sign"], Variant("repo"), 0, ctx)})
    assert [(r["passed_1"], r["passed_3"], r["tries_used"]) for r in rows] == [
        (True, True, 1), (False, True, 2), (False, False, 3)
    ]  # fmt: skip
    assert rows[0]["lines_changed"] == 2 and rows[0]["risks"]["insecure"] == []
    assert rows[1]["tries"][0]["test"]["verdict"] == "failed"
    assert (Path(items["py-add-sign"]["dir"]) / "repo" / "calc.py").read_text().count("a - b") == 1  # never written
    loop = task.summary(rows)["loop"]["repo"]
    assert loop["pass_1"] == pytest.approx(1 / 3) and loop["pass_3"] == pytest.approx(2 / 3)
    assert loop["loop_gain"] == pytest.approx(1 / 3) and loop["loop_gain_ci"][0] <= loop["loop_gain"]
    assert loop["mean_tries"] == pytest.approx(2.0)
    ctx.close()
