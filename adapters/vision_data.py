"""Synthetic screenshot data for vision training: image-caption pairs (stage 1, projector alignment)
and image-question-answer pairs (stage 2, instruction tuning), rendered from a repository's code."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codemm.errors import BadInputError


@dataclass
class VisionExample:
    image: Any
    """An RGB PIL image."""
    question: str
    answer: str


def synthetic_examples(
    repo: Path, count: int, seed: int = 0, size: int = 16
) -> tuple[list[VisionExample], list[VisionExample]]:
    """(captions, questions): code screenshots of the repository's functions, light and dark."""
    from codemm.eval.screens import fonts, render_text
    from codemm.repo.index import RepoIndex

    rng = random.Random(seed)
    with RepoIndex(repo) as index:
        index.refresh(embed=False)
        functions = [s for s in index.symbols() if s.kind in ("function", "method") and 3 <= s.end - s.start <= 14]
        if not functions:
            raise BadInputError(f"no functions in {repo} to render screenshots from")
        font = fonts()["dejavu-mono"]
        captions, questions = [], []
        for _ in range(count):
            sym = rng.choice(functions)
            lines = (index.root / sym.path).read_text(errors="replace").splitlines()[sym.start - 1 : sym.end]
            image = render_text("\n".join(lines), font, size, rng.choice(["light", "dark"]))
            first = lines[0].strip()
            captions.append(VisionExample(image, "Describe this screenshot.", f"A screenshot of code: {first}"))
            questions.append(VisionExample(image, "Which function is defined in this screenshot?", sym.name))
    return captions, questions
