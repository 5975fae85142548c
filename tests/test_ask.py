"""`codemm ask` over a repository, on the tiny random model: plumbing, JSON fields, patch safety."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_question_from_stdin_and_from_a_file(tiny_llama_long_dir: Path, tmp_path: Path) -> None:
    """A pasted log is longer than a shell argument wants to be: `ask -` and --question-file read it."""
    log = "Why does this fail?\n" + "\n".join(f'  File "tasktracker/dates.py", line {n}' for n in range(20, 29))
    common = ["--repo", str(SAMPLE), "--model", str(tiny_llama_long_dir), "--json", "--max-new-tokens", "4"]
    piped = subprocess.run([sys.executable, "-m", "codemm.cli", "ask", "-", *common], input=log,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    question_file = tmp_path / "q.txt"
    question_file.write_text(log)
    from_file = codemm("ask", "--question-file", str(question_file), *common)
    assert from_file.returncode == 0, from_file.stderr
    results = [json.loads(proc.stdout) for proc in (piped, from_file)]
    for data in results:  # the whole question reached retrieval: the frames' file is in the context
        assert "tasktracker/dates.py" in [r["path"] for r in data["retrieved"]]
    assert results[0]["tokens"]["prompt"] == results[1]["tokens"]["prompt"]  # the same question both ways
    both = codemm("ask", "why?", "--question-file", str(question_file), *common)
    assert both.returncode == 2 and "not both" in both.stderr
    empty = subprocess.run([sys.executable, "-m", "codemm.cli", "ask", "-", *common], input="  \n",
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert empty.returncode == 2 and empty.stderr.strip() == "codemm: error: the question is empty"


def test_outside_a_project_ask_says_no_repository_is_used(tiny_llama_dir: Path, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "codemm.cli", "ask", "hello", "--model", str(tiny_llama_dir),
                           "--max-new-tokens", "2", "--verbose"], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0] == "codemm: note: not inside a project and no --repo given: answering without a repository"
    # --verbose names engine and adapter, on a line of its own (the answer ended with a newline)
    stats = [line for line in lines if line.startswith("[")]
    assert len(stats) == 1 and "(transformers)" in stats[0] and "adapter none" in stats[0]
    assert proc.stdout.endswith("\n")


@pytest.mark.parametrize(
    ("sources", "relevant"),
    [(["bm25"], True), (["card_bm25"], True), (["dense", "symbols"], True), (["dense", "card_dense"], False)],
)
def test_a_hit_needs_lexical_or_symbol_evidence(sources: list[str], relevant: bool) -> None:
    from codemm.ask import is_relevant
    from codemm.repo.retrieve import Hit

    assert is_relevant(Hit("a.py", 1, 2, 0.5, sources)) is relevant
