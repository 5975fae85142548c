"""Synthetic screenshots with known text, for OCR tests, the OCR benchmark and the screenshot suite:
code in several fonts, sizes and light/dark themes, terminal tracebacks, UI dialogs and
box-and-arrow diagrams. Each comes with the exact text a perfect OCR would return."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

THEMES = {"light": ((255, 255, 255), (30, 30, 30)), "dark": ((30, 32, 40), (220, 220, 210))}
CODE = """def parse_due_date(text, today):
    value = text.strip().lower()
    if value == "tomorrow":
        return today + timedelta(days=1)
    if value.startswith("+") and value.endswith("d"):
        return today + timedelta(days=int(value[1:-1]))
    return date.fromisoformat(value)"""


@dataclass
class Screen:
    name: str
    kind: str
    """code | traceback | dialog | diagram"""
    text: str
    """What a perfect OCR returns (for dialogs and diagrams: the labels, one per line)."""
    image: Any


def fonts() -> dict[str, Path]:
    """Monospace and proportional fonts found on this machine; DejaVu ships with matplotlib."""
    import matplotlib

    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    found = {"dejavu-mono": ttf / "DejaVuSansMono.ttf", "dejavu-mono-bold": ttf / "DejaVuSansMono-Bold.ttf"}
    for name, path in {
        "liberation-mono": Path("/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf"),
        "noto-mono": Path("/usr/share/fonts/truetype/noto/NotoMono-Regular.ttf"),
    }.items():
        if path.is_file():
            found[name] = path
    return {k: v for k, v in found.items() if v.is_file()}


def render_text(text: str, font_path: Path, size: int, theme: str = "light", pad: int = 16) -> Any:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(font_path), size)
    bg, fg = THEMES[theme]
    lines = text.splitlines()
    line_h = int(size * 1.45)
    width = max(int(font.getlength(line)) for line in lines) + 2 * pad
    image = Image.new("RGB", (width, line_h * len(lines) + 2 * pad), bg)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((pad, pad + i * line_h), line, font=font, fill=fg)
    return image


def real_traceback(repo: Path) -> str:
    """A genuine traceback from the sample repository: parse_due_date on text it cannot parse."""
    code = (
        "from datetime import date\nfrom tasktracker.dates import parse_due_date\n"
        "parse_due_date('someday', date(2026, 11, 25))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=60)
    return proc.stderr.strip().replace(str(repo.resolve()) + "/", "")


def dialog(font_path: Path, size: int) -> Screen:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(font_path), size)
    image = Image.new("RGB", (34 * size, 12 * size), (236, 236, 236))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, image.width, 2 * size), fill=(60, 90, 160))
    labels = ["Save changes to report.py?", "Your changes will be lost if you close without saving.", "Cancel", "Save"]
    draw.text((size, size // 3), "Unsaved changes", font=font, fill=(255, 255, 255))
    draw.text((size, 3 * size), labels[0], font=font, fill=(20, 20, 20))
    draw.text((size, 5 * size), labels[1], font=font, fill=(20, 20, 20))
    for x, label in ((16 * size, labels[2]), (25 * size, labels[3])):
        draw.rectangle((x, 8 * size, x + 7 * size, 10 * size), outline=(80, 80, 80), fill=(250, 250, 250))
        draw.text((x + size, 8 * size + size // 3), label, font=font, fill=(20, 20, 20))
    return Screen(f"dialog-{size}", "dialog", "\n".join(["Unsaved changes", *labels]), image)


def diagram(font_path: Path, size: int) -> Screen:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(font_path), size)
    boxes = ["CLI", "TaskStore", "tasks.json"]
    image = Image.new("RGB", (40 * size, 8 * size), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for i, label in enumerate(boxes):
        x = size + i * 13 * size
        draw.rectangle((x, 2 * size, x + 10 * size, 6 * size), outline=(0, 0, 0), width=2)
        draw.text((x + size, 3 * size + size // 2), label, font=font, fill=(0, 0, 0))
        if i:
            draw.line((x - 3 * size, 4 * size, x, 4 * size), fill=(0, 0, 0), width=2)
            draw.polygon([(x, 4 * size), (x - size // 2, 4 * size - size // 3), (x - size // 2, 4 * size + size // 3)],
                         fill=(0, 0, 0))  # fmt: skip
    return Screen(f"diagram-{size}", "diagram", "\n".join(boxes), image)


def screenshot_suite(repo: Path, sizes: tuple[int, ...] = (14, 18, 24)) -> list[Screen]:
    found = fonts()
    screens = []
    for font_name, path in found.items():
        for size in sizes:
            for theme in THEMES:
                screens.append(
                    Screen(f"code-{font_name}-{size}-{theme}", "code", CODE, render_text(CODE, path, size, theme))
                )
    trace = real_traceback(repo)
    mono = found["dejavu-mono"]
    for size in sizes:
        screens.append(Screen(f"traceback-{size}", "traceback", trace, render_text(trace, mono, size, "dark")))
        screens.append(dialog(Path(str(mono).replace("SansMono", "Sans")), size))
        screens.append(diagram(Path(str(mono).replace("SansMono", "Sans")), size))
    return screens


def cer(truth: str, guess: str, collapse: bool = False) -> float:
    """Character error rate: Levenshtein distance / length of the true text. ``collapse`` compares
    with whitespace collapsed (dialogs and diagrams have no defined reading order across columns)."""
    from rapidfuzz.distance import Levenshtein

    if collapse:
        truth, guess = " ".join(truth.split()), " ".join(guess.split())
    return Levenshtein.distance(truth, guess) / max(1, len(truth))


TRACEBACK_Q = "I got this error. Where in the repository was it raised? Answer with file:line."
CODE_Q = "Which file of the repository defines the function in this screenshot? Answer with path:line."
DIALOG_Q = "What does the dialog in the screenshot ask, and which buttons does it offer?"
DIAGRAM_Q = "In the architecture diagram, which component sits between the CLI and tasks.json?"


def write_suite(dest: Path, root: Path) -> Path:
    """Writes the shipped screenshots suite: PNGs + ``items.jsonl`` with each image's exact text,
    the question asked about it and what a right answer holds. Rendered once and committed, so a
    run does not depend on this machine's fonts or Python's traceback format."""
    repo = "examples/sample-repo"
    source = (root / repo / "tasktracker" / "dates.py").read_text().splitlines()
    start = next(i for i, line in enumerate(source) if line.startswith("def parse_due_date"))
    code = "\n".join(source[start : start + 19])
    trace = real_traceback(root / repo)
    mono = fonts()["dejavu-mono"]  # DejaVu ships inside matplotlib: the same glyphs everywhere
    sans = Path(str(mono).replace("SansMono", "Sans"))
    where = {"gold_locations": ["tasktracker/dates.py:28"]}
    defines = {"gold_locations": [f"tasktracker/dates.py:{start + 1}-{start + 19}"]}
    screens = [
        (Screen("traceback-dark-14", "traceback", trace, render_text(trace, mono, 14, "dark")), TRACEBACK_Q, where),
        (Screen("traceback-light-18", "traceback", trace, render_text(trace, mono, 18, "light")), TRACEBACK_Q, where),
        (Screen("code-dark-14", "code", code, render_text(code, mono, 14, "dark")), CODE_Q, defines),
        (Screen("code-light-18", "code", code, render_text(code, mono, 18, "light")), CODE_Q, defines),
        (dialog(sans, 16), DIALOG_Q, {"facts": ["report.py", "Cancel", "Save"]}),
        (dialog(sans, 22), DIALOG_Q, {"facts": ["report.py", "Cancel", "Save"]}),
        (diagram(sans, 18), DIAGRAM_Q, {"facts": ["TaskStore"]}),
        (diagram(sans, 24), DIAGRAM_Q, {"facts": ["TaskStore"]}),
    ]
    dest.mkdir(parents=True, exist_ok=True)
    rows = []
    for screen, question, gold in screens:
        screen.image.save(dest / f"{screen.name}.png", optimize=True)
        rows.append({"id": screen.name, "image": f"{screen.name}.png", "kind": screen.kind, "repo": repo,
                     "text": screen.text, "question": question, "gold_locations": [], "facts": [], **gold})  # fmt: skip
    manifest = dest / "items.jsonl"
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return manifest


if __name__ == "__main__":
    from codemm.eval.repoqa import project_root

    print(write_suite(project_root() / "eval" / "suites" / "screenshots", project_root()))
