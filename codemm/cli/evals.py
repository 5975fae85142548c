"""`codemm eval`: run suites under variants, rerun, score outside samples, write reports."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from codemm.cli.common import (
    AdapterOpt,
    ApiBaseOpt,
    ApiKeyEnvOpt,
    BackendOpt,
    DeviceOpt,
    ModelOpt,
    QuantOpt,
    print_json,
    settings_for,
)
from codemm.errors import BadInputError

app = typer.Typer(help="Measure what codemm gains and risks: suites, variants, reports.", no_args_is_help=True)


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


@app.command("run")
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
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="adapter_gain: score the functions added or changed after this git revision "
            "of the adapter's repository (the revision it was trained at).",
        ),
    ] = None,
    heldout_repo: Annotated[
        Path | None,
        typer.Option(
            "--heldout-repo",
            help="adapter_gain: a later snapshot; score the functions the training snapshot did not have.",
        ),
    ] = None,
    unseen_repo: Annotated[
        Path | None, typer.Option("--unseen-repo", help="adapter_cost: a library the adapter never saw.")
    ] = None,
) -> None:
    """Run suites under variants; results stream to DIR/results.jsonl and a report is written."""
    from codemm.eval.runner import DEFAULT_SUITES, RunConfig

    settings = settings_for(ctx, None, model=model, quant=quant, device=device, backend=backend, api_base=api_base,
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
        since=since, heldout_repo=str(heldout_repo.resolve()) if heldout_repo else None,
        unseen_repo=str(unseen_repo.resolve()) if unseen_repo else None,
    )  # fmt: skip
    _run_and_report(config, out, resume)


@app.command("rerun")
def eval_rerun(
    run_dir: Annotated[Path, typer.Argument(help="A finished or interrupted run folder.")],
    out: Annotated[Path | None, typer.Option("--out", help="New folder (default: RUN_DIR-rerun).")] = None,
) -> None:
    """Reproduce a run from its saved run.json into a new folder."""
    from codemm.eval.runner import RunConfig

    config = RunConfig.load(run_dir)
    _run_and_report(config, out or run_dir.with_name(run_dir.name + "-rerun"), False)


@app.command("check")
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
    print_json(check_samples(samples, problems, out, jobs=jobs, limits=limits))


@app.command("report")
def eval_report(
    run_dir: Annotated[Path, typer.Argument(help="Run folder.")],
    compare: Annotated[Path | None, typer.Option("--compare", help="A second run to set side by side.")] = None,
) -> None:
    """Write report.md and a self-contained report.html for a run."""
    from codemm.eval.report import write_report

    md, page = write_report(run_dir, compare)
    typer.echo(f"report: {md} and {page}")
