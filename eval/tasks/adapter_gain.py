"""What an adapter gains on in-house code: held-out token loss/perplexity, and completion of
held-out function bodies, with vs without the adapter."""

from __future__ import annotations

import math
from typing import Any

from codemm.errors import BadInputError
from codemm.eval.context import RunContext, Variant
from codemm.eval.tasks import register
from codemm.eval.tasks.base import Task


@register
class AdapterGain(Task):
    name = "adapter_gain"
    default_variants = ("no-adapter", "adapter")
    primary = "loss"

    def items(self, ctx: RunContext) -> list[dict[str, Any]]:
        from codemm.adapters.dataset import read_examples
        from codemm.adapters.store import adapter_dir

        name = self.options.get("adapter")
        if not name:
            raise BadInputError("the adapter_gain suite needs --adapter NAME")
        heldout = adapter_dir(name) / "run" / "data" / "heldout.jsonl"
        if not heldout.is_file():
            raise BadInputError(f"adapter '{name}' has no held-out set at {heldout}")
        examples = read_examples(heldout)[: self.options.get("limit") or 40]
        return [{"id": f"{e.path}:{i}", "text": e.text, "kind": e.kind} for i, e in enumerate(examples)]

    def run_item(self, item: dict[str, Any], variant: Variant, sample: int, ctx: RunContext) -> dict[str, Any]:
        import torch

        loaded = ctx.model(variant)
        ids = loaded.tokenizer(item["text"], return_tensors="pt", truncation=True, max_length=512)["input_ids"]
        with torch.no_grad():
            loss = float(loaded.model(input_ids=ids.to(loaded.model.device), labels=ids.to(loaded.model.device)).loss)
        return {
            "loss": loss,
            "perplexity": math.exp(loss),
            "tokens": int(ids.shape[-1]),
            "kind": item["kind"],
        }
