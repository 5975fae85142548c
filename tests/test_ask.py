"""`codemm ask` over a repository, on the tiny random model: plumbing, JSON fields, patch safety."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-repo"


def codemm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codemm.cli", *args], capture_output=True, text=True, timeout=300)


def test_ask_json_reports_the_context_it_used(tiny_llama_long_dir: Path) -> None:
    proc = codemm("ask", "Where is parse_due_date defined?", "--repo", str(SAMPLE), "--model", str(tiny_llama_long_dir),
                  "--json", "--max-new-tokens", "8", "-k", "3")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["repo"] == str(SAMPLE.resolve())
    assert data["retrieved"][0]["path"] == "tasktracker/dates.py"
    assert 1 <= len(data["retrieved"]) <= 3
    assert data["context_match"] is True and data["adapter"] is None
    assert data["context_tokens"]["used"] <= data["context_tokens"]["budget"] == 4096 - 8
    assert isinstance(data["dropped"], list) and isinstance(data["citations"], list)


def test_small_window_drops_context_and_says_so(tiny_llama_dir: Path) -> None:
    proc = codemm("ask", "Where is parse_due_date defined?", "--repo", str(SAMPLE), "--model", str(tiny_llama_dir),
                  "--json", "--max-new-tokens", "8", "-k", "3")  # fmt: skip
    data = json.loads(proc.stdout)
    assert data["context_tokens"]["used"] <= data["context_tokens"]["budget"] == 512 - 8
    assert any(d.startswith("chunk tasktracker/dates.py:") for d in data["dropped"])
    assert data["answer"] and data["context_match"] is True  # matched, did not fit: reported as dropped


def test_unrelated_question_says_the_context_had_no_match(tiny_llama_dir: Path) -> None:
    proc = codemm("ask", "What is the capital of France?", "--repo", str(SAMPLE), "--model", str(tiny_llama_dir),
                  "--json", "--max-new-tokens", "4")  # fmt: skip
    data = json.loads(proc.stdout)
    assert data["context_match"] is False and data["retrieved"] == []
    assert data["answer"].startswith("Note: the repository context had no match")


def test_botched_patch_prints_raw_output_and_changes_nothing(tiny_llama_dir: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(SAMPLE, repo)
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()}
    proc = codemm("ask", "add a --verbose flag to the CLI", "--patch", "--apply", "--repo", str(repo),
                  "--model", str(tiny_llama_dir), "--max-new-tokens", "16")  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("codemm: error: could not build a valid patch")
    assert proc.stdout  # the raw model output (whatever the random model wrote), for the user to see
    assert {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()} == before


def test_apply_without_patch_is_bad_input() -> None:
    proc = codemm("ask", "hi", "--apply", "--no-repo")
    assert proc.returncode == 2 and "--apply only makes sense with --patch" in proc.stderr
