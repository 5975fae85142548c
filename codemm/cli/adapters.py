"""`codemm adapters`: fine-tune LoRA adapters on a repository and manage the store."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from codemm.cli.common import (
    DeviceOpt,
    JsonOpt,
    ModelOpt,
    print_json,
    refresh_index,
    settings_for,
)
from codemm.errors import BadInputError

app = typer.Typer(help="Fine-tune LoRA adapters on your code and manage them.", no_args_is_help=True)


@app.command("dataset")
def adapters_dataset(
    path: Annotated[Path, typer.Argument(help="Repository root.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for train.jsonl, heldout.jsonl, stats.json.")],
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Glob to leave out (repeatable).")] = None,
    heldout: Annotated[float, typer.Option(help="Fraction of files held out.")] = 0.15,
    seed: Annotated[int, typer.Option(help="Split seed.")] = 0,
) -> None:
    """Build a training set (FIM, signature->body, file chunks) from a repository."""
    from dataclasses import asdict

    from codemm.adapters.dataset import build_dataset, write_dataset

    index, _ = refresh_index(path, embed=False)
    dataset = build_dataset(index, heldout, exclude or [], seed)
    write_dataset(dataset, out)
    print_json(asdict(dataset.stats))


@app.command("train")
def adapters_train(
    ctx: typer.Context,
    repo: Annotated[Path, typer.Option("--repo", "-r", help="Repository to learn from.")],
    name: Annotated[str, typer.Option("--name", help="Adapter name.")],
    recipe: Annotated[
        str | None,
        typer.Option(
            "--recipe",
            help="Recipe name in adapters/recipes or a .toml path (default: default; with --resume, the run's own).",
        ),  # fmt: skip
    ] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", help="Override the recipe's steps.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint.")] = False,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Glob to leave out (repeatable).")] = None,
    model: ModelOpt = None,
    device: DeviceOpt = None,
    seed: Annotated[int | None, typer.Option(help="Seed (data order, init).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fine-tune a LoRA (QLoRA where bitsandbytes runs) adapter on a repository."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from codemm.adapters.recipe import load_recipe
    from codemm.adapters.store import adapter_dir
    from codemm.adapters.train import train_adapter

    settings = settings_for(ctx, repo, model=model, device=device)
    if recipe is None:  # a resume continues with the recipe its run saved
        saved = adapter_dir(name) / "run" / "recipe.json"
        recipe = str(saved) if resume and saved.is_file() else "default"
    chosen = load_recipe(recipe, {"max_steps": max_steps, "seed": seed})
    columns = (
        TextColumn("training {task.fields[name]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}  {task.fields[rate]:.0f} tok/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, disable=as_json or not sys.stderr.isatty(), console=None) as bar:
        task = bar.add_task("train", total=chosen.max_steps, name=name, loss=0.0, rate=0.0)

        def progress(step: int, total: int, loss: float, rate: float) -> None:
            bar.update(task, completed=step, loss=loss, rate=rate)

        # Before the first step, which can take minutes on a CPU. Not on --resume: the estimate is for
        # a whole run (the bar shows the time left), and a resume may be refused before any step.
        if not as_json and not resume:
            from codemm.adapters.estimate import estimate_training

            typer.echo(f"codemm: expected: {estimate_training(chosen, repo).describe()}", err=True)
        result = train_adapter(name, repo, chosen, settings.model, settings.device, resume, exclude, progress)
    summary = {
        "name": result.name, "path": str(result.path), "steps": result.steps, "final_loss": result.final_loss,
        "heldout_before": result.heldout_before, "heldout_after": result.heldout_after,
        "seconds": round(result.seconds, 1), "tokens": result.tokens, "interrupted": result.interrupted,
        "resumed_from": result.resumed_from,
    }  # fmt: skip
    if as_json:
        print_json(summary)
    elif result.interrupted:
        typer.echo(f"interrupted at step {result.steps}; checkpoint saved. Resume (with the same recipe): "
                   f"codemm adapters train --repo {repo} --name {name} --resume", err=True)  # fmt: skip
    else:
        b, a = result.heldout_before, result.heldout_after
        drop = (1 - a["perplexity"] / b["perplexity"]) * 100
        typer.echo(f"adapter {name}: {result.steps} steps in {result.seconds:.0f}s, held-out perplexity "
                   f"{b['perplexity']} -> {a['perplexity']} ({drop:.1f}% lower)")  # fmt: skip
        typer.echo(f"saved to {result.path}")
    if result.interrupted:
        raise typer.Exit(130)


@app.command("train-vision")
def adapters_train_vision(
    model: Annotated[Path, typer.Option("--model", "-m", help="A composed vision-language checkpoint.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the checkpoint with the aligned projector.")],
    repo: Annotated[Path, typer.Option("--repo", "-r", help="Repository whose code the screenshots show.")],
    name: Annotated[str | None, typer.Option("--name", help="Store the stage-2 LoRA adapter under this name.")] = None,
    examples: Annotated[int, typer.Option("--examples", help="Synthetic screenshots to render.")] = 64,
    align_steps: Annotated[int, typer.Option("--align-steps", help="Stage 1 steps (projector only).")] = 40,
    instruct_steps: Annotated[
        int, typer.Option("--instruct-steps", help="Stage 2 steps (projector + LoRA); 0 skips.")
    ] = 40,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Align a composed model's projector on screenshots (stage 1), then tune projector + LoRA (stage 2)."""
    from codemm.adapters.vision_data import synthetic_examples
    from codemm.adapters.vision_train import train_vision

    captions, questions = synthetic_examples(repo, examples, seed)
    result = train_vision(model.expanduser(), captions, questions, out.expanduser(), name, align_steps, instruct_steps,
                          seed=seed)  # fmt: skip
    typer.echo(f"stage 1 loss {result.stage1_losses[0]:.3f} -> {result.stage1_losses[-1]:.3f}; checkpoint {out}")
    if result.stage2_losses:
        typer.echo(
            f"stage 2 loss {result.stage2_losses[0]:.3f} -> {result.stage2_losses[-1]:.3f}; adapter {result.adapter}"
        )
    typer.echo(f"loss curves: {out / 'vision_loss.png'}")


@app.command("list")
def adapters_list(as_json: JsonOpt = False) -> None:
    """Adapters in the store."""
    from dataclasses import asdict

    from codemm.adapters.store import list_adapters

    cards = list_adapters()
    if as_json:
        print_json([asdict(c) for c in cards])
        return
    if not cards:
        typer.echo("no adapters yet: codemm adapters train --repo PATH --name NAME")
    for card in cards:
        ppl = card.metrics.get("heldout_after", {}).get("perplexity", "-")
        typer.echo(f"{card.name:<24} base {card.base_model:<24} held-out ppl {ppl:<10} {card.created}")


@app.command("show")
def adapters_show(name: Annotated[str, typer.Argument()], as_json: JsonOpt = False) -> None:
    """An adapter's card: base model, dataset, recipe, metrics."""
    from dataclasses import asdict

    from codemm.adapters.store import adapter_dir, read_card

    card = asdict(read_card(name))
    card["path"] = str(adapter_dir(name))
    if as_json:
        print_json(card)
        return
    for key, value in card.items():
        typer.echo(f"{key:<16} {json.dumps(value) if isinstance(value, dict) else value}")


@app.command("delete")
def adapters_delete(name: Annotated[str, typer.Argument()]) -> None:
    """Remove an adapter from the store."""
    from codemm.adapters.store import delete_adapter

    delete_adapter(name)
    typer.echo(f"deleted adapter {name}")


@app.command("merge")
def adapters_merge(
    name: Annotated[str, typer.Argument()],
    out: Annotated[Path, typer.Option("--out", help="Folder for the standalone checkpoint.")],
) -> None:
    """Merge an adapter into its base model and write a standalone safetensors checkpoint."""
    from codemm.adapters.store import merge_adapter

    typer.echo(f"merged checkpoint written to {merge_adapter(name, out)} (use it with --model)")


@app.command("export")
def adapters_export(
    name: Annotated[str, typer.Argument()],
    fmt: Annotated[str, typer.Option("--format", help="Output format: gguf (a llama.cpp LoRA).")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Output file (default: adapter.gguf in the adapter's folder).")
    ] = None,
) -> None:
    """Export an adapter for another engine: gguf is a LoRA for llama.cpp (llama-server --lora FILE)."""
    from codemm.adapters.export import export_gguf

    if fmt != "gguf":
        raise BadInputError(f"unknown export format '{fmt}' (use gguf)")
    typer.echo(str(export_gguf(name, out)))
