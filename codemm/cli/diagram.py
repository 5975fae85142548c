"""`codemm diagram KIND [TARGET]` and `codemm diagram check FILE`. Hand-written beside the
registry's ``diagram`` tool because it writes files (``--out``) and binary formats (svg, png),
which the tool an agent calls must not; both draw with ``codemm.diagram.draw``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from codemm.cli.common import JsonOpt, RepoOpt, print_json, refresh_index, settings_for
from codemm.errors import BadInputError

app = typer.Typer()


@app.command("diagram")
def diagram_cmd(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="modules, classes, calls, focus, or check (a diagram file to compare).")],
    target: Annotated[
        str,
        typer.Argument(
            help="A folder, module or class (calls: a function or PATH:LINE; focus: the question; "
            "check: the diagram file)."
        ),
    ] = "",
    fmt: Annotated[str, typer.Option("--format", "-f", help="mermaid, dot, svg or png.")] = "mermaid",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file (default: stdout).")] = None,
    depth: Annotated[int | None, typer.Option(help="Edges to follow out of the target.", min=0, max=20)] = None,
    scope: Annotated[str, typer.Option(help="Comma-separated path globs: only these files are drawn.")] = "",
    externals: Annotated[bool, typer.Option("--externals", help="Outside packages, one node each.")] = False,
    members: Annotated[bool, typer.Option("--members", help="classes: methods and attributes.")] = False,
    max_nodes: Annotated[int, typer.Option(help="Over this many nodes, draw by package.", min=2)] = 60,
    repo: RepoOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Draw the code from static analysis (every node with its path:line), or check a diagram against it."""
    from codemm.diagram import DiagramOptions, draw
    from codemm.diagram.formats import FORMATS, write
    from codemm.repo.walk import check_repo_root

    root = check_repo_root(repo)
    if kind == "check":
        _check(ctx, root, target, scope, as_json)
        return
    if fmt not in FORMATS:
        raise BadInputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt in ("svg", "png") and out is None and sys.stdout.isatty():
        raise BadInputError(f"{fmt} is binary: give --out FILE (or pipe it)")
    settings = settings_for(ctx, root)
    index, _ = refresh_index(root, embed=kind == "focus", quiet=as_json, settings=settings)
    try:
        graph = draw(index, kind, target, DiagramOptions(depth, scope, externals, members, max_nodes))
    finally:
        index.close()
    if as_json:
        print_json({"kind": kind, "target": target, **graph.as_json()})
        return
    data = write(graph, fmt)
    if out is not None:
        out.write_bytes(data)
        typer.echo(f"{out} ({len(graph.nodes)} nodes, {len(graph.edges)} edges)", err=True)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    for note in graph.notes:
        typer.echo(f"note: {note}", err=True)


def _check(ctx: typer.Context, root: Path, target: str, scope: str, as_json: bool) -> None:
    from codemm.diagram.check import check_diagram

    if not target:
        raise BadInputError("check needs a diagram file: codemm diagram check docs/architecture.mmd")
    index, _ = refresh_index(root, embed=False, quiet=as_json, settings=settings_for(ctx, root))
    try:
        report = check_diagram(index, Path(target), scope)
    finally:
        index.close()
    if as_json:
        print_json(report.as_json())
    else:
        for finding in report.findings:
            typer.echo(f"{finding.what:<13} {finding.message}  [{finding.evidence}]")
        for note in report.notes:
            typer.echo(f"note: {note}")
        typer.echo(f"{len(report.matched)} nodes matched the code, {len(report.findings)} differences")
    if report.findings:
        raise typer.Exit(1)  # a diagram that drifted fails a CI step
