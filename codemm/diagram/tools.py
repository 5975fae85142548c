"""The ``diagram`` repository tool (MCP ``diagram``, chat ``/diagram``, ``POST /v1/tools/diagram``),
declared through ``codemm.registry``. The CLI has its own command (``codemm.cli.diagram``): it
writes files (``--out``) and binary formats, which a tool an agent calls must not."""

from __future__ import annotations

import base64
import hashlib
from typing import Annotated, Any

from codemm import tool_text as text
from codemm.registry import MAX_RESULT_BYTES, Arg, tool

MAX_DIAGRAM_NODES = 500
MAX_PNG_BASE64 = MAX_RESULT_BYTES // 2
"""A PNG in the result leaves room for the Mermaid text and the nodes within the registry's cap."""


@tool("diagram", "A diagram of the code drawn from static analysis (modules, classes, calls of a function, or "
      "focus on a question) "
      "as Mermaid, every node with its path:line; use it to see structure.", cli=None,
      cli_note="codemm diagram", chat="/diagram", render=text.diagram)  # fmt: skip
def diagram(
    tools: Any,
    kind: Annotated[
        str,
        Arg(
            "modules (imports), classes (inheritance, composition), calls (callers and callees) or focus.",
            positional=True,
        ),
    ],
    target: Annotated[
        str,
        Arg(
            "A folder, module or class to draw (calls: a function or PATH:LINE; focus: the question); "
            "empty: the whole repository.",
            positional=True,
        ),  # fmt: skip
    ] = "",
    depth: Annotated[int | None, Arg("Edges to follow out of the target (default: per kind).", ge=0, le=20)] = None,
    scope: Annotated[str, Arg("Comma-separated path globs: only these files are drawn.")] = "",
    externals: Annotated[bool, Arg("Show outside packages (or base classes), one node each.")] = False,
    members: Annotated[bool, Arg("classes: list each class's methods and attributes.")] = False,
    max_nodes: Annotated[
        int, Arg("Over this many nodes the diagram is drawn by package.", ge=2, le=MAX_DIAGRAM_NODES)
    ] = 60,
    image: Annotated[
        bool, Arg("Also render with Graphviz: png_base64, and an SVG file in codemm's cache (svg_path).")
    ] = False,
) -> dict[str, Any]:
    """The graph of ``kind`` as Mermaid text plus its nodes and edges (each with ``path:line``)."""
    from codemm.diagram import DiagramOptions, draw
    from codemm.diagram.formats import render, to_mermaid

    options = DiagramOptions(depth, scope, externals, members, max_nodes, dense=tools.embed)
    if kind == "calls":  # the warm navigator the other code-intelligence tools share
        from codemm.intel.tools import navigator

        nav, nav_lock = navigator(tools)
        with tools._lock, nav_lock:  # this order only: the navigator's lookups never take the tools' lock
            tools._refresh(embed=False)
            graph = draw(tools.index, kind, target, options, nav)
    else:
        with tools._lock:
            tools._refresh(embed=kind == "focus")
            graph = draw(tools.index, kind, target, options)
    data = {"kind": kind, "target": target, "mermaid": to_mermaid(graph), **graph.as_json()}
    if image:
        png = base64.b64encode(render(graph, "png")).decode()
        data["svg_path"] = str(_cache_svg(render(graph, "svg")))
        if len(png) <= MAX_PNG_BASE64:
            data["png_base64"] = png
        else:  # the result cap would cut it into invalid base64: leave it out, and say so
            data["notes"] = [*data["notes"], f"the PNG is over {MAX_PNG_BASE64 // 1024} KiB as base64: "
                             "see svg_path, or draw less (target, scope, max_nodes)"]  # fmt: skip
    return data


def _cache_svg(svg: bytes) -> Any:
    """The SVG in codemm's cache, named by its content (the same diagram is one file)."""
    from codemm.paths import cache_dir

    folder = cache_dir() / "diagrams"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(svg).hexdigest()[:16]}.svg"
    if not path.exists():
        path.write_bytes(svg)
    return path
