"""The CLI's contract: one line on stderr and a non-zero exit for bad input, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def codemm(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codemm.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("codemm: error: ")
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0]


def test_version_and_help() -> None:
    from codemm import __version__

    assert codemm("--version").stdout.strip() == f"codemm {__version__}"
    out = codemm("--help").stdout
    for command in ("ask", "models", "config", "bench"):
        assert command in out


def test_missing_model_is_one_line_exit_2() -> None:
    assert_one_line_error(codemm("ask", "hi", "--model", "/nonexistent"), 2, "/nonexistent")


def test_a_missing_model_fails_before_the_repository_is_indexed(tmp_path: Path) -> None:
    from codemm.repo.index import index_path

    (tmp_path / "a.py").write_text("def f():\n    return 1\n")
    assert_one_line_error(codemm("ask", "hi", "--repo", str(tmp_path), "--model", "/nonexistent"), 2, "/nonexistent")
    assert not index_path(tmp_path.resolve()).exists()


def test_bad_gguf_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 10)
    assert_one_line_error(codemm("ask", "hi", "--model", str(bad)), 2, "broken.gguf")


def test_resuming_a_run_that_never_started_is_one_line_exit_2(tmp_path: Path) -> None:
    """No estimate, no library notice before the error: the line a user reads is the one that matters."""
    (tmp_path / "a.py").write_text("def f():\n    return 1\n")
    proc = codemm("adapters", "train", "--repo", str(tmp_path), "--name", "never", "--resume")
    assert_one_line_error(proc, 2, "no checkpoint of 'never'")


def test_bad_setting_is_one_line_exit_2() -> None:
    assert_one_line_error(codemm("config", "show", env={"CODEMM_QUANT": "2bit"}), 2, "quant")


def test_debug_shows_the_traceback() -> None:
    proc = codemm("ask", "hi", "--model", "/nonexistent", env={"CODEMM_DEBUG": "1"})
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_config_show_json_reports_sources() -> None:
    proc = codemm("--quant", "8bit", "config", "show", "--json", env={"CODEMM_SEED": "5"})
    data = json.loads(proc.stdout)
    assert data["settings"]["quant"] == "8bit" and data["sources"]["quant"] == "flag"
    assert data["settings"]["seed"] == 5 and data["sources"]["seed"] == "CODEMM_SEED"


@pytest.mark.parametrize("flag_position", ["global", "command"])
def test_ask_json_on_tiny_model(tiny_llama_dir: Path, flag_position: str) -> None:
    model = ["--model", str(tiny_llama_dir)]
    args = [*model, "ask", "hello", "--no-repo", "--json", "--max-new-tokens", "6"]
    if flag_position == "command":
        args = ["ask", "hello", "--no-repo", "--json", "--max-new-tokens", "6", *model]
    proc = codemm(*args)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["model"] == tiny_llama_dir.name and data["quant"] == "none"
    assert 1 <= data["tokens"]["new"] <= 6 and data["tokens"]["prompt"] > 0
    assert set(data["timings"]) >= {"load_s", "ttft_s", "total_s", "tokens_per_s"}
    assert isinstance(data["answer"], str)
