"""`codemm adapters train-vision`: align a composed model's projector (stage 1: tower and language
model frozen, image-caption pairs), then tune projector + LoRA on the language model (stage 2:
image-question-answer pairs). Loss curves are saved as PNG beside the results."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codemm.adapters.vision_data import VisionExample
from codemm.errors import BadInputError, error_from_oserror

# Anchored on the language model: an unanchored q_proj/k_proj/v_proj/o_proj also hits the SigLIP tower.
LM_LORA_TARGETS = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj)"


@dataclass
class VisionTrainResult:
    stage1_losses: list[float] = field(default_factory=list)
    stage2_losses: list[float] = field(default_factory=list)
    checkpoint: Path | None = None
    adapter: Path | None = None


def encode_example(loaded: Any, example: VisionExample) -> dict[str, Any]:
    """Inputs with labels on the answer tokens only (the prompt and image positions are masked)."""
    from codemm.models.generate import encode_with_images

    prompt = [{"role": "user", "content": example.question}]
    full = encode_with_images(loaded, prompt, [example.image])
    answer_ids = loaded.tokenizer(example.answer + (loaded.tokenizer.eos_token or ""), add_special_tokens=False,
                                  return_tensors="pt")["input_ids"]  # fmt: skip
    import torch

    input_ids = torch.cat([full["input_ids"], answer_ids], dim=1)
    labels = torch.full_like(input_ids, -100)
    labels[:, full["input_ids"].shape[1] :] = answer_ids
    return {"input_ids": input_ids, "pixel_values": full["pixel_values"], "labels": labels}


def _run_stage(loaded: Any, examples: list[VisionExample], params: list[Any], steps: int, lr: float, seed: int,
               progress: Callable[[str, int, int, float], None] | None, stage: str) -> list[float]:  # fmt: skip
    import torch

    optimizer = torch.optim.AdamW(params, lr=lr)
    rng = random.Random(seed)
    losses = []
    loaded.model.train()
    for step in range(steps):
        batch = encode_example(loaded, rng.choice(examples))
        batch["pixel_values"] = batch["pixel_values"].to(loaded.model.dtype)
        loss = loaded.model(**{k: v.to(loaded.model.device) for k, v in batch.items()}).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        if progress:
            progress(stage, step + 1, steps, losses[-1])
    loaded.model.eval()
    return losses


def train_vision(
    model_dir: Path, captions: list[VisionExample], questions: list[VisionExample], out: Path, name: str | None,
    stage1_steps: int = 40, stage2_steps: int = 40, lr1: float = 1e-3, lr2: float = 2e-4, seed: int = 0,
    progress: Callable[[str, int, int, float], None] | None = None,
) -> VisionTrainResult:  # fmt: skip
    import torch

    from codemm.models.load import load, model_path

    if model_path(model_dir) == "text":
        raise BadInputError(f"{model_dir} is not a vision-language model; compose one with `codemm models compose`")
    if out.exists() and any(out.iterdir()):
        raise BadInputError(f"{out} exists and is not empty")
    torch.manual_seed(seed)
    loaded = load(str(model_dir), device="cpu")
    model = loaded.model
    for p in model.parameters():
        p.requires_grad_(False)
    projector = list(model.model.multi_modal_projector.parameters())
    for p in projector:
        p.requires_grad_(True)
    result = VisionTrainResult()
    result.stage1_losses = _run_stage(loaded, captions, projector, stage1_steps, lr1, seed, progress, "align")
    try:
        out.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out, save_original_format=False)
        loaded.processor.save_pretrained(out)
        meta = {
            "aligned_from": str(model_dir),
            "stage1_steps": stage1_steps,
            "stage1_final_loss": result.stage1_losses[-1],
        }
        (out / "codemm-composed.json").write_text(json.dumps({"projector": "aligned", **meta}, indent=2))
    except OSError as exc:
        raise error_from_oserror(exc, f"writing {out}") from None
    result.checkpoint = out
    if stage2_steps > 0:
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(r=8, lora_alpha=16, target_modules=LM_LORA_TARGETS, modules_to_save=None)
        loaded.model = get_peft_model(model, lora)
        for p in loaded.model.base_model.model.model.multi_modal_projector.parameters():
            p.requires_grad_(True)
        trainable = [p for p in loaded.model.parameters() if p.requires_grad]
        result.stage2_losses = _run_stage(
            loaded, questions, trainable, stage2_steps, lr2, seed + 1, progress, "instruct"
        )
        target = out / "lora" if name is None else _store_path(name)
        loaded.model.save_pretrained(target)
        if name is not None:
            _write_card(name, target, out, result, stage2_steps)
        result.adapter = target
    _plot(result, out / "vision_loss.png")
    return result


def _write_card(name: str, target: Path, base: Path, result: VisionTrainResult, steps: int) -> None:
    from datetime import UTC, datetime

    from codemm.adapters.store import AdapterCard, base_identity, write_card
    from codemm.models.resolve import resolve

    card = AdapterCard(
        name=name, base_model=base.name, base_spec=str(base), base_id=base_identity(resolve(str(base))),
        dataset_sha256="synthetic-screenshots", recipe={"kind": "vision", "stage2_steps": steps},
        metrics={"stage1_final_loss": result.stage1_losses[-1], "stage2_final_loss": result.stage2_losses[-1]},
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )  # fmt: skip
    write_card(target, card)


def _store_path(name: str) -> Path:
    from codemm.adapters.store import adapter_dir

    return adapter_dir(name)


def _plot(result: VisionTrainResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(range(1, len(result.stage1_losses) + 1), result.stage1_losses, label="stage 1: projector alignment")
    if result.stage2_losses:
        start = len(result.stage1_losses)
        ax.plot(range(start + 1, start + len(result.stage2_losses) + 1), result.stage2_losses,
                label="stage 2: projector + LoRA")  # fmt: skip
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
