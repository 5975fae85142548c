"""The CLI commands of the repository tools, generated from ``codemm.registry``: one command per
tool that names one (``codemm definition``, ``refs``, ``read``, ``screenshot``, ...), its arguments
and options from the tool's parameters, ``--repo`` and ``--json`` added. The text is the tool's own
renderer; ``--json`` prints the result agents get over MCP, unchanged."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import typer

import codemm.tools  # noqa: F401  (declares the built-in tools)
from codemm.cli.common import JsonOpt, RepoOpt, print_json, refresh_index, settings_for
from codemm.registry import TOOLS, Param, Tool

RESERVED = ("ctx", "repo", "as_json")


def build_app() -> typer.Typer:
    """A typer app with a command for each declared tool that has a CLI name."""
    app = typer.Typer()
    for spec in TOOLS.values():
        if spec.cli:
            app.command(spec.cli, help=spec.description)(_command(spec))
        for name, fixed in spec.cli_presets:
            shown = " ".join(f"--{key.replace('_', '-')} {value}" for key, value in fixed)
            help_ = f"{spec.description} (codemm {spec.cli or spec.name} {shown})"
            app.command(name, help=help_)(_command(spec, dict(fixed)))
    return app


def _command(spec: Tool, fixed: dict[str, Any] | None = None) -> Any:
    """The typer command of ``spec``; ``fixed`` arguments are set, not asked for."""
    fixed = fixed or {}
    clash = [p.name for p in spec.params if p.name in RESERVED]
    if clash:
        raise ValueError(f"tool {spec.name}: parameter {clash[0]} clashes with a CLI option")

    def command(ctx: typer.Context, repo: Path, as_json: bool, **arguments: Any) -> None:
        from codemm.repo.walk import check_repo_root
        from codemm.tools import RepoTools

        root = check_repo_root(repo)
        settings = settings_for(ctx, root)
        refresh_index(root, embed=False, quiet=as_json, settings=settings)  # the progress bar of a first index
        tools = RepoTools(root, settings)
        try:
            result = spec.call(tools, {**{k: v for k, v in arguments.items() if v is not None}, **fixed})
        finally:
            tools.close()
        if as_json:
            print_json(result)
        else:
            typer.echo(spec.render(result))

    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        inspect.Parameter("ctx", keyword, annotation=typer.Context),
        *(_parameter(p) for p in spec.params if p.name not in fixed),
        inspect.Parameter("repo", keyword, annotation=RepoOpt, default=Path(".")),
        inspect.Parameter("as_json", keyword, annotation=JsonOpt, default=False),
    ]
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__name__ = spec.cli or spec.name  # typer names the command from app.command's argument
    command.__doc__ = spec.description
    return command


def _parameter(param: Param) -> inspect.Parameter:
    if param.arg.positional:
        info: Any = typer.Argument(help=param.arg.help)
    else:
        names = [f"--{param.name.replace('_', '-')}", *([param.arg.flag] if param.arg.flag else [])]
        info = typer.Option(*names, help=param.arg.help)
    return inspect.Parameter(
        param.name, inspect.Parameter.KEYWORD_ONLY, annotation=param.annotated(info), default=param.default
    )
