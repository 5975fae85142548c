"""`codemm models`, `codemm config` and `codemm bench`: the model registry, the effective settings, benchmarks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from codemm.cli.common import (
    ApiBaseOpt,
    ApiKeyEnvOpt,
    BackendOpt,
    DeviceOpt,
    JsonOpt,
    ModelOpt,
    QuantOpt,
    print_json,
    settings_for,
)
from codemm.config import QUANTS
from codemm.errors import BadInputError

models_app = typer.Typer(help="List and inspect models.", no_args_is_help=True)
config_app = typer.Typer(help="Show the effective configuration.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print numbers.", no_args_is_help=True)


@models_app.command("list")
def models_list(as_json: JsonOpt = False) -> None:
    """Models codemm knows by name, and whether they are installed."""
    from codemm.models.info import list_models

    rows = list_models()
    if as_json:
        print_json(rows)
        return
    for row in rows:
        state = "converted" if row["converted"] else ("installed" if row["installed"] else "not installed")
        typer.echo(f"{row['name']:<28} {state:<14} {row['description']}")


@models_app.command("info")
def models_info(
    ctx: typer.Context,
    spec: Annotated[str | None, typer.Argument(help="Model spec (default: the configured model).")] = None,
    quant: QuantOpt = None,
    device: DeviceOpt = None,
    as_json: JsonOpt = False,
    backend: BackendOpt = None,
    api_base: ApiBaseOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
) -> None:
    """Load (or connect to) a model and describe it: backend, context window, capabilities, footprint."""
    from codemm.models.factory import open_model

    settings = settings_for(ctx, None, model=spec, quant=quant, device=device, backend=backend, api_base=api_base,
                         api_key_env=api_key_env)  # fmt: skip
    model = open_model(settings)
    info = model.describe()
    model.close()
    if as_json:
        print_json(info)
        return
    for key, value in info.items():
        if key == "footprint_bytes" and isinstance(value, int):
            key, value = "footprint", f"{value / 2**20:.1f} MiB"
        elif key == "parameters" and isinstance(value, int):
            value = f"{value:,} ({value / 1e6:.1f}M)"
        elif isinstance(value, dict):
            value = ", ".join(f"{k} {'yes' if v is True else 'no' if v is False else v}" for k, v in value.items())
        typer.echo(f"{key:<18} {value}")


@models_app.command("compose")
def models_compose(
    ctx: typer.Context,
    tower: Annotated[Path, typer.Option("--tower", help="Local SigLIP or CLIP vision tower (safetensors).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the composed vision-language checkpoint.")],
    model: ModelOpt = None,
) -> None:
    """Compose a LLaVA-style VLM: vision tower -> MLP projector -> the language model's embeddings."""
    from codemm.models.resolve import resolve
    from codemm.vision.compose import compose_llava

    settings = settings_for(ctx, None, model=model)
    result = compose_llava(resolve(settings.model).checkpoint, tower.expanduser(), out.expanduser())
    typer.echo(f"composed {result} (projector untrained: align it with `codemm adapters train-vision`)")


@config_app.command("show")
def config_show(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every setting with its value and where it came from."""
    settings = settings_for(ctx)
    if as_json:
        print_json({"settings": settings.as_dict(), "sources": settings.sources})
        return
    for name, value in settings.as_dict().items():
        typer.echo(f"{name:<16} {value!s:<28} ({settings.sources[name]})")


@bench_app.command("generate")
def bench_generate(
    ctx: typer.Context,
    quants: Annotated[str, typer.Option(help="Comma-separated quantizations to measure.")] = "none,8bit,4bit",
    max_new_tokens: Annotated[int, typer.Option(help="Tokens to decode per run.")] = 64,
    as_json: JsonOpt = False,
) -> None:
    """Load time, time to first token, prompt and decode tokens/s, and peak RSS per quantization."""
    from codemm.eval.bench.generate import format_table, run_all

    settings = settings_for(ctx)
    wanted = [q.strip() for q in quants.split(",") if q.strip()]
    bad = [q for q in wanted if q not in QUANTS]
    if bad:
        raise BadInputError(f"unknown quantization '{bad[0]}' (use {', '.join(QUANTS)})")
    rows = run_all(settings.model, wanted, settings.device, max_new_tokens)
    print_json(rows) if as_json else typer.echo(format_table(rows))
