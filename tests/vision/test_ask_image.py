"""`codemm ask --image`: OCR text and image locations in the prompt and the JSON; vision mode on a VLM."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from codemm.eval.screens import fonts, real_traceback, render_text
from codemm.vision.ocr import available_backends
from tests.fixtures.tiny_models import build_tiny_llama
from tests.fixtures.tiny_vision import build_tiny_siglip

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-repo"


def codemm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codemm.cli", *args], capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(not available_backends(), reason="no OCR backend installed")
def test_traceback_screenshot_reaches_the_prompt_and_json(tiny_llama_long_dir: Path, tmp_path: Path) -> None:
    shot = tmp_path / "traceback.png"
    render_text(real_traceback(SAMPLE), fonts()["dejavu-mono"], 16, "dark").save(shot)
    proc = codemm("ask", "What error is shown and which file and line raised it?", "--image", str(shot),
                  "--repo", str(SAMPLE), "--model", str(tiny_llama_long_dir), "--json", "--max-new-tokens", "8")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    image = data["images"][0]
    assert image["mode"] == "ocr" and image["width"] > 100 and image["source"].startswith("ocr:")
    assert "tasktracker/dates.py" in image["ocr_text"] and "line 28" in image["ocr_text"]
    assert data["retrieved"][0]["path"] == "tasktracker/dates.py"  # the code the traceback points at, first
    assert data["retrieved"][0]["start"] <= 28 <= data["retrieved"][0]["end"]


def test_code_screenshot_text_steers_retrieval(tiny_llama_long_dir: Path) -> None:
    from codemm.ask import AskRequest, prepare
    from codemm.config import Settings
    from codemm.models.factory import open_model
    from codemm.prompt import ImageText
    from codemm.repo.index import RepoIndex

    code = "\n".join((SAMPLE / "tasktracker" / "dates.py").read_text().splitlines()[9:27])
    loaded = open_model(Settings(model=str(tiny_llama_long_dir), device="cpu"))
    index = RepoIndex(SAMPLE)
    index.refresh()
    question = "Which file of the repository defines the function in this screenshot?"
    try:
        plain = prepare(loaded, AskRequest(question, index=index, k=3, map_tokens=0), 16)
        shown = prepare(loaded, AskRequest(question, index=index, images=[ImageText("shot.png", code)], k=3,
                                           map_tokens=0), 16)  # fmt: skip
    finally:
        index.close()
    assert "tasktracker/dates.py" not in [h.path for h in plain.prompt.included]
    assert shown.prompt.included[0].path == "tasktracker/dates.py"


def test_vision_mode_needs_a_vision_model(tiny_llama_dir: Path, tmp_path: Path) -> None:
    shot = tmp_path / "x.png"
    render_text("hello", fonts()["dejavu-mono"], 16).save(shot)
    proc = codemm(
        "ask", "what?", "--no-repo", "--image", str(shot), "--image-mode", "vision", "--model", str(tiny_llama_dir)
    )
    assert proc.returncode == 2 and "has no vision path" in proc.stderr


def test_composed_vlm_takes_pixels_in_vision_mode(tmp_path: Path) -> None:
    lm = build_tiny_llama(tmp_path / "lm", window=1024)
    tower = build_tiny_siglip(tmp_path / "tower")
    proc = codemm("models", "compose", "--model", str(lm), "--tower", str(tower), "--out", str(tmp_path / "vlm"))
    assert proc.returncode == 0, proc.stderr
    info = json.loads(codemm("models", "info", str(tmp_path / "vlm"), "--json").stdout)
    assert info["path"] == "llava-composed"
    shot = tmp_path / "x.png"
    render_text("def f(): pass", fonts()["dejavu-mono"], 16).save(shot)
    proc = codemm("ask", "what is this?", "--no-repo", "--image", str(shot), "--image-mode", "vision",
                  "--model", str(tmp_path / "vlm"), "--json", "--max-new-tokens", "4")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["images"][0]["mode"] == "vision" and data["images"][0]["ocr_text"] == ""
    assert data["tokens"]["prompt"] > 16  # the 16 image-patch tokens are in the prompt
