"""The shape of the code base: small modules (the style guide's rule, kept by a test so it holds)."""

from __future__ import annotations

from pathlib import Path

import codemm

PACKAGE = Path(codemm.__file__).resolve().parent
MAX_LINES = 600


def test_no_module_in_codemm_is_over_600_lines() -> None:
    # codemm/adapters, codemm/tui and codemm/eval are links to the top-level folders: rglob follows
    # neither, so each package root is walked on its own.
    roots = [PACKAGE, *(PACKAGE / name for name in ("adapters", "tui", "eval"))]
    sizes = {
        path: len(path.read_text(encoding="utf-8").splitlines())
        for root in roots
        for path in root.resolve().rglob("*.py")
    }
    assert len(sizes) > 100  # the walk found the code base, links included
    too_long = {str(path): lines for path, lines in sizes.items() if lines > MAX_LINES}
    assert too_long == {}
