"""The `codemm` command. Parses arguments, calls one library function, prints the result.

The commands live in one module per group (``asking``, ``repo``, ``repo_tools``, ``servers``,
``models``, ``adapters``, ``evals``); the options they share and the global ones are in
``common``; the repository tools' commands are generated from ``codemm.registry`` (``repo_tools``)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from typing import Annotated


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
from codemm.cli import adapters, asking, diagram, evals, models, repo, repo_tools, servers  # noqa: E402
from codemm.cli.common import (  # noqa: E402
    ApiBaseOpt,
    ApiKeyEnvOpt,
    BackendOpt,
    DeviceOpt,
    EmbeddingModelOpt,
    ModelOpt,
    QuantOpt,
)
from codemm.errors import CodemmError, error_from_oserror  # noqa: E402

app = typer.Typer(
    help="codemm: a local, multimodal code-LLM assistant.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# The order of `codemm --help`: conversation first, then the repository, servers, groups.
app.add_typer(asking.app)
app.add_typer(repo.app)
app.add_typer(repo_tools.build_app())
app.add_typer(diagram.app)
app.add_typer(servers.app)
app.add_typer(adapters.app, name="adapters")
app.add_typer(evals.app, name="eval")
app.add_typer(models.models_app, name="models")
app.add_typer(models.config_app, name="config")
app.add_typer(models.bench_app, name="bench")


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


def main() -> None:
    """Entry point: user-facing errors become one line on stderr and an exit code."""
    # Offline by default: nothing may reach a model hub at run time.
    if os.environ.get("CODEMM_ONLINE") != "1":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    debug = os.environ.get("CODEMM_DEBUG") == "1"
    # bitsandbytes warns at import time (before any model loads) that an optional kernel is absent,
    # and kernels that offline mode skips its publisher check: nothing a user can act on.
    for name in ("bitsandbytes", "kernels"):
        logging.getLogger(name).setLevel(logging.ERROR)
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
