"""OCR on generated screenshots: identifiers and locations come back exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from codemm.eval.screens import CODE, diagram, dialog, fonts, real_traceback, render_text
from codemm.vision.locations import locations_in_text
from codemm.vision.ocr import OcrWord, available_backends, layout_lines, ocr_image

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
    locations = locations_in_text(text, {"tasktracker/dates.py": 28, "tasktracker/models.py": 48})
    assert [(loc.path, loc.line) for loc in locations] == [("tasktracker/dates.py", 28)]


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
