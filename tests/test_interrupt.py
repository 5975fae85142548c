"""Ctrl-C during `codemm ask` exits 130, wherever it lands (index, model load, generation), with
no C++ `terminate` abort (exit 134)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-repo"


@pytest.mark.parametrize("attempt", range(10))
def test_sigint_during_ask_exits_130(attempt: int, tiny_llama_long_dir: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "codemm.cli", "ask", "Where is parse_due_date defined?", "--repo", str(SAMPLE),
               "--model", str(tiny_llama_long_dir), "--max-new-tokens", "3000", "--temperature", "1.0", "-k", "1",
               "--map-tokens", "0"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # From the imports (codemm's first line runs about 0.3 s after exec) through indexing and loading
    # to generation: 0.8 s to about 5 s.
    time.sleep(0.8 + attempt * 0.5)
    process.send_signal(signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    if process.returncode == 0:
        pytest.skip("the answer finished before the signal")  # nothing to interrupt
    assert process.returncode == 130, stderr
    assert "terminate called" not in stderr and "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == "codemm: interrupted"
