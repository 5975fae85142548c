"""The harness end to end on the tiny model: run, resume, rerun, report, compare, variants."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from codemm.errors import BadInputError
from codemm.eval.context import Variant
from codemm.eval.report import summarize, write_report
from codemm.eval.runner import RunConfig, run_eval
from codemm.eval.tasks import TASKS, get_task


def config(model: Path, **overrides: object) -> RunConfig:
    base = dict(suites=["synthesis", "repoqa", "completion"], variants=[], model=str(model), quant="none",
                device="cpu", adapter=None, samples=1, seed=0, jobs=1, limit=2, max_new_tokens=8)  # fmt: skip
    return RunConfig(**{**base, **overrides})  # type: ignore[arg-type]


def numbers(out: Path) -> list[tuple]:
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    keep = ("passed", "gold_file_named", "edit_similarity", "exact_match", "output")
    return sorted((r["suite"], r["item"], r["variant"], r["sample"], *(str(r.get(k)) for k in keep)) for r in rows)


def test_run_report_and_identical_rerun(tiny_llama_long_dir: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    run_eval(config(tiny_llama_long_dir), first)
    rows = [json.loads(line) for line in (first / "results.jsonl").read_text().splitlines()]
    assert {(r["suite"], r["variant"]) for r in rows} == {
        ("synthesis", "base"), ("repoqa", "repo"), ("repoqa", "no-repo"), ("completion", "repo"), ("completion", "no-repo"),
    }  # fmt: skip
    assert all({"latency_s", "prompt_tokens", "new_tokens", "peak_rss_mib"} <= set(r["cost"]) for r in rows)
    # The sample repo's own tests judge parse_due_date (a random model's body fails them); no other item has tests.
    completion = [r for r in rows if r["suite"] == "completion"]
    assert {r["tests_passed"] for r in completion if r["item"].endswith(":parse_due_date")} == {False}
    assert {r["tests_passed"] for r in completion if not r["item"].endswith(":parse_due_date")} == {None}
    run = json.loads((first / "run.json").read_text())
    assert run["detectors"] == {"bandit": True, "detect-secrets": True, "hallucination": True, "memorization": True}
    assert run["config"]["seed"] == 0 and run["sandbox"]["guard"]

    md, page = write_report(first)
    text = md.read_text()
    assert "## repoqa" in text and "**repo − no-repo**" in text and "exact McNemar p" in text
    assert "bandit reports on its probe today: B404 CWE-78" in text and "All 4 detectors caught" in text
    assert page.read_text().count("data:image/png;base64,") == 3

    # rerun reproduces: same seed, same numbers
    proc = subprocess.run([sys.executable, "-m", "codemm.cli", "eval", "rerun", str(first), "--out", str(second)],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert numbers(first) == numbers(second)
    md2, _ = write_report(first, compare=second)
    assert "Compared with" in md2.read_text()


def test_resume_skips_what_is_done(tiny_llama_long_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cfg = config(tiny_llama_long_dir, suites=["synthesis"], limit=3)
    run_eval(cfg, out)
    lines = (out / "results.jsonl").read_text().splitlines()
    (out / "results.jsonl").write_text("\n".join(lines[:1]) + "\n")  # as if killed after the first item
    with pytest.raises(BadInputError, match="--resume"):
        run_eval(cfg, out)
    run_eval(cfg, out, resume=True)
    resumed = (out / "results.jsonl").read_text().splitlines()
    assert len(resumed) == 3 and resumed[0] == lines[0]
    assert [json.loads(x)["item"] for x in resumed] == [json.loads(x)["item"] for x in lines]
    with pytest.raises(BadInputError, match="different settings"):
        run_eval(config(tiny_llama_long_dir, suites=["synthesis"], limit=2), out, resume=True)


def test_a_damaged_run_json_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text("")  # what a full disk left before writes were atomic
    with pytest.raises(BadInputError, match="run.json is damaged"):
        RunConfig.load(tmp_path)


def test_samples_give_pass_at_k(tiny_llama_long_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "k"
    run_eval(config(tiny_llama_long_dir, suites=["synthesis"], limit=2, samples=5), out)
    entry = summarize(out)["suites"]["synthesis"]["variants"]["base"]
    assert "pass@5" in entry and "pass@10" not in entry and 0.0 <= entry["pass@1"] <= entry["pass@5"] <= 1.0


def test_jobs_score_in_parallel_and_keep_row_order(tiny_llama_long_dir: Path, tmp_path: Path) -> None:
    one, four = tmp_path / "one", tmp_path / "four"
    run_eval(config(tiny_llama_long_dir, suites=["synthesis"], limit=3, samples=3), one)
    run_eval(config(tiny_llama_long_dir, suites=["synthesis"], limit=3, samples=3, jobs=4), four)
    lines = [(out / "results.jsonl").read_text().splitlines() for out in (one, four)]
    keys = [[(r["item"], r["sample"], r["status"]) for r in map(json.loads, rows)] for rows in lines]
    assert len(keys[0]) == 9 and keys[0] == keys[1]  # same rows, same order, every sample scored


def test_quantized_variant_against_full_precision(tiny_llama_long_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "q"
    run_eval(config(tiny_llama_long_dir, suites=["synthesis"], variants=["quant=none", "quant=4bit"]), out)
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["variant"] for r in rows] == ["quant=none", "quant=4bit"] * 2
    block = summarize(out)["suites"]["synthesis"]
    assert [(c["baseline"], c["variant"]) for c in block["comparisons"]] == [("quant=none", "quant=4bit")]
    assert "mcnemar_p" in block["comparisons"][0]


def test_variants_parse_and_tasks_register() -> None:
    v = Variant.parse("no-repo+adapter=quill+quant=4bit")
    assert (v.repo, v.adapter, v.quant) == (False, "quill", "4bit")
    assert Variant.parse("adapter", default_adapter="x").adapter == "x"
    with pytest.raises(BadInputError, match="unknown variant part"):
        Variant.parse("turbo")
    get_task("synthesis")
    assert {"synthesis", "humaneval", "repoqa", "completion", "adapter_gain"} <= set(TASKS)
    with pytest.raises(BadInputError, match="unknown suite"):
        get_task("nope")
