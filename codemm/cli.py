"""The `codemm` command. Parses arguments, calls one library function, prints the result."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any


def _exit_interrupted(*_: object) -> None:
    """Exit 130 at once. A normal interpreter exit would tear down torch, tokenizers and llama.cpp
    while one of their threads may still be inside C++ code, which aborts with `terminate called`
    and exit 134; a second Ctrl-C during the teardown would do the same."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError, RuntimeError, ValueError):  # a signal can land inside another write
        sys.stdout.flush()
    os.write(2, b"codemm: interrupted\n")
    os._exit(130)


# Ctrl-C anywhere (the imports below take seconds with torch) exits 130 with one line: typer would
# turn a KeyboardInterrupt into a silent exit 130 after a teardown that can abort. Commands that must
# finish something first install their own handler (adapter training checkpoints, then exits).
signal.signal(signal.SIGINT, _exit_interrupted)

import typer  # noqa: E402

from codemm import __version__  # noqa: E402
from codemm.config import BACKENDS, DEVICES, QUANTS, load_settings  # noqa: E402
from codemm.errors import BadInputError, CodemmError, error_from_oserror  # noqa: E402

app = typer.Typer(
    help="codemm: a local, multimodal code-LLM assistant.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
models_app = typer.Typer(help="List and inspect models.", no_args_is_help=True)
config_app = typer.Typer(help="Show the effective configuration.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print numbers.", no_args_is_help=True)
adapters_app = typer.Typer(help="Fine-tune LoRA adapters on your code and manage them.", no_args_is_help=True)
app.add_typer(adapters_app, name="adapters")
eval_app = typer.Typer(help="Measure what codemm gains and risks: suites, variants, reports.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
AdapterOpt = Annotated[str | None, typer.Option("--adapter", help="LoRA adapter name (see `codemm adapters list`).")]
RepoOpt = Annotated[Path, typer.Option("--repo", "-r", help="Repository root (default: current dir).")]
app.add_typer(models_app, name="models")
app.add_typer(config_app, name="config")
app.add_typer(bench_app, name="bench")

ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="Registry name, checkpoint dir or .gguf file.")]
QuantOpt = Annotated[str | None, typer.Option("--quant", "-q", help=f"Quantization: {', '.join(QUANTS)}.")]
DeviceOpt = Annotated[str | None, typer.Option("--device", help=f"Device: {', '.join(DEVICES)}.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]
BackendOpt = Annotated[
    str | None, typer.Option("--backend", "-b", help=f"Model engine: {', '.join(BACKENDS)} (default transformers).")
]
ApiBaseOpt = Annotated[
    str | None, typer.Option("--api-base", help="openai backend: the server's base URL, e.g. http://127.0.0.1:8080/v1.")
]
ApiKeyEnvOpt = Annotated[
    str | None, typer.Option("--api-key-env", help="openai backend: environment variable that holds the API key.")
]
EmbeddingModelOpt = Annotated[
    str | None,
    typer.Option(
        "--embedding-model",
        help="Embeds the index: all-MiniLM-L6-v2 (built in), a local sentence-transformers dir, or "
        "openai:MODEL_ID (on embedding_api_base, default api_base). Changing it re-embeds the index.",
    ),
]


def _settings(ctx: typer.Context, cwd: Path | None = None, **flags: Any) -> Any:
    """Settings with the global options under the command's own (the command's win); ``cwd``
    picks whose codemm.toml applies (default: the current directory's project)."""
    merged = dict(ctx.obj or {})
    merged.update({k: v for k, v in flags.items() if v is not None})
    return load_settings(merged, cwd=cwd)


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"codemm {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    ctx: typer.Context,
    model: ModelOpt = None,
    quant: QuantOpt = None,
    device: DeviceOpt = None,
    backend: BackendOpt = None,
    api_base: ApiBaseOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    embedding_model: EmbeddingModelOpt = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    ctx.obj = {"model": model, "quant": quant, "device": device, "backend": backend, "api_base": api_base,
               "api_key_env": api_key_env, "embedding_model": embedding_model}  # fmt: skip


@adapters_app.command("dataset")
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

    index, _ = _refresh_index(path, embed=False)
    dataset = build_dataset(index, heldout, exclude or [], seed)
    write_dataset(dataset, out)
    _print_json(asdict(dataset.stats))


@adapters_app.command("train")
def adapters_train(
    ctx: typer.Context,
    repo: Annotated[Path, typer.Option("--repo", "-r", help="Repository to learn from.")],
    name: Annotated[str, typer.Option("--name", help="Adapter name.")],
    recipe: Annotated[
        str, typer.Option("--recipe", help="Recipe name in adapters/recipes or a .toml path.")
    ] = "default",
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
    from codemm.adapters.train import train_adapter

    settings = _settings(ctx, model=model, device=device)
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

        result = train_adapter(name, repo, chosen, settings.model, settings.device, resume, exclude, progress)
    summary = {
        "name": result.name, "path": str(result.path), "steps": result.steps, "final_loss": result.final_loss,
        "heldout_before": result.heldout_before, "heldout_after": result.heldout_after,
        "seconds": round(result.seconds, 1), "tokens": result.tokens, "interrupted": result.interrupted,
        "resumed_from": result.resumed_from,
    }  # fmt: skip
    if as_json:
        _print_json(summary)
    elif result.interrupted:
        typer.echo(f"interrupted at step {result.steps}; checkpoint saved. Resume: codemm adapters train "
                   f"--repo {repo} --name {name} --recipe {recipe} --resume", err=True)  # fmt: skip
    else:
        b, a = result.heldout_before, result.heldout_after
        drop = (1 - a["perplexity"] / b["perplexity"]) * 100
        typer.echo(f"adapter {name}: {result.steps} steps in {result.seconds:.0f}s, held-out perplexity "
                   f"{b['perplexity']} -> {a['perplexity']} ({drop:.1f}% lower)")  # fmt: skip
        typer.echo(f"saved to {result.path}")
    if result.interrupted:
        raise typer.Exit(130)


@adapters_app.command("train-vision")
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


@adapters_app.command("list")
def adapters_list(as_json: JsonOpt = False) -> None:
    """Adapters in the store."""
    from dataclasses import asdict

    from codemm.adapters.store import list_adapters

    cards = list_adapters()
    if as_json:
        _print_json([asdict(c) for c in cards])
        return
    if not cards:
        typer.echo("no adapters yet: codemm adapters train --repo PATH --name NAME")
    for card in cards:
        ppl = card.metrics.get("heldout_after", {}).get("perplexity", "-")
        typer.echo(f"{card.name:<24} base {card.base_model:<24} held-out ppl {ppl:<10} {card.created}")


@adapters_app.command("show")
def adapters_show(name: Annotated[str, typer.Argument()], as_json: JsonOpt = False) -> None:
    """An adapter's card: base model, dataset, recipe, metrics."""
    from dataclasses import asdict

    from codemm.adapters.store import adapter_dir, read_card

    card = asdict(read_card(name))
    card["path"] = str(adapter_dir(name))
    if as_json:
        _print_json(card)
        return
    for key, value in card.items():
        typer.echo(f"{key:<16} {json.dumps(value) if isinstance(value, dict) else value}")


@adapters_app.command("delete")
def adapters_delete(name: Annotated[str, typer.Argument()]) -> None:
    """Remove an adapter from the store."""
    from codemm.adapters.store import delete_adapter

    delete_adapter(name)
    typer.echo(f"deleted adapter {name}")


@adapters_app.command("merge")
def adapters_merge(
    name: Annotated[str, typer.Argument()],
    out: Annotated[Path, typer.Option("--out", help="Folder for the standalone checkpoint.")],
) -> None:
    """Merge an adapter into its base model and write a standalone safetensors checkpoint."""
    from codemm.adapters.store import merge_adapter

    typer.echo(f"merged checkpoint written to {merge_adapter(name, out)} (use it with --model)")


@adapters_app.command("export")
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


def _eval_progress(as_json: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.fields[suite]}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        disable=as_json or not sys.stderr.isatty(), transient=True,
    )  # fmt: skip


def _run_and_report(config: Any, out: Path, resume: bool) -> None:
    from codemm.eval.report import write_report
    from codemm.eval.runner import run_eval

    with _eval_progress(False) as bar:
        task = bar.add_task("eval", total=None, suite="")
        run_eval(
            config,
            out,
            resume,
            progress=lambda suite, done, total: bar.update(task, completed=done, total=total, suite=suite),
        )
    md, page = write_report(out)
    typer.echo(f"results: {out / 'results.jsonl'}\nreport: {md} and {page}")


@eval_app.command("run")
def eval_run(
    ctx: typer.Context,
    suites: Annotated[
        list[str] | None,
        typer.Argument(
            help="Suites: synthesis, repoqa, completion, screenshots (default: these four), humaneval, "
            "adapter_gain, edit."
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Run folder (results.jsonl, run.json, report).")] = Path(
        "eval-run"
    ),
    variant: Annotated[
        list[str] | None, typer.Option("--variant", help="e.g. repo, no-repo, adapter=NAME, quant=4bit (repeatable).")
    ] = None,
    samples: Annotated[int, typer.Option("--samples", help="Samples per item for execution suites (pass@k).")] = 1,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    jobs: Annotated[int, typer.Option("--jobs", help="Parallel sandbox jobs.")] = 1,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many items per suite.")] = None,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens")] = 256,
    problems: Annotated[Path | None, typer.Option("--problems", help="HumanEval/MBPP JSONL for synthesis.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run in --out.")] = False,
    model: ModelOpt = None,
    quant: QuantOpt = None,
    device: DeviceOpt = None,
    adapter: AdapterOpt = None,
    backend: BackendOpt = None,
    api_base: ApiBaseOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", help="Generations in flight at once (a server batches them).")
    ] = 1,
) -> None:
    """Run suites under variants; results stream to DIR/results.jsonl and a report is written."""
    from codemm.eval.runner import DEFAULT_SUITES, RunConfig

    settings = _settings(ctx, model=model, quant=quant, device=device, backend=backend, api_base=api_base,
                         api_key_env=api_key_env)  # fmt: skip
    if samples < 1:
        raise BadInputError("--samples must be at least 1")
    if concurrency < 1:
        raise BadInputError("--concurrency must be at least 1")
    config = RunConfig(
        suites=list(suites or DEFAULT_SUITES), variants=list(variant or []), model=settings.model,
        quant=settings.quant, device=settings.device, adapter=adapter, samples=samples, seed=seed, jobs=jobs,
        limit=limit, max_new_tokens=max_new_tokens, problems=str(problems) if problems else None,
        backend=settings.backend, api_base=settings.api_base if settings.backend == "openai" else "",
        api_key_env=settings.api_key_env, context_window=settings.context_window, concurrency=concurrency,
    )  # fmt: skip
    _run_and_report(config, out, resume)


@eval_app.command("rerun")
def eval_rerun(
    run_dir: Annotated[Path, typer.Argument(help="A finished or interrupted run folder.")],
    out: Annotated[Path | None, typer.Option("--out", help="New folder (default: RUN_DIR-rerun).")] = None,
) -> None:
    """Reproduce a run from its saved run.json into a new folder."""
    from codemm.eval.runner import RunConfig

    config = RunConfig.load(run_dir)
    _run_and_report(config, out or run_dir.with_name(run_dir.name + "-rerun"), False)


@eval_app.command("check")
def eval_check(
    samples: Annotated[Path, typer.Argument(help="HumanEval-format samples JSONL: {task_id, completion}.")],
    problems: Annotated[Path, typer.Option("--problems", help="HumanEval or MBPP problems JSONL(.gz).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for samples_results.jsonl.")],
    jobs: Annotated[int, typer.Option("--jobs")] = 2,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per sample.")] = 10.0,
) -> None:
    """Score completions generated elsewhere through codemm's sandbox; prints pass@k."""
    from codemm.eval.check import check_samples
    from codemm.eval.sandbox import SandboxLimits

    limits = SandboxLimits(wall_s=timeout, cpu_s=max(1, int(timeout)))
    _print_json(check_samples(samples, problems, out, jobs=jobs, limits=limits))


@eval_app.command("report")
def eval_report(
    run_dir: Annotated[Path, typer.Argument(help="Run folder.")],
    compare: Annotated[Path | None, typer.Option("--compare", help="A second run to set side by side.")] = None,
) -> None:
    """Write report.md and a self-contained report.html for a run."""
    from codemm.eval.report import write_report

    md, page = write_report(run_dir, compare)
    typer.echo(f"report: {md} and {page}")


@app.command()
def chat(
    ctx: typer.Context,
    repo: Annotated[
        Path | None, typer.Option("--repo", "-r", help="Repository root (default: the project of the current dir).")
    ] = None,
    model: ModelOpt = None,
    quant: QuantOpt = None,
    device: DeviceOpt = None,
    adapter: AdapterOpt = None,
    continue_last: Annotated[
        bool, typer.Option("--continue", help="Resume the last conversation, in its repository unless --repo.")
    ] = False,
    backend: BackendOpt = None,
    api_base: ApiBaseOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    embedding_model: EmbeddingModelOpt = None,
) -> None:
    """Open the terminal chat UI (Enter sends, Ctrl+J newline, Esc stops, F2 history, /help for commands)."""
    from codemm.repo.walk import check_repo_root
    from codemm.session import AskSession
    from codemm.tui.app import run_chat

    settings = _settings(ctx, model=model, quant=quant, device=device, backend=backend, api_base=api_base,
                         api_key_env=api_key_env, embedding_model=embedding_model)  # fmt: skip
    root = repo if repo is not None else _default_repo()
    if root is not None:
        root = check_repo_root(root)  # a bad --repo fails here, before the screen opens
    session = AskSession(settings, repo=root, adapter=adapter, k=4, map_tokens=256)
    run_chat(session, continue_last, repo_given=repo is not None)


def _default_repo() -> Path | None:
    """The project the current dir belongs to (nearest .git or codemm.toml), else none: asking from
    a home directory must not index the whole home directory."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists() or (folder / "codemm.toml").is_file():
            return folder
    return None


@app.command()
def ask(
    ctx: typer.Context,
    question: Annotated[
        str, typer.Argument(help='The question or, with --patch, the change to make; "-" reads standard input.')
    ] = "",
    question_file: Annotated[
        Path | None, typer.Option("--question-file", help="Read the question from a file.")
    ] = None,
    repo: Annotated[
        Path | None,
        typer.Option("--repo", "-r", help="Repository root (default: the project of the current dir)."),
    ] = None,
    no_repo: Annotated[bool, typer.Option("--no-repo", help="Answer without repository context.")] = False,
    k: Annotated[int, typer.Option("-k", help="Chunks of context to retrieve.")] = 6,
    map_tokens: Annotated[int, typer.Option("--map-tokens", help="Token budget of the repo map (0: none).")] = 512,
    patch: Annotated[bool, typer.Option("--patch", help="Ask for a code change; print it as a unified diff.")] = False,
    apply: Annotated[bool, typer.Option("--apply", help="With --patch: write the change to the files.")] = False,
    adapter: AdapterOpt = None,
    image: Annotated[
        list[Path] | None,
        typer.Option("--image", "-i", help="Screenshot, diagram image or diagram source (repeatable)."),
    ] = None,
    image_mode: Annotated[str, typer.Option("--image-mode", help="ocr | vision | both (vision needs a VLM).")] = "auto",
    ocr: Annotated[str, typer.Option("--ocr", help="OCR backend: auto, tesseract, rapidocr.")] = "auto",
    model: ModelOpt = None,
    quant: QuantOpt = None,
    device: DeviceOpt = None,
    max_new_tokens: Annotated[int | None, typer.Option(help="Most tokens to generate.")] = None,
    temperature: Annotated[float | None, typer.Option(help="0 = greedy (deterministic).")] = None,
    top_p: Annotated[float | None, typer.Option(help="Nucleus sampling mass.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed for sampling.")] = None,
    no_stream: Annotated[bool, typer.Option("--no-stream", help="Print the answer once it is complete.")] = False,
    as_json: JsonOpt = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Timings and dropped context on stderr.")] = False,
    backend: BackendOpt = None,
    api_base: ApiBaseOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    embedding_model: EmbeddingModelOpt = None,
) -> None:
    """Answer one question about a repository, streaming the answer and checking its citations.

    QUESTION may be "-" to read it from standard input (long questions, pasted logs)."""
    import time

    from codemm.ask import preamble
    from codemm.patch import require_edit_start
    from codemm.session import AskSession

    settings = _settings(
        ctx, model=model, quant=quant, device=device, max_new_tokens=max_new_tokens,
        temperature=temperature, top_p=top_p, seed=seed, backend=backend, api_base=api_base, api_key_env=api_key_env,
        embedding_model=embedding_model,
    )  # fmt: skip
    question = _read_question(question, question_file)
    if apply and not patch:
        raise BadInputError("--apply only makes sense with --patch")
    if k < 0 or map_tokens < 0:
        raise BadInputError("-k and --map-tokens must not be negative")
    root = None if no_repo else (repo if repo is not None else _default_repo())
    if patch and root is None:
        raise BadInputError("--patch needs a repository: pass --repo PATH")
    if root is None and not no_repo:
        typer.echo("codemm: note: not inside a project and no --repo given: answering without a repository",
                   err=True)  # fmt: skip
    session = AskSession(settings, adapter=adapter, image_mode=image_mode, ocr=ocr, k=k, map_tokens=map_tokens)
    from codemm.vision.images import check_images

    check_images(image or [])  # bad images fail here, before any model loads
    if root is not None:
        session.index = _refresh_index(root, quiet=as_json, settings=settings)[0]
        session.repo = session.index.root
    session.load_model()
    started = time.perf_counter()
    attached = [session.attach_image(path) for path in image or []]
    from codemm.vision.images import image_notes

    for note in image_notes(attached):
        typer.echo(f"codemm: note: {note}", err=True)
    prepared, stream = session.ask(question, patch=patch)
    live = not (as_json or no_stream or patch)
    if live:
        sys.stdout.write(preamble(prepared))
    pieces = []
    first_token_s = None
    for piece in require_edit_start(stream) if patch else stream:
        if first_token_s is None:
            first_token_s = time.perf_counter() - started
        pieces.append(piece)
        if live:
            sys.stdout.write(piece)
            sys.stdout.flush()
    result = session.finish("".join(pieces), stream, prepared)
    if live:
        sys.stdout.write("\n")  # statistics and notes on stderr start on their own line
        sys.stdout.flush()
    if verbose:
        _report(result, first_token_s)
    if stream.stats.stop_reason == "repetition":
        typer.echo("codemm: note: stopped: the model began repeating itself", err=True)
    if patch:
        _patch_output(result, root, apply, as_json)  # type: ignore[arg-type]
        return
    if as_json:
        data = result.to_json()
        data["images"] = [i.as_json(session.resolved_image_mode()) for i in attached]
        _print_json(data)
        return
    if not live:
        sys.stdout.write(result.answer + "\n")
    if result.citations:
        marks = [f"{c.label} {'ok' if c.valid else 'INVALID: ' + c.reason}" for c in result.citations]
        typer.echo("Sources: " + "; ".join(marks))


def _read_question(question: str, question_file: Path | None) -> str:
    """The question from the argument, standard input ("-") or a file; never empty."""
    if question_file is not None:
        if question not in ("", "-"):
            raise BadInputError("give the question as an argument or with --question-file, not both")
        try:
            question = question_file.expanduser().read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise error_from_oserror(exc, f"reading {question_file}") from None
    elif question == "-":
        question = sys.stdin.read()
    if not question.strip():
        raise BadInputError("the question is empty")
    return question


def _report(result: Any, first_token_s: float | None) -> None:
    sys.stdout.flush()  # the answer first: stderr is unbuffered and would overtake it
    data = result.to_json()
    t = data["timings"]
    context = data.get("context_tokens", {})
    typer.echo(
        f"[{data['model']} ({data['backend']}) {data['quant']} on {data['device']}, "
        f"adapter {data['adapter'] or 'none'}] load {t['load_s']}s, "
        f"retrieval {t.get('retrieval_s', 0)}s, first token {first_token_s or 0:.3f}s after the question "
        f"(generation ttft {t['ttft_s']}s), {data['tokens']['new']} tokens at {t['tokens_per_s']} tok/s; "
        f"prompt {data['tokens']['prompt']} tokens (budget {context.get('budget', '-')})",
        err=True,
    )
    for item in data.get("dropped", []):
        typer.echo(f"dropped to fit the context window: {item}", err=True)


def _patch_output(result: Any, root: Path, apply: bool, as_json: bool) -> None:
    from codemm.patch import PatchError, apply_patch, build_patch

    try:
        built = build_patch(root, result.answer)
    except PatchError as exc:
        sys.stdout.write(exc.raw + "\n")
        raise
    changed = apply_patch(root, built) if apply else []
    if as_json:
        _print_json({**result.to_json(), "diff": built.diff, "applied": changed})
        return
    sys.stdout.write(built.diff)
    if apply:
        typer.echo(f"applied to {', '.join(changed)}", err=True)
    else:
        typer.echo("not applied (use --apply to write it)", err=True)


@models_app.command("list")
def models_list(as_json: JsonOpt = False) -> None:
    """Models codemm knows by name, and whether they are installed."""
    from codemm.models.info import list_models

    rows = list_models()
    if as_json:
        _print_json(rows)
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
    from codemm.models.seam import open_model

    settings = _settings(ctx, model=spec, quant=quant, device=device, backend=backend, api_base=api_base,
                         api_key_env=api_key_env)  # fmt: skip
    model = open_model(settings)
    info = model.describe()
    model.close()
    if as_json:
        _print_json(info)
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

    settings = _settings(ctx, model=model)
    result = compose_llava(resolve(settings.model).checkpoint, tower.expanduser(), out.expanduser())
    typer.echo(f"composed {result} (projector untrained: align it with `codemm adapters train-vision`)")


@config_app.command("show")
def config_show(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every setting with its value and where it came from."""
    settings = _settings(ctx)
    if as_json:
        _print_json({"settings": settings.as_dict(), "sources": settings.sources})
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

    settings = _settings(ctx)
    wanted = [q.strip() for q in quants.split(",") if q.strip()]
    bad = [q for q in wanted if q not in QUANTS]
    if bad:
        raise BadInputError(f"unknown quantization '{bad[0]}' (use {', '.join(QUANTS)})")
    rows = run_all(settings.model, wanted, settings.device, max_new_tokens)
    _print_json(rows) if as_json else typer.echo(format_table(rows))


def _refresh_index(repo: Path, embed: bool = True, quiet: bool = False, settings: Any = None) -> tuple[Any, Any]:
    """Opens and refreshes the repo's index, with a progress bar on stderr for big repos: one bar
    per phase (waiting for another codemm, parsing files, embedding chunks), each with its own ETA.
    ``settings`` choose the embedding model (default: the built-in one)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from codemm.repo.embeddings import EmbeddingConfig
    from codemm.repo.index import EMBEDDING, PARSING, WAITING, RepoIndex

    labels = {WAITING: "waiting for another codemm indexing this repo", PARSING: "indexing", EMBEDDING: "embedding"}
    index = RepoIndex(repo, embedding=EmbeddingConfig.from_settings(settings) if settings is not None else None)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, transient=True, disable=quiet or not sys.stderr.isatty()) as bar:
        task = bar.add_task(labels[PARSING], total=None)
        shown = [PARSING]

        def progress(phase: str, done: int, total: int) -> None:
            if phase != shown[0]:  # a new phase: its own label, count and ETA (reset restarts the clock)
                shown[0] = phase
                bar.reset(task, description=labels.get(phase, phase), total=total or None, completed=done)
            else:
                bar.update(task, completed=done, total=total or None)

        stats = index.refresh(embed=embed, progress=progress)
    if stats.files == 0:
        skipped = ", ".join(f"{n} {reason}" for reason, n in stats.skipped.items()) or "none"
        typer.echo(f"codemm: note: no indexable files in {index.root} (skipped: {skipped})", err=True)
    return index, stats


@app.command("index")
def index_cmd(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Repository root.")] = Path("."),
    no_embed: Annotated[bool, typer.Option("--no-embed", help="Skip dense embeddings.")] = False,
    embedding_model: EmbeddingModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Build or refresh the repository index (incremental: only changed files are re-parsed)."""
    from codemm.repo.embeddings import embedding_report

    settings = _settings(ctx, cwd=path if path.is_dir() else None, embedding_model=embedding_model)
    index, stats = _refresh_index(path, embed=not no_embed, settings=settings)
    summary = stats.as_json()
    summary["embedding"] = embedding = embedding_report(index)
    if as_json:
        _print_json(summary)
        return
    langs = ", ".join(f"{lang} {n}" for lang, n in stats.languages.items())
    typer.echo(
        f"{index.root}: {stats.files} files ({langs}), {stats.lines} lines, {stats.symbols} symbols, "
        f"{stats.chunks} chunks; re-parsed {stats.parsed}, embedded {stats.embedded} in {stats.seconds:.2f}s"
    )
    dimension = f", {embedding['dimension']}-dim" if embedding["dimension"] else ""
    typer.echo(f"embeddings: {embedding['name']} ({embedding['kind']}{dimension}), {embedding['vectors']} vectors"
               f"{'' if embedding['kind'] == 'builtin' else ' [' + embedding['identity'] + ']'}")  # fmt: skip
    skipped, most = stats.skipped_files, 20  # the text names at most 20; --json lists them all
    counts = ", ".join(f"{reason} {n}" for reason, n in stats.skipped.items())
    typer.echo(f"skipped: {len(skipped)} files ({counts})" if skipped else "skipped: none")
    for skipped_path, reason in skipped[:most]:
        typer.echo(f"  {skipped_path} ({reason})")
    if len(skipped) > most:
        typer.echo(f"  and {len(skipped) - most} more (--json lists them all)")
    typer.echo(f"index: {index.db_path}")


@app.command("map")
def map_cmd(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Repository root.")] = Path("."),
    tokens: Annotated[int, typer.Option("--tokens", help="Token budget (model tokenizer).")] = 1024,
    focus: Annotated[str, typer.Option("--focus", help="Question or names to rank around.")] = "",
    model: ModelOpt = None,
) -> None:
    """Print the repo map: the most referenced definitions, within a token budget."""
    from codemm.models.load import load_tokenizer
    from codemm.repo.repomap import build_repo_map

    settings = _settings(ctx, model=model)
    tokenizer = load_tokenizer(settings.model)
    index, _ = _refresh_index(path, embed=False)
    repo_map = build_repo_map(index, lambda text: len(tokenizer.encode(text)), tokens, focus)
    if repo_map.text:
        typer.echo(repo_map.text)
    # The footer goes to stderr (stdout stays a clean map); flushing stdout first keeps it on a line
    # of its own, after the map, when both streams share a terminal or a pipe.
    sys.stdout.flush()
    typer.echo(f"[{repo_map.shown} of {repo_map.total} definitions, {repo_map.tokens} tokens]", err=True)


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="What to look for, in words or identifiers.")],
    repo: RepoOpt = Path("."),
    k: Annotated[int, typer.Option("-k", help="Number of hits.")] = 10,
    embedding_model: EmbeddingModelOpt = None,
    as_json: JsonOpt = False,
    explain: Annotated[
        bool, typer.Option("--explain", help="Show which retrievers found each hit, their ranks and fields matched.")
    ] = False,
    rewrite: Annotated[
        bool | None,
        typer.Option(
            "--rewrite/--no-rewrite",
            help="Search on the question plus the code the chat model guesses for it (setting search_rewrite).",
        ),
    ] = None,
    rerank: Annotated[
        bool | None,
        typer.Option(
            "--rerank/--no-rerank",
            help="Let the chat model reorder the 25 best files; hits are then one per file (setting search_rerank).",
        ),
    ] = None,
    model: ModelOpt = None,
    quant: QuantOpt = None,
    device: DeviceOpt = None,
    backend: BackendOpt = None,
    api_base: ApiBaseOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
) -> None:
    """Hybrid search (BM25 + embeddings + symbols over chunks, BM25 + embeddings over per-file
    cards; each ranks files, and the file ranks are fused by RRF) over the repo. --rewrite and --rerank spend a call to
    the chat model each (off by default: on the embedded SmolLM2-135M they cost seconds and did not
    help); with either, --json prints an object: hits, the rewrite and each step's cost."""
    from codemm.repo.assist import assisted_search
    from codemm.repo.retrieve import retriever_for

    if k < 1:
        raise BadInputError("-k must be at least 1")
    settings = _settings(
        ctx, cwd=repo if repo.is_dir() else None, embedding_model=embedding_model, model=model, quant=quant,
        device=device, backend=backend, api_base=api_base, api_key_env=api_key_env, search_rewrite=rewrite,
        search_rerank=rerank,
    )  # fmt: skip
    assisted = settings.search_rewrite or settings.search_rerank
    chat_model = None
    if assisted:  # before indexing (a bad path first): a server that cannot be reached fails at once
        from codemm.models.seam import open_model
        from codemm.repo.walk import check_repo_root

        check_repo_root(repo)
        chat_model = open_model(settings)
    try:
        index, _ = _refresh_index(repo, settings=settings)
        result = assisted_search(
            retriever_for(index), chat_model, query, k=k, rewrite=settings.search_rewrite,
            rerank=settings.search_rerank, explain=explain,
        )  # fmt: skip
    finally:
        if chat_model is not None:
            chat_model.close()
    if as_json:
        if assisted:
            data = result.as_json()
            data["model"] = {"name": chat_model.name, "backend": chat_model.backend} if chat_model else None
            _print_json(data)
        else:
            _print_json([h.as_json() for h in result.hits])
        return
    for hit in result.hits:
        label = f"{hit.path}:{hit.start}-{hit.end}"
        typer.echo(f"{label:<48} {hit.score:.4f}  {'+'.join(hit.sources):<20} {hit.symbol}")
        for name, why in (hit.explain or {}).items():
            line = f"    {name:<10} #{why['rank']:<3} score {why['score']:<8} matched {', '.join(why['fields'])}"
            if why.get("chunk"):  # the retriever ranked the file by another of its chunks
                line += f" in {why['chunk']}"
            typer.echo(line + (f": {why['card_line']}" if why.get("card_line") else ""))
    if result.rewrite is not None:
        typer.echo(f"codemm: rewrite: {' '.join(result.rewrite.text.split())[:200]}", err=True)
    for step, cost in result.costs.items():
        typer.echo(f"codemm: {step}: {cost.seconds:.2f}s, {cost.prompt_tokens} prompt + {cost.new_tokens} new tokens",
                   err=True)  # fmt: skip


@app.command("mcp")
def mcp_cmd(
    ctx: typer.Context,
    repo: RepoOpt = Path("."),
    model: ModelOpt = None,
    backend: BackendOpt = None,
    api_base: ApiBaseOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    no_embed: Annotated[bool, typer.Option("--no-embed", help="Search without dense embeddings.")] = False,
) -> None:
    """Serve the repository to editors and agents over MCP on stdio: search, map, definitions,
    references, line ranges, screenshots, ask (see README, "Editors and agents")."""
    from codemm.mcp_server import serve_stdio
    from codemm.repo.walk import check_repo_root
    from codemm.tools import RepoTools

    root = check_repo_root(repo)
    # The served repository's codemm.toml applies, not the one of whatever dir the editor started in.
    settings = _settings(ctx, cwd=root, model=model, backend=backend, api_base=api_base, api_key_env=api_key_env)
    serve_stdio(RepoTools(root, settings, embed=not no_embed))


@app.command("serve")
def serve(
    ctx: typer.Context,
    repo: Annotated[Path, typer.Option("--repo", "-r", help="Repository the answers are about.")],
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; anything but loopback needs --api-key-env.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    api_key_env: Annotated[
        str | None,
        typer.Option(
            "--api-key-env",
            help="Environment variable holding the key clients must send (Authorization: Bearer). "
            "The upstream openai backend's key is a global option: `codemm --api-key-env VAR serve`.",
        ),
    ] = None,
    slots: Annotated[
        int, typer.Option("--slots", help="Generations at once (above 1 only with --backend openai).")
    ] = 1,
    queue: Annotated[int, typer.Option("--queue", help="Requests that may wait for a slot; more get 429.")] = 16,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per request, queueing included.")] = 300.0,
    model: ModelOpt = None,
    quant: QuantOpt = None,
    device: DeviceOpt = None,
    backend: BackendOpt = None,
    api_base: ApiBaseOpt = None,
) -> None:
    """Serve an OpenAI-compatible API (/v1/models, /v1/chat/completions) with repo-grounded answers."""
    from codemm.repo.walk import check_repo_root
    from codemm.serve import ServeConfig, check_bind, create_app, listen, read_api_key, serve_forever
    from codemm.session import AskSession

    key = read_api_key(api_key_env)
    check_bind(host, key)  # before anything slow: an exposed server without a key never starts
    config = ServeConfig(api_key=key, slots=slots, queue=queue, timeout_s=timeout)
    root = check_repo_root(repo)
    settings = _settings(ctx, model=model, quant=quant, device=device, backend=backend, api_base=api_base)
    session = AskSession(settings)
    app_ = create_app(session, config, repo=root)  # /mcp serves root's tools
    sock = listen(host, port)  # a busy port fails now, not after the model has loaded
    try:
        session.index = _refresh_index(root, settings=settings)[0]
        session.repo = session.index.root
        session.load_model()
        address = sock.getsockname()
        typer.echo(f"codemm serve: {settings.model} ({settings.backend}) answering about {session.repo}; "
                   f"OpenAI API at http://{host}:{address[1]}/v1", err=True)  # fmt: skip
        serve_forever(app_, sock)
    finally:
        sock.close()
        session.close()


@app.command()
def edit(
    ctx: typer.Context,
    request: Annotated[str, typer.Argument(help='The change to make; "-" reads standard input.')] = "",
    repo: Annotated[
        Path | None, typer.Option("--repo", "-r", help="Repository root (default: the project of the current dir).")
    ] = None,
    test: Annotated[
        str | None, typer.Option("--test", help="Test command, run after each try (default: test_cmd in codemm.toml).")
    ] = None,
    lint: Annotated[
        str | None, typer.Option("--lint", help="Lint command given the changed files (default: ruff's error rules).")
    ] = None,
    tries: Annotated[int | None, typer.Option("--tries", help="Tries before giving up (default 3).")] = None,
    no_commit: Annotated[bool, typer.Option("--no-commit", help="Write the change but do not commit it.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds the test command may run per try.")] = 120.0,
    max_new_tokens: Annotated[int | None, typer.Option(help="Most tokens to generate per try.")] = None,
    as_json: JsonOpt = False,
    model: ModelOpt = None,
    quant: QuantOpt = None,
    device: DeviceOpt = None,
    adapter: AdapterOpt = None,
    backend: BackendOpt = None,
    api_base: ApiBaseOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
) -> None:
    """Change the code: edit blocks, lint, your tests, failures fed back, up to N tries; one commit if it passes.

    The repository is written only when a try passes (`codemm undo` takes the commit back)."""
    from codemm.ask import generation_settings
    from codemm.edit import EditFailed, EditOptions, run_edit
    from codemm.repo.walk import check_repo_root
    from codemm.session import AskSession

    # Ctrl-C must reach the loop as KeyboardInterrupt: it kills the running tests and lets the
    # write-and-commit finish or roll back, instead of exiting on the spot.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    root = repo if repo is not None else _default_repo()
    if root is None:
        raise BadInputError("codemm edit needs a repository: pass --repo PATH")
    root = check_repo_root(root)
    settings = _settings(ctx, cwd=root, model=model, quant=quant, device=device, backend=backend, api_base=api_base,
                         api_key_env=api_key_env, max_new_tokens=max_new_tokens, test_cmd=test, lint_cmd=lint,
                         tries=tries)  # fmt: skip
    options = EditOptions(
        _read_question(request, None), test_cmd=settings.test_cmd, lint_cmd=settings.lint_cmd, tries=settings.tries,
        commit=not no_commit, test_timeout=timeout, generation=generation_settings(settings),
    )  # fmt: skip

    def notify(kind: str, data: Any) -> None:
        if as_json:
            return
        if kind == "try":
            typer.echo(f"codemm: try {data}/{options.tries}: asking {settings.model}", err=True)
        elif kind == "check":
            typer.echo(f"codemm: running: {data}", err=True)
        elif kind == "tried":
            typer.echo(f"codemm: try {data.number}: {data.verdict()} ({data.seconds:.1f} s)", err=True)

    session = AskSession(settings, adapter=adapter, k=options.k, map_tokens=options.map_tokens)
    try:
        session.index = _refresh_index(root, quiet=as_json)[0]
        session.repo = session.index.root
        session.load_model()
        assert session.model is not None
        try:
            result = run_edit(session.model, root, options, index=session.index, notify=notify)
        except EditFailed as exc:
            if as_json:
                _print_json({**exc.result.as_json(), "error": str(exc)})
            elif exc.result.tries and exc.result.tries[-1].diff:
                sys.stdout.write("last try's diff (not applied):\n" + exc.result.tries[-1].diff)
            raise
    finally:
        session.close()
    if as_json:
        _print_json(result.as_json())
        return
    sys.stdout.write(result.diff)
    sys.stdout.flush()
    if result.note:
        typer.echo(f"codemm: note: {result.note}", err=True)
    done = f"committed {result.commit[:10]}" if result.commit else "written, not committed"
    typer.echo(f"codemm: {', '.join(result.files)} {done} after {len(result.tries)} "
               f"{'try' if len(result.tries) == 1 else 'tries'} ({result.seconds:.1f} s)", err=True)  # fmt: skip


@app.command()
def undo(
    repo: Annotated[
        Path | None, typer.Option("--repo", "-r", help="Repository root (default: the project of the current dir).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Take back codemm's last commit, only if it is HEAD and the tree is clean (reset, or revert once pushed)."""
    from codemm.gitops import undo_last
    from codemm.repo.walk import check_repo_root

    root = repo if repo is not None else _default_repo()
    if root is None:
        raise BadInputError("not inside a project: pass --repo PATH")
    undone = undo_last(check_repo_root(root))
    if as_json:
        _print_json({"action": undone.action, "commit": undone.commit, "head": undone.new_head,
                     "files": undone.files})  # fmt: skip
        return
    how = ("reset: the commit is gone" if undone.action == "reset"
           else f"reverted: it had been pushed, so new commit {undone.new_head[:10]} undoes it")  # fmt: skip
    typer.echo(f"undid codemm commit {undone.commit[:10]} ({how}); restored {', '.join(undone.files)}")


def main() -> None:
    """Entry point: user-facing errors become one line on stderr and an exit code."""
    # Offline by default: nothing may reach a model hub at run time.
    if os.environ.get("CODEMM_ONLINE") != "1":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    debug = os.environ.get("CODEMM_DEBUG") == "1"
    # bitsandbytes warns at import time (before any model loads) that an optional kernel is absent.
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    try:
        app()
    except CodemmError as exc:
        if debug:
            raise
        typer.echo(f"codemm: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _exit_interrupted()
    except OSError as exc:
        if debug:
            raise
        typer.echo(f"codemm: error: {error_from_oserror(exc, 'running')}", err=True)
        sys.exit(1)
    except Exception as exc:  # a bug: still one line, with the way to see more
        if debug:
            raise
        name = type(exc).__name__
        typer.echo(f"codemm: internal error: {name}: {exc} (set CODEMM_DEBUG=1 for the traceback)", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
