"""What every command shares: the option types, settings from the repository a command is about,
JSON output, the default repository, the question reader and the index refresh with its progress."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from codemm.config import BACKENDS, DEVICES, QUANTS, Settings, load_settings
from codemm.errors import BadInputError, error_from_oserror

AdapterOpt = Annotated[str | None, typer.Option("--adapter", help="LoRA adapter name (see `codemm adapters list`).")]
RepoOpt = Annotated[Path, typer.Option("--repo", "-r", help="Repository root (default: current dir).")]

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


def settings_for(ctx: typer.Context, repo: Path | None = None, **flags: Any) -> Settings:
    """The settings of a command about ``repo``: the global options under the command's own (the
    command's win), over the environment, over ``repo``'s codemm.toml (with no repository, the
    current dir's project). Every surface resolves them so (`serve` and `mcp` for the repository
    they serve, the chat for its own), whatever directory it was started from."""
    merged = dict(ctx.obj or {})
    merged.update({k: v for k, v in flags.items() if v is not None})
    return load_settings(merged, cwd=repo if repo is not None and repo.is_dir() else None)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def default_repo() -> Path | None:
    """The project the current dir belongs to (nearest .git or codemm.toml), else none: asking from
    a home directory must not index the whole home directory."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists() or (folder / "codemm.toml").is_file():
            return folder
    return None


def read_question(question: str, question_file: Path | None) -> str:
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


def refresh_index(repo: Path, embed: bool = True, quiet: bool = False, settings: Any = None) -> tuple[Any, Any]:
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
