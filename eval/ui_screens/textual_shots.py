"""Screenshots of real Textual applications, driven headless (run with the apps' own Python, not
codemm's: ``python textual_shots.py CASES.jsonl OUT_DIR [--only APP]``).

Each case names an app (see ``APPS``) and pilot steps: ``press:KEY`` (comma-separated keys),
``type:TEXT``, ``click:SELECTOR``, ``pause:SECONDS``. The screen is saved as SVG by Textual and
rendered to PNG by ``rsvg-convert`` (Debian's librsvg2-bin). This file imports only the standard
library and the apps, so it runs in the separate environment the apps are installed in.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from argparse import Namespace
from pathlib import Path
from typing import Any

SIZE = (110, 32)


def _frogmouth(data: Path) -> Any:
    from frogmouth.app.app import MarkdownViewer

    return MarkdownViewer(Namespace(file=[str(data / "notes.md")]))


def _toolong(data: Path) -> Any:
    from toolong.ui import UI

    return UI([str(data / "access.log")])


def _textual_demo(data: Path) -> Any:
    from textual.demo.demo_app import DemoApp

    return DemoApp()


APPS = {"frogmouth": _frogmouth, "toolong": _toolong, "textual-demo": _textual_demo}


def write_data(data: Path) -> None:
    """The documents the apps open: a Markdown note and an access log."""
    data.mkdir(parents=True, exist_ok=True)
    (data / "notes.md").write_text(
        "# Release notes\n\n## Version 2\n\nFaster search.\n\n## Version 1\n\nFirst release.\n"
    )
    log = "".join(
        f'10.0.0.{i % 7} - - [06/Dec/2026:10:{i % 60:02d}:00 +0000] "GET /items/{i} HTTP/1.1" 200 {512 + i}\n'
        for i in range(200)
    )
    (data / "access.log").write_text(log)


async def _shoot(case: dict[str, Any], data: Path, out: Path) -> None:
    app = APPS[case["app"]](data)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.5)
        for step in case.get("steps", []):
            action, _, arg = step.partition(":")
            if action == "press":
                await pilot.press(*arg.split(","))
            elif action == "type":
                await pilot.press(*arg)
            elif action == "click":
                await pilot.click(arg)
            elif action == "pause":
                await pilot.pause(float(arg))
            await pilot.pause(0.3)
        await pilot.pause(0.5)
        with tempfile.TemporaryDirectory() as tmp:
            svg = app.save_screenshot(filename="shot.svg", path=tmp)
            png = out / f"{case['id']}.png"
            subprocess.run(["rsvg-convert", "-z", "1.0", "-b", "#000000", "-o", str(png), svg], check=True)


def main() -> None:
    cases_file, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    out_dir.mkdir(parents=True, exist_ok=True)
    data = out_dir / "data"
    write_data(data)
    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
    for line in cases_file.read_text().splitlines():
        case = json.loads(line)
        if case.get("kind") != "textual" or (only and case["app"] != only):
            continue
        if (out_dir / f"{case['id']}.png").exists():
            continue
        try:
            asyncio.run(_shoot(case, data, out_dir))
            print("ok", case["id"])
        except Exception as exc:  # one broken scenario must not stop the others
            print("FAILED", case["id"], type(exc).__name__, exc)


if __name__ == "__main__":
    main()
