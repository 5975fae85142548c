"""The harness on SmolLM2: a slice of every shipped suite (the first 3 items of each), then
`codemm eval rerun` of that run; same seed, same numbers. The full shipped suites take about 17
minutes a run on 2 cores, too long for CI twice: they are the documented benchmark
`codemm eval run --seed 7 --out runs/full` (README, "Evaluation")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def codemm(*args: str, env: dict[str, str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "codemm.cli", *args], capture_output=True, text=True, env=env,
                          timeout=2400)  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_shipped_suites_report_and_reproduce(smol_env: dict[str, str], tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    codemm("eval", "run", "--seed", "7", "--limit", "3", "--out", str(first), env=smol_env)
    codemm("eval", "rerun", str(first), "--out", str(second), env=smol_env)
    a = json.loads((first / "summary.json").read_text())
    b = json.loads((second / "summary.json").read_text())
    assert set(a["suites"]) == {"synthesis", "repoqa", "completion", "screenshots"}
    assert a["suites"] == b["suites"]  # same seed, same numbers
    rows = [json.loads(line) for line in (first / "results.jsonl").read_text().splitlines()]
    shipped = {"synthesis": 3, "repoqa": 3 * 2, "completion": 3 * 2, "screenshots": 3 * 2}
    assert {s: sum(1 for r in rows if r["suite"] == s) for s in shipped} == shipped

    report = (first / "report.md").read_text()
    assert "**repo − no-repo**" in report and "paired bootstrap 95% CI" in report
    assert "**image − no-image**" in report
    assert "### Detector self-check" in report and "B404 CWE-78" in report and "B602" in report
    assert (first / "report.html").read_text().count("data:image/png;base64,") == 4
    # What showing the screen gains: codemm reads the traceback's location off the screenshot.
    shots = a["suites"]["screenshots"]["variants"]
    assert shots["image"]["metrics"]["location_found"] > shots["no-image"]["metrics"]["location_found"]
    assert shots["image"]["metrics"]["cer"] < 0.1
