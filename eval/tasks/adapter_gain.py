"""What an adapter gains on in-house code: held-out token loss/perplexity, and completion of
held-out function bodies, with vs without the adapter."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from codemm.errors import BadInputError
from codemm.eval.context import RunContext, Variant
from codemm.eval.tasks.base import Task, register
from codemm.eval.tasks.completion import defined_name, fenced

CALLABLE = re.compile(r"([A-Za-z_]\w*)\s*[(<]")


@register
class AdapterGain(Task):
    name = "adapter_gain"
    default_variants = ("no-adapter", "adapter")
    primary = "loss"

    def items(self, ctx: RunContext) -> list[dict[str, Any]]:
        from codemm.adapters.dataset import read_examples
        from codemm.adapters.store import adapter_dir, read_card

        name = self.options.get("adapter")
        if not name:
            raise BadInputError("the adapter_gain suite needs --adapter NAME")
        heldout = adapter_dir(name) / "run" / "data" / "heldout.jsonl"
        if not heldout.is_file():
            raise BadInputError(f"adapter '{name}' has no held-out set at {heldout}")
        examples = read_examples(heldout)[: self.options.get("limit") or 40]
        # The repository it was trained on, if still there: its names are not hallucinations.
        repo = read_card(name).repo
        repo_dir = Path(repo) if repo and Path(repo).is_dir() else None
        return [{"id": f"{e.path}:{i}", "example": e, "kind": e.kind, "repo": repo_dir} for i, e in enumerate(examples)]

    def run_item(self, item: dict[str, Any], variant: Variant, sample: int, ctx: RunContext) -> dict[str, Any]:
        import torch

        from codemm.eval.tasks.completion import completion_metrics, guess_body

        loaded = ctx.weights(variant)
        example = item["example"]
        text = example.training_text(loaded.tokenizer)  # what training optimised, chat template included
        ids = loaded.tokenizer(text, return_tensors="pt", truncation=True, max_length=512)["input_ids"]
        with torch.no_grad():
            loss = float(loaded.model(input_ids=ids.to(loaded.model.device), labels=ids.to(loaded.model.device)).loss)
        record: dict[str, Any] = {"loss": loss, "perplexity": math.exp(loss), "tokens": int(ids.shape[-1]),
                                  "kind": item["kind"]}  # fmt: skip
        if example.prompt:  # "Complete this function from PATH": generate it, as ask/chat would
            gen = ctx.generate(variant, [{"role": "user", "content": example.prompt}], sample, 128)
            name = _function_name(example.prompt)
            gold = guess_body(example.text, name)
            guess = guess_body(gen.text, name)
            record.update(completion_metrics(guess, gold), output=gen.text, _generation=gen)
            if example.path.endswith(".py"):
                record["risks"] = ctx.risks(fenced(gen.text), variant, item["repo"])
        return record


def _function_name(prompt: str) -> str:
    """The name in the prompt's signature; else the first name called like a function."""
    code = prompt.split("```", 1)[-1]
    match = CALLABLE.search(code)
    return defined_name(code) or (match.group(1) if match else "")
