"""Synthetic screenshots with known text, for OCR tests, the OCR benchmark and the screenshot suite:
code in several fonts, sizes and light/dark themes, terminal tracebacks, UI dialogs and
box-and-arrow diagrams. Each comes with the exact text a perfect OCR would return."""

from __future__ import annotations

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
