"""Screenshot -> code on real rendered screenshots: a tiny Textual app (tests/fixtures/ui_app)
driven headless and rendered by rsvg-convert, and an HTML page rendered by headless chromium; both
read by OCR and matched against the fixture repository's UI-text index."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codemm.repo.index import RepoIndex
from codemm.vision.ocr import available_backends, ocr_image
from codemm.vision.uimatch import ui_matches

FIXTURE = Path(__file__).parents[1] / "fixtures" / "ui_app"
needs_ocr = pytest.mark.skipif(not available_backends(), reason="no OCR backend")


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(FIXTURE, root)
    return root


def _index(root: Path, tmp_path: Path) -> RepoIndex:
    index = RepoIndex(root, db_path=tmp_path / "idx" / "index.sqlite")
    index.refresh(embed=False)
    return index


@needs_ocr
@pytest.mark.skipif(not shutil.which("rsvg-convert"), reason="needs rsvg-convert (librsvg2-bin)")
def test_textual_dialog_screenshot_leads_to_its_file(repo: Path, tmp_path: Path) -> None:
    from PIL import Image

    sys.path.insert(0, str(repo))
    try:
        from app import NotesApp  # type: ignore[import-not-found]

        async def shoot() -> str:
            app = NotesApp()
            async with app.run_test(size=(80, 24)) as pilot:
                await pilot.press("s")
                await pilot.pause(0.3)
                return str(app.save_screenshot(filename="shot.svg", path=str(tmp_path)))

        svg = asyncio.run(shoot())
    finally:
        sys.path.remove(str(repo))
        sys.modules.pop("app", None)
        sys.modules.pop("dialogs.confirm", None)
        sys.modules.pop("dialogs", None)
    png = tmp_path / "shot.png"
    subprocess.run(["rsvg-convert", "-b", "#000000", "-o", str(png), svg], check=True)
    ocr = ocr_image(Image.open(png).convert("RGB"))
    with _index(repo, tmp_path) as index:
        found = ui_matches(ocr, index)
    assert found.files[0][0] == "dialogs/confirm.py"
    top = found.top()[0]
    assert (top.path, top.line) in {("dialogs/confirm.py", 10), ("dialogs/confirm.py", 11)}
    assert found.as_json()["files"][0]["path"] == "dialogs/confirm.py"


@needs_ocr
@pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium")
def test_web_page_screenshot_leads_to_its_template(repo: Path, tmp_path: Path) -> None:
    from PIL import Image

    page = tmp_path / "page.html"
    page.write_text(
        "<h1>Invoice for ACME Ltd</h1><p>Payment is due within thirty days</p><button>Download receipt</button>"
    )
    png = tmp_path / "page.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--window-size=800,400",
                    f"--screenshot={png}", page.as_uri()], check=True, capture_output=True, timeout=120)  # fmt: skip
    ocr = ocr_image(Image.open(png).convert("RGB"))
    with _index(repo, tmp_path) as index:
        found = ui_matches(ocr, index)
    assert found.files[0][0] == "templates/invoice.html"
    assert {m.text for m in found.matches if m.path == "templates/invoice.html"} >= {
        "Payment is due within thirty days"
    }


@needs_ocr
@pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium")
def test_read_screenshot_tool_returns_the_ui_matches(repo: Path, tmp_path: Path) -> None:
    from codemm import tool_text
    from codemm.config import Settings
    from codemm.tools import RepoTools

    page = tmp_path / "page.html"
    page.write_text(
        "<h1>Invoice for ACME Ltd</h1><p>Payment is due within thirty days</p><button>Download receipt</button>"
    )
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--window-size=800,400",
                    f"--screenshot={repo / 'shot.png'}", page.as_uri()], check=True, capture_output=True, timeout=120)  # fmt: skip
    tools = RepoTools(repo, settings=Settings(), embed=False)
    result = tools.read_screenshot("shot.png")
    assert result["ui_matches"]["files"][0]["path"] == "templates/invoice.html"
    assert "templates/invoice.html" in tool_text.screenshot(result)
