"""Screenshot of a real traceback from the sample repository, through OCR, to SmolLM2's answer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from codemm.eval.screens import fonts, real_traceback, render_text
from codemm.vision.ocr import available_backends

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not available_backends(), reason="no OCR backend installed")]
SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-repo"


def test_traceback_file_and_line_reach_the_answer(smol_env: dict[str, str], tmp_path: Path) -> None:
    shot = tmp_path / "traceback.png"
    render_text(real_traceback(SAMPLE), fonts()["dejavu-mono"], 16, "dark").save(shot)
    proc = subprocess.run(
        [sys.executable, "-m", "codemm.cli", "ask", "What error is shown and which file and line raised it?",
         "--image", str(shot), "--repo", str(SAMPLE), "--json", "--max-new-tokens", "64"],
        capture_output=True, text=True, env=smol_env, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    ocr = data["images"][0]["ocr_text"]
    assert "tasktracker/dates.py" in ocr and "line 28" in ocr
    assert "tasktracker/dates.py:28" in data["answer"]
    assert data["image_locations"] == ["tasktracker/dates.py:28 (in parse_due_date)"]
    assert data["retrieved"][0]["path"] == "tasktracker/dates.py"
