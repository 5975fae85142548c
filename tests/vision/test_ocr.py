"""OCR on generated screenshots: identifiers and locations come back exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from codemm.eval.screens import CODE, diagram, dialog, fonts, real_traceback, render_text
from codemm.repo.index import RepoIndex
from codemm.vision.images import image_notes, read_images
from codemm.vision.locations import locations_in_index
from codemm.vision.ocr import NO_TESSERACT_NOTE, OcrWord, available_backends, layout_lines, ocr_image

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-repo"
BACKENDS = available_backends()
pytestmark = pytest.mark.skipif(not BACKENDS, reason="no OCR backend installed")


@pytest.mark.parametrize("backend", BACKENDS)
def test_traceback_screenshot_gives_file_line_and_function(backend: str) -> None:
    trace = real_traceback(SAMPLE)
    assert 'File "tasktracker/dates.py", line 28, in parse_due_date' in trace  # a real traceback
    text = ocr_image(render_text(trace, fonts()["dejavu-mono"], 16, "dark"), backend).text
    assert "tasktracker/dates.py" in text and "line 28" in text
    assert "ValueError" in text and "someday" in text
    with RepoIndex(SAMPLE) as index:
        index.refresh(embed=False)
        locations = locations_in_index(text, index)
    assert [(loc.path, loc.line, loc.function, loc.verified) for loc in locations] == [
        ("tasktracker/dates.py", 28, "parse_due_date", True)
    ]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_code_screenshot_keeps_identifiers_and_indentation(backend: str, theme: str) -> None:
    text = ocr_image(render_text(CODE, fonts()["dejavu-mono"], 16, theme), backend).text
    assert "timedelta(days=" in text and "fromisoformat" in text and "tomorrow" in text
    lines = text.splitlines()
    assert lines[1].startswith("    value") and lines[3].startswith("        return")  # indentation rebuilt


def test_layout_orders_lines_and_rebuilds_indentation() -> None:
    words = [OcrWord("return", 40, 30, 60, 10), OcrWord("x", 110, 30, 10, 10), OcrWord("def", 0, 10, 30, 10),
             OcrWord("f():", 40, 11, 40, 10)]  # fmt: skip
    lines = layout_lines(words)
    assert [(line.text, line.indent) for line in lines] == [("def f():", 0), ("return x", 4)]


def _sans() -> Path:
    return Path(str(fonts()["dejavu-mono"]).replace("SansMono", "Sans"))


@pytest.mark.skipif(set(BACKENDS) != {"tesseract", "rapidocr"}, reason="needs both OCR backends")
def test_auto_picks_per_image_code_to_tesseract_boxes_to_rapidocr() -> None:
    assert ocr_image(render_text(CODE, fonts()["dejavu-mono"], 16, "dark")).backend == "tesseract"
    result = ocr_image(diagram(_sans(), 18).image)
    assert result.backend == "rapidocr"
    assert all(label in result.text for label in ("CLI", "TaskStore", "tasks.json"))


@pytest.mark.skipif("tesseract" not in BACKENDS, reason="tesseract not installed")
def test_tesseract_reads_labels_inside_drawn_boxes() -> None:
    # Box borders made tesseract return nothing at all for a diagram; they are removed before reading.
    assert all(
        label in ocr_image(diagram(_sans(), 24).image, "tesseract").text for label in ("TaskStore", "tasks.json")
    )
    assert "Cancel" in ocr_image(dialog(_sans(), 22).image, "tesseract").text


@pytest.mark.skipif("rapidocr" not in BACKENDS, reason="RapidOCR not installed")
def test_falling_back_without_tesseract_is_said_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shots = [tmp_path / "a.png", tmp_path / "b.png"]
    for shot in shots:
        render_text(CODE, fonts()["dejavu-mono"], 16, "light").save(shot)
    monkeypatch.setattr("codemm.vision.ocr.shutil.which", lambda name: None)  # as on a machine without tesseract
    images = read_images(shots)
    assert [i.source for i in images] == ["ocr:rapidocr"] * 2 and all(i.notes == [NO_TESSERACT_NOTE] for i in images)
    assert image_notes(images) == [NO_TESSERACT_NOTE]  # two images, one note
    assert image_notes(read_images(shots, "rapidocr")) == []  # asked for by name: nothing to explain


@pytest.mark.skipif("tesseract" not in BACKENDS, reason="tesseract not installed")
def test_no_note_when_tesseract_reads_the_image(tmp_path: Path) -> None:
    shot = tmp_path / "code.png"
    render_text(CODE, fonts()["dejavu-mono"], 16, "light").save(shot)
    [image] = read_images([shot])
    assert image.source == "ocr:tesseract" and image.notes == []
