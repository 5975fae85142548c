"""`codemm edit` on the real SmolLM2: a slice of the `edit` eval suite (3 tasks, each with up to 3
tries, tests in the sandbox), and the command itself on a small repository, where whatever the model
writes, the tree ends either unchanged or changed and committed, never half. The full suite is the
documented benchmark `codemm eval run edit --out runs/edit` (README, "codemm edit")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from codemm.eval.repoqa import project_root
from tests.test_edit import CALC, make_repo

pytestmark = pytest.mark.e2e


def codemm(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codemm.cli", *args], capture_output=True, text=True, env=env,
                          timeout=900)  # fmt: skip


def test_edit_suite_slice_reports_both_pass_rates_and_the_loop_gain(smol_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = codemm("eval", "run", "edit", "--limit", "3", "--max-new-tokens", "160", "--out", str(out), env=smol_env)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 3
    for row in rows:
        assert 1 <= row["tries_used"] <= 3 and len(row["tries"]) == row["tries_used"]
        assert row["passed_3"] or row["tries_used"] == 3  # only a pass stops the loop early
        assert row["passed_1"] <= row["passed_3"]
    loop = json.loads((out / "summary.json").read_text())["suites"]["edit"]["extra"]["loop"]["repo"]
    assert loop["items"] == 3 and loop["loop_gain"] == pytest.approx(loop["pass_3"] - loop["pass_1"])
    assert "loop gain" in (out / "report.md").read_text()
    # the suite's repositories are only read: every try ran in the sandbox
    status = subprocess.run(["git", "status", "--porcelain", "eval/suites/edit"], cwd=project_root(),
                            capture_output=True, text=True).stdout  # fmt: skip
    assert status == ""


def test_edit_command_on_smollm2_leaves_the_tree_whole(smol_env: dict[str, str], tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout
    proc = codemm("edit", "add() in calc.py subtracts instead of adding. Fix it.", "--repo", str(repo),
                  "--test", f"{sys.executable} test_calc.py", "--tries", "2", "--max-new-tokens", "128", "--json",
                  env=smol_env)  # fmt: skip
    assert "Traceback" not in proc.stderr
    data = json.loads(proc.stdout)
    assert 1 <= data["tries_used"] <= 2
    after = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout
    assert status == ""  # never half: either unchanged or changed and committed
    if proc.returncode == 0:
        assert data["passed"] and data["commit"] == after.strip() and (repo / "calc.py").read_text() != CALC
    else:
        assert proc.stderr.strip().splitlines()[-1].startswith("codemm: error: no try passed the tests")
        assert after == head and (repo / "calc.py").read_text() == CALC
