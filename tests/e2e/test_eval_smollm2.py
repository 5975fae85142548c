"""The harness on SmolLM2: a slice of every shipped suite, twice with the same seed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def run(out: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codemm.cli", "eval", "run", "synthesis", "repoqa", "completion", "--limit", "2",
         "--max-new-tokens", "32", "--seed", "7", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=1800,
    )  # fmt: skip


def test_shipped_suites_report_and_reproduce(smol_env: dict[str, str], tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        proc = run(out, smol_env)
        assert proc.returncode == 0, proc.stderr
    a = json.loads((first / "summary.json").read_text())
    b = json.loads((second / "summary.json").read_text())
    assert a["suites"] == b["suites"]  # same seed, same numbers
    report = (first / "report.md").read_text()
    assert "**no-repo − repo**" in report and "paired bootstrap 95% CI" in report
    assert "seeded insecure sample (detector self-check): B404 CWE-78" in report and "B602" in report
    assert (first / "report.html").read_text().count("data:image/png;base64,") == 3
