"""LoRA / QLoRA training on a repository: one loop that reads top to bottom.

    codemm adapters train --repo PATH --name NAME [--recipe R] [--max-steps N] [--resume]
    accelerate launch --num_processes 4 -m codemm.cli adapters train ...   (several GPUs, same code)

Data order is a pure function of (seed, step), so ``--resume`` continues exactly where the last
checkpoint stopped. Checkpoints are written every ``save_every`` steps and when SIGINT/SIGTERM
arrives (the step in progress finishes first).
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codemm.adapters.dataset import Dataset, Example, build_dataset, read_examples, write_dataset
from codemm.adapters.recipe import Recipe
from codemm.adapters.store import AdapterCard, adapter_dir, base_identity, write_card
from codemm.errors import BadInputError, error_from_oserror

CHECKPOINTS_KEPT = 2


@dataclass
class TrainResult:
    name: str
    path: Path
    steps: int
    final_loss: float
    heldout_before: dict[str, float]
    heldout_after: dict[str, float]
    seconds: float
    tokens: int
    interrupted: bool = False
    resumed_from: int = 0
    log: list[dict[str, float]] = field(default_factory=list)


class _StopFlag:
    """Set by SIGINT/SIGTERM: the loop checkpoints after the step in progress and returns."""

    def __init__(self) -> None:
        self.set = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread (a TUI worker): no handler
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.set = True

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def pack(tokenizer: Any, examples: list[Example], seq_len: int) -> Any:
    """Concatenates tokenized examples (each ended by EOS) and cuts the stream into seq_len blocks."""
    import torch

    stream: list[int] = []
    for text in (e.training_text(tokenizer) for e in examples):
        stream += tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    n = len(stream) // seq_len
    if n == 0:
        raise BadInputError(f"the training text is shorter than one {seq_len}-token block; lower seq_len")
    return torch.tensor(stream[: n * seq_len], dtype=torch.long).view(n, seq_len)


def mix(examples: list[Example], recipe: Recipe) -> list[Example]:
    """The recipe's share of each kind of example, chosen by a seeded draw (the same every run)."""
    import random

    rng = random.Random(recipe.seed)
    return [e for e in examples if (share := recipe.kinds.get(e.kind, 1.0)) >= 1.0 or rng.random() < share]


def block_order(n_blocks: int, seed: int) -> Iterator[int]:
    """An endless, reproducible stream of block indices: a fresh permutation per epoch."""
    import numpy as np

    epoch = 0
    while True:
        yield from np.random.default_rng(seed + epoch).permutation(n_blocks).tolist()
        epoch += 1


def batch_for_step(blocks: Any, step: int, micro: int, recipe: Recipe, rank: int = 0, world: int = 1) -> Any:
    """The micro-batch a step uses: a pure function of (seed, step), so resume repeats nothing."""
    per_step = recipe.batch_size * recipe.grad_accum * world
    start = step * per_step + (micro * world + rank) * recipe.batch_size
    order = block_order(len(blocks), recipe.seed)
    # Skipping ahead in the stream is cheap next to a forward pass.
    indices = [next(order) for _ in range(start + recipe.batch_size)][start:]
    return blocks[indices]


def heldout_metrics(model: Any, blocks: Any, recipe: Recipe) -> dict[str, float]:
    import torch

    limit = len(blocks) if recipe.eval_batches == 0 else recipe.eval_batches * recipe.batch_size
    losses = []
    model.eval()
    with torch.no_grad():
        for lo in range(0, min(limit, len(blocks)), recipe.batch_size):
            batch = blocks[lo : lo + recipe.batch_size].to(model.device)
            losses.append(float(model(input_ids=batch, labels=batch).loss))
    model.train()
    loss = sum(losses) / len(losses)
    return {"loss": round(loss, 5), "perplexity": round(math.exp(loss), 3)}


def resolve_quant(recipe: Recipe, device: str) -> str:
    if recipe.quant != "auto":
        return recipe.quant
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        return "none"
    return "4bit" if device in ("cpu", "cuda") else "none"


def load_for_training(model_spec: str, quant: str, device: str, local_rank: int) -> tuple[Any, Any, Any]:
    """Base model (4-bit NF4 for QLoRA, else float32 on CPU / bfloat16 on GPU), tokenizer, resolved."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    from codemm.models.load import quiet_libraries
    from codemm.models.resolve import resolve

    quiet_libraries()
    resolved = resolve(model_spec)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    kwargs: dict[str, Any] = dict(local_files_only=True, trust_remote_code=False, use_safetensors=True, dtype=dtype)
    kwargs["device_map"] = {"": local_rank if device == "cuda" else "cpu"}
    if quant == "4bit":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
    tokenizer = AutoTokenizer.from_pretrained(resolved.checkpoint, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(resolved.checkpoint, **kwargs)
    if quant == "4bit":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=True, gradient_checkpointing_kwargs={"use_reentrant": False}
        )
        disable_bf16_inference_kernel(model)
    return model, tokenizer, resolved


def disable_bf16_inference_kernel(model: Any) -> int:
    """On CPUs with AVX512-BF16, bitsandbytes switches a Linear4bit to an inference kernel after any
    no-grad forward (held-out eval, generate); LoRA gradients through it are then silently zero.
    Turning the fast path off on every Linear4bit keeps training correct. Returns layers changed."""
    import bitsandbytes as bnb

    changed = 0
    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False
            changed += 1
    return changed


def _latest_checkpoint(run: Path) -> Path | None:
    done = sorted(
        # A step-N.tmp folder is a checkpoint cut short by a kill mid-write: never resume from it.
        (p for p in (run / "checkpoints").glob("step-*") if not p.name.endswith(".tmp") and (p / "state.pt").is_file()),
        key=lambda p: int(p.name.split("-")[1]),
    )
    return done[-1] if done else None


def _save_checkpoint(run: Path, step: int, model: Any, optimizer: Any, scheduler: Any, log: list[Any]) -> None:
    import torch

    final = run / "checkpoints" / f"step-{step}"
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp / "adapter")
    torch.save(
        {"step": step, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
         "torch_rng": torch.get_rng_state(), "log": log},
        tmp / "state.pt",
    )  # fmt: skip
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in sorted((run / "checkpoints").glob("step-*"), key=lambda p: int(p.name.split("-")[1].split(".")[0]))[
        :-CHECKPOINTS_KEPT
    ]:
        shutil.rmtree(old, ignore_errors=True)


def _load_checkpoint(ckpt: Path, model: Any, optimizer: Any, scheduler: Any) -> tuple[int, list[Any]]:
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(ckpt / "adapter" / "adapter_model.safetensors")))
    # weights_only: the state holds tensors and numbers only; never unpickle arbitrary objects.
    state = torch.load(ckpt / "state.pt", weights_only=True)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    return int(state["step"]), list(state["log"])


def prepare_dataset(run: Path, repo: Path, recipe: Recipe, exclude: list[str], resume: bool) -> Dataset | None:
    """Builds the dataset (a resumed run reuses the one it saved, so its order cannot drift)."""
    data_dir = run / "data"
    if resume and (data_dir / "train.jsonl").is_file():
        return None
    from codemm.repo.index import RepoIndex

    with RepoIndex(repo) as index:
        index.refresh(embed=False)
        dataset = build_dataset(index, recipe.heldout_fraction, exclude, recipe.seed)
    write_dataset(dataset, data_dir)
    return dataset


def train_adapter(
    name: str,
    repo: Path,
    recipe: Recipe,
    model_spec: str,
    device: str = "auto",
    resume: bool = False,
    exclude: list[str] | None = None,
    progress: Callable[[int, int, float, float], None] | None = None,
) -> TrainResult:
    """Trains (or resumes) adapter ``name`` on ``repo``; returns what it did and measured."""
    import torch
    from accelerate import Accelerator
    from peft import LoraConfig, get_peft_model
    from transformers import get_cosine_schedule_with_warmup

    from codemm.models.load import quiet_libraries

    quiet_libraries()  # before bitsandbytes is first imported: it warns at import time
    if not name.replace("-", "").replace("_", "").isalnum():
        raise BadInputError(f"adapter name '{name}' may hold only letters, digits, '-' and '_'")
    target = adapter_dir(name)
    run = target / "run"
    if not resume and (target / "adapter_config.json").exists():
        raise BadInputError(f"adapter '{name}' exists; delete it first (codemm adapters delete {name}) or pick a name")
    if resume and _latest_checkpoint(run) is None:
        raise BadInputError(f"no checkpoint of '{name}' to resume from in {run}")
    if resume and (run / "recipe.json").is_file():
        # Another recipe would continue one run's checkpoint with another's schedule and data mix.
        changed = recipe.first_difference(json.loads((run / "recipe.json").read_text()))
        if changed:
            raise BadInputError(f"'{name}' was started with another {changed}: resume without --recipe, "
                                f"--max-steps and --seed to continue with its own ({run / 'recipe.json'})")  # fmt: skip
    if not resume:
        shutil.rmtree(run, ignore_errors=True)

    accelerator = Accelerator(cpu=device == "cpu")
    device = accelerator.device.type
    torch.manual_seed(recipe.seed)
    try:
        run.mkdir(parents=True, exist_ok=True)
        dataset = prepare_dataset(run, repo, recipe, exclude or [], resume)
        (run / "recipe.json").write_text(json.dumps(recipe.as_dict(), indent=2))
    except OSError as exc:
        raise error_from_oserror(exc, f"preparing the training run in {run}") from None
    stats = json.loads((run / "data" / "stats.json").read_text())
    train_texts = mix(read_examples(run / "data" / "train.jsonl"), recipe)
    heldout_texts = read_examples(run / "data" / "heldout.jsonl")
    if dataset is not None and not heldout_texts:
        raise BadInputError("the repository is too small to hold out any file for evaluation")

    quant = resolve_quant(recipe, device)
    model, tokenizer, resolved = load_for_training(model_spec, quant, device, accelerator.local_process_index)
    train_blocks = pack(tokenizer, train_texts, recipe.seq_len)
    heldout_blocks = pack(tokenizer, heldout_texts, recipe.seq_len)
    lora = LoraConfig(
        r=recipe.r, lora_alpha=recipe.alpha, lora_dropout=recipe.dropout,
        target_modules=recipe.modules(), task_type="CAUSAL_LM",
    )  # fmt: skip
    model = get_peft_model(model, lora)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=recipe.lr, weight_decay=0.0)
    scheduler = get_cosine_schedule_with_warmup(optimizer, recipe.warmup_steps, recipe.max_steps)
    model, optimizer = accelerator.prepare(model, optimizer)

    start_step = 0
    log: list[dict[str, float]] = []
    ckpt = _latest_checkpoint(run) if resume else None
    if ckpt is not None:
        start_step, log = _load_checkpoint(ckpt, accelerator.unwrap_model(model), optimizer, scheduler)
    before_path = run / "heldout_before.json"
    if before_path.is_file():
        before = json.loads(before_path.read_text())
    else:
        before = heldout_metrics(model, heldout_blocks, recipe)
        before_path.write_text(json.dumps(before))

    started = time.perf_counter()
    tokens = 0
    interrupted = False
    model.train()
    with _StopFlag() as stop:
        for step in range(start_step, recipe.max_steps):
            step_started = time.perf_counter()
            step_loss = 0.0
            for micro in range(recipe.grad_accum):
                batch = batch_for_step(
                    train_blocks, step, micro, recipe, accelerator.process_index, accelerator.num_processes
                ).to(accelerator.device)
                loss = model(input_ids=batch, labels=batch).loss / recipe.grad_accum
                accelerator.backward(loss)
                step_loss += float(loss.detach())
                tokens += batch.numel()
            accelerator.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            rate = recipe.batch_size * recipe.grad_accum * recipe.seq_len / (time.perf_counter() - step_started)
            log.append(
                {
                    "step": step + 1,
                    "loss": round(step_loss, 5),
                    "lr": scheduler.get_last_lr()[0],
                    "tok_s": round(rate, 1),
                }
            )
            if progress and accelerator.is_main_process:
                progress(step + 1, recipe.max_steps, step_loss, rate)
            done = step + 1 == recipe.max_steps
            if accelerator.is_main_process and ((step + 1) % recipe.save_every == 0 or stop.set or done):
                _save_checkpoint(run, step + 1, accelerator.unwrap_model(model), optimizer, scheduler, log)
            if stop.set and not done:
                interrupted = True
                break
    seconds = time.perf_counter() - started
    (run / "log.jsonl").write_text("".join(json.dumps(row) + "\n" for row in log))
    final_loss = log[-1]["loss"] if log else float("nan")
    if interrupted:
        return TrainResult(name, target, len(log), final_loss, before, {}, seconds, tokens, True, start_step, log)

    after = heldout_metrics(model, heldout_blocks, recipe)
    if accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(model)
        unwrapped.save_pretrained(target)  # adapter_config.json + adapter_model.safetensors (plain peft)
        card = AdapterCard(
            name=name,
            base_model=resolved.name,
            base_spec=model_spec,
            base_id=base_identity(resolved),
            dataset_sha256=stats["sha256"],
            dataset=stats,
            recipe=recipe.as_dict(),
            quant=quant,
            metrics={"heldout_before": before, "heldout_after": after, "final_train_loss": final_loss,
                     "steps": len(log), "train_seconds": round(seconds, 1), "tokens": tokens},
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            repo=str(Path(repo).resolve()),
        )  # fmt: skip
        write_card(target, card)
        _plot_loss(log, target / "loss.png")
        shutil.rmtree(run / "checkpoints", ignore_errors=True)
    return TrainResult(name, target, len(log), final_loss, before, after, seconds, tokens, False, start_step, log)


def _plot_loss(log: list[dict[str, float]], out: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([r["step"] for r in log], [r["loss"] for r in log])
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
