"""`codemm ask` end to end with SmolLM2 over the sample repository."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-repo"


def test_answer_names_the_gold_file_in_retrieved_and_a_valid_citation(smol_env: dict[str, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "codemm.cli", "ask", "Where is parse_due_date defined and what does it return?",
         "--repo", str(SAMPLE), "--json", "--max-new-tokens", "96"],
        capture_output=True, text=True, env=smol_env, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert "tasktracker/dates.py" in [r["path"] for r in data["retrieved"]]
    valid = [c for c in data["citations"] if c["valid"]]
    assert any(c["path"] == "tasktracker/dates.py" for c in valid), data["citations"]
    assert data["answer"].strip()
