"""Screenshots: OCR character error rate, traceback screenshot -> file:line, code screenshot -> where
it is defined, UI dialog or diagram -> answer; with vs without the image attached (the gain of
showing codemm the screen). Items: ``eval/suites/screenshots/items.jsonl`` (written by
``python -m codemm.eval.screens``)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from codemm.eval.context import RunContext, Variant
from codemm.eval.tasks.base import Task, register
from codemm.eval.tasks.completion import fenced

SHIPPED = Path("eval") / "suites" / "screenshots" / "items.jsonl"
MAX_NEW_TOKENS = 96
LOOSE_SPAN = 30
"""A citation wider than this many lines does not point at a line."""


def _gold(location: str) -> tuple[str, int, int]:
    path, _, lines = location.rpartition(":")
    start, _, end = lines.partition("-")
    return path, int(start), int(end or start)


def points_at(citations: list[Any], location: str) -> bool:
    """Whether a valid citation written in the answer covers the gold location (not a whole file)."""
    path, start, end = _gold(location)
    return any(
        c.valid and c.source != "attributed" and c.path == path and c.start <= end and c.end >= start
        and c.end - c.start <= LOOSE_SPAN
        for c in citations
    )  # fmt: skip


@functools.cache
def _read(path: Path) -> tuple[str, str]:
    """OCR text and backend of one image (deterministic: read once per run, not once per variant)."""
    from codemm.vision.images import load_image
    from codemm.vision.ocr import ocr_image

    result = ocr_image(load_image(path).image)
    return result.text, result.backend


@register
class Screenshots(Task):
    name = "screenshots"
    default_variants = ("no-image", "image")
    primary = "correct"
    binary = True

    def items(self, ctx: RunContext) -> list[dict[str, Any]]:
        manifest = ctx.root / SHIPPED
        rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
        for row in rows:
            row["image"] = str(manifest.parent / row["image"])
        return rows[: self.options.get("limit") or None]

    def run_item(self, item: dict[str, Any], variant: Variant, sample: int, ctx: RunContext) -> dict[str, Any]:
        from codemm.ask import AskRequest
        from codemm.eval.screens import cer
        from codemm.prompt import ImageText

        model = ctx.model(variant)
        record: dict[str, Any] = {"kind": item["kind"]}
        images, pixels = [], []
        if variant.image:
            text, backend = _read(Path(item["image"]))
            images.append(ImageText(Path(item["image"]).name, text))
            record.update(cer=cer(item["text"], text, collapse=item["kind"] in ("dialog", "diagram")), ocr=backend)
            if model.capabilities.images:  # a vision-language model also sees the pixels
                from codemm.vision.images import load_image

                pixels.append(load_image(Path(item["image"])).image)
        index = ctx.index(ctx.root / item["repo"]) if variant.repo else None
        request = AskRequest(item["question"], index=index, images=images, k=3, map_tokens=0, pixels=pixels)
        result, gen = ctx.ask(variant, request, sample, MAX_NEW_TOKENS)
        lowered = result.answer.lower()
        located = [points_at(result.citations, gold) for gold in item["gold_locations"]]
        facts = [fact.lower() in lowered for fact in item["facts"]]
        if "```" in gen.text:
            record["risks"] = ctx.risks(fenced(gen.text), variant, ctx.root / item["repo"])
        return {
            **record,
            "correct": all(located + facts),
            "location_found": all(located) if located else None,
            "facts": sum(facts) / len(facts) if facts else None,
            "output": result.answer,
            "_generation": gen,
        }
