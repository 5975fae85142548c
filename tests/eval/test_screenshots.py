"""The screenshots suite: its shipped data is true to its images and the repository, and the task
scores OCR, locations and answers with and without the image."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codemm.citations import Citation
from codemm.eval.report import write_report
from codemm.eval.runner import RunConfig, run_eval
from codemm.eval.screens import cer
from codemm.eval.tasks.screenshots import SHIPPED, points_at
from codemm.vision.images import load_image
from codemm.vision.ocr import available_backends, ocr_image

ROOT = Path(__file__).resolve().parents[2]
ITEMS = [json.loads(line) for line in (ROOT / SHIPPED).read_text().splitlines()]
needs_ocr = pytest.mark.skipif(not available_backends(), reason="no OCR backend installed")


def test_gold_locations_exist_in_the_repository() -> None:
    kinds = {item["kind"] for item in ITEMS}
    assert kinds == {"traceback", "code", "dialog", "diagram"}
    for item in ITEMS:
        assert item["gold_locations"] or item["facts"], item["id"]
        for gold in item["gold_locations"]:
            path, _, lines = gold.rpartition(":")
            source = (ROOT / item["repo"] / path).read_text().splitlines()
            first = int(lines.split("-")[0])
            assert 1 <= first <= len(source)
            if item["kind"] == "code":  # the screenshot shows the code at that place
                assert source[first - 1] == item["text"].splitlines()[0]
            if item["kind"] == "traceback":
                assert source[first - 1].strip() in item["text"]


@needs_ocr
@pytest.mark.parametrize("item", ITEMS, ids=[i["id"] for i in ITEMS])
def test_each_image_reads_back_as_its_text(item: dict) -> None:
    text = ocr_image(load_image(ROOT / SHIPPED.parent / item["image"]).image).text
    assert cer(item["text"], text, collapse=item["kind"] in ("dialog", "diagram")) < 0.15
    for fact in item["facts"]:
        assert fact in text  # the answer is on the screen


def test_a_location_counts_only_when_written_and_precise() -> None:
    exact = Citation("tasktracker/dates.py", 28, 28, True)
    assert points_at([exact], "tasktracker/dates.py:28")
    assert points_at([Citation("tasktracker/dates.py", 10, 28, True)], "tasktracker/dates.py:28")
    assert not points_at([Citation("tasktracker/dates.py", 1, 200, True)], "tasktracker/dates.py:28")  # whole file
    assert not points_at(
        [Citation("tasktracker/dates.py", 28, 28, True, source="attributed")], "tasktracker/dates.py:28"
    )
    assert not points_at([Citation("tasktracker/dates.py", 28, 28, False)], "tasktracker/dates.py:28")
    assert not points_at([Citation("tasktracker/models.py", 28, 28, True)], "tasktracker/dates.py:28")
    assert points_at([Citation("tasktracker/dates.py", 12, 12, True)], "tasktracker/dates.py:10-28")


@needs_ocr
def test_suite_scores_image_against_no_image(tiny_llama_long_dir: Path, tmp_path: Path) -> None:
    config = RunConfig(suites=["screenshots"], variants=[], model=str(tiny_llama_long_dir), quant="none",
                       device="cpu", adapter=None, samples=1, seed=0, jobs=1, limit=None, max_new_tokens=8)  # fmt: skip
    run_eval(config, tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * len(ITEMS)
    with_image = [r for r in rows if r["variant"] == "image"]
    without = [r for r in rows if r["variant"] == "no-image"]
    assert all(0.0 <= r["cer"] < 0.15 and r["ocr"] in available_backends() for r in with_image)
    assert not any("cer" in r for r in without)
    # A random model writes nothing useful: what the image variant gets right is codemm's own reading
    # of the traceback (the verified location ahead of the answer); without the image there is none.
    tracebacks = [r for r in with_image if r["kind"] == "traceback"]
    assert tracebacks and all(r["location_found"] and r["correct"] for r in tracebacks)
    assert all(r["location_found"] is False for r in without if r["kind"] == "traceback")
    assert all(r["location_found"] is None and 0.0 <= r["facts"] <= 1.0 for r in rows if r["kind"] == "dialog")
    md, _ = write_report(tmp_path)
    text = md.read_text()
    assert "## screenshots" in text and "**image − no-image**" in text and "cer" in text
