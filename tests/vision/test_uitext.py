"""The UI-text index on text fixtures: what counts as visible text, and where it is."""

from __future__ import annotations

from pathlib import Path

from codemm.repo.index import RepoIndex
from codemm.vision.uiindex import UITextIndex
from codemm.vision.uimatch import match_segments, segments, ui_matches
from codemm.vision.uitext import PLACEHOLDER, UIString, ui_strings

PY = '''"""Docstring."""
from textual.binding import Binding
class Confirm:
    """Not shown."""
    BINDINGS = [Binding("ctrl+q", "quit", "Quit the app")]
    def compose(self, n):
        yield Label(f"[b]{n} requests[/b] loaded", id="count")
        yield Label("Save changes?\\nAll edits will be lost")
        yield Label("Hello %s", classes="greeting")
        return b"bytes"
'''


def test_python_literals_markup_placeholders_and_kinds() -> None:
    found = {(s.text, s.line, s.kind) for s in ui_strings("a.py", PY)}
    assert ("Quit the app", 5, "binding") in found
    assert (f"{PLACEHOLDER} requests loaded", 7, "literal") in found
    assert ("count", 7, "id") in found
    assert ("Save changes?", 8, "literal") in found
    assert ("All edits will be lost", 9, "literal") in found
    assert (f"Hello {PLACEHOLDER}", 9, "literal") in found
    assert not any("Docstring" in text or "Not shown" in text or "bytes" in text for text, _, _ in found)


def test_templates_catalogues_and_selectors() -> None:
    html = '<h1>{{ name }} tables</h1>\n<input type="submit" value="Run SQL" placeholder="Type here">\n<script>var a = "no";</script>'
    found = {(s.text, s.line, s.kind) for s in ui_strings("t.html", html)}
    assert {(f"{PLACEHOLDER} tables", 1, "text"), ("Run SQL", 2, "attribute"), ("Type here", 2, "attribute")} <= found
    assert not any(text == "no" for text, _, _ in found)
    assert ui_strings("de.po", 'msgid "Save"\nmsgstr "Speichern"\n') == [UIString("Speichern", 2, "message", "Save")]
    assert [s.text for s in ui_strings("app.tcss", "#sidebar .item {\n color: red;\n}\n")] == ["sidebar", "item"]
    jsx = ui_strings("a.tsx", "const A = () => <div title={`x`}>Hello world</div>; const s = `Total: ${n} items`;")
    assert {s.text for s in jsx} >= {"Hello world", f"Total: {PLACEHOLDER} items"}


def test_catalogue_message_resolves_to_the_code_using_its_key() -> None:
    per_file = {
        "app.py": [UIString("dialog.save", 12)],
        "locales/de.json": [UIString("Speichern?", 1, "message", "dialog.save")],
    }
    ui = UITextIndex.from_strings(per_file)
    found = match_segments(segments("Header\n\nSpeichern?\n\n\nFooter"), ui)
    assert ("app.py", 12) in {(m.path, m.line) for m in found.matches}


def test_rare_text_outweighs_common_labels_and_frame(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "dialogs").mkdir(parents=True)
    for name in ("a", "b", "c"):
        (root / f"{name}.py").write_text(f'OK = "OK"\nCANCEL = "Cancel"\nTITLE = "Screen {name}"\n')
    (root / "dialogs" / "confirm.py").write_text('X = 1\nTITLE = "Discard the unsaved draft?"\nOK = "OK"\n')
    (root / "app.tcss").write_text("#confirm { }\n")
    text = "Screen a\n\n  Discard the unsavd draft?\n\n  OK    Cancel\n\n\nQuit"
    with RepoIndex(root, db_path=tmp_path / "idx" / "index.sqlite") as index:
        index.refresh(embed=False)
        found = ui_matches(text, index)
        assert found.files[0][0] == "dialogs/confirm.py"
        assert found.top()[0].label == '"Discard the unsaved draft?" -> dialogs/confirm.py:2'
        again = ui_matches(text, index)  # from the cache beside the index
        assert again.files == found.files
        (root / "b.py").write_text('TITLE = "Archive every finished task?"\n')  # an edit: b.py is read again
        index.refresh(embed=False)
        edited = ui_matches("Archive every finished task?", index)
    assert edited.top()[0].label == '"Archive every finished task?" -> b.py:1'
    assert (tmp_path / "idx" / "uitext.sqlite").exists()


def test_ask_puts_the_code_behind_a_ui_screenshot_first(tiny_llama_long_dir: Path, tmp_path: Path) -> None:
    import shutil

    from codemm.ask import AskRequest, prepare
    from codemm.config import Settings
    from codemm.models.factory import open_model
    from codemm.prompt import ImageText

    root = tmp_path / "repo"
    shutil.copytree(Path(__file__).parents[1] / "fixtures" / "ui_app", root)
    shown = "NotesApp\n\nSave changes to the notebook?\nUnsaved paragraphs will be lost forever\n  Keep editing\n\nq Quit  s Save"
    loaded = open_model(Settings(model=str(tiny_llama_long_dir), device="cpu"))
    question = "Which file implements the dialog shown in this screenshot?"
    with RepoIndex(root, db_path=tmp_path / "idx" / "index.sqlite") as index:
        index.refresh(embed=False)
        image = ImageText("shot.png", shown)
        prepared = prepare(loaded, AskRequest(question, index=index, images=[image], k=3, map_tokens=0), 16)
    assert prepared.prompt.included[0].path == "dialogs/confirm.py"
    assert prepared.image_locations[0] in {
        '"Save changes to the notebook?" -> dialogs/confirm.py:10',
        '"Unsaved paragraphs will be lost forever" -> dialogs/confirm.py:11',
    }
    assert {("dialogs/confirm.py", 10), ("dialogs/confirm.py", 11)} & set(prepared.verified_locations)
    assert image.text == shown  # the session's own image text is left as read
    assert prepared.ui_matches[0]["path"] == "dialogs/confirm.py" and prepared.ui_matches[0]["score"] > 0


def test_text_dimmed_under_a_modal_counts_less() -> None:
    from PIL import Image, ImageDraw

    from codemm.vision.ocr import OcrLine, OcrResult
    from codemm.vision.uimatch import weigh_contrast

    image = Image.new("RGB", (400, 100), "black")
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, 200, 30), fill=(70, 70, 70))  # text dimmed under the modal
    draw.rectangle((10, 60, 200, 80), fill=(255, 255, 255))  # the modal's own text
    ocr = OcrResult("test", [OcrLine("Background words", (0, 5, 220, 35)), OcrLine("Modal title", (0, 55, 220, 85))])
    found = segments(ocr)
    weigh_contrast(found, image)
    assert found[1].emphasis == 1.0
    assert found[0].emphasis < 0.5


def test_names_and_css_are_not_visible_text_and_run_together_words_still_match() -> None:
    found = {
        (s.text, s.kind)
        for s in ui_strings("a.py", 'A = "load_bookmarks"\nB = """\nScreen {\n  height: 1fr;\n}\n"""\n')
    }
    assert found == {("load_bookmarks", "id")}
    ui = UITextIndex.from_strings(
        {"views/table.py": [UIString("Database not found", 7)], "x.py": [UIString("Other", 1)]}
    )
    matched = match_segments(segments("Error 404\nDatabasenotfound"), ui)
    assert matched.files[0][0] == "views/table.py"


def test_an_edited_stylesheet_or_catalogue_is_read_again(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "locales").mkdir(parents=True)
    (root / "app.py").write_text('TITLE = _("Save changes?")\n')
    (root / "locales" / "de.po").write_text('msgid "Save changes?"\nmsgstr "Speichern?"\n')
    with RepoIndex(root, db_path=tmp_path / "idx" / "index.sqlite") as index:
        index.refresh(embed=False)
        assert ui_matches("Speichern?", index).top()[0].label == '"Speichern?" -> app.py:1'
        (root / "locales" / "de.po").write_text('msgid "Save changes?"\nmsgstr "Alles sichern?"\n')
        index.refresh(embed=False)  # nothing the repository index holds changed
        assert ui_matches("Alles sichern?", index).top()[0].label == '"Alles sichern?" -> app.py:1'
