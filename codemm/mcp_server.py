"""codemm's repository tools (``codemm.tools.RepoTools``) as a Model Context Protocol server, on the
official SDK (``mcp`` 2.x, whose ``MCPServer`` is v1's ``FastMCP``).

`codemm mcp` serves it over stdio (``serve_stdio``). `codemm serve` mounts the same server over
streamable HTTP::

    server = build_mcp_server(tools)
    app = server.streamable_http_app(streamable_http_path="/mcp")  # a Starlette app
    # a parent app that mounts it must run ``server.session_manager.run()`` in its own lifespan

Every tool of ``codemm.registry`` is offered: the SDK builds its JSON schema from the declared
parameters and rejects arguments of the wrong type (one line, ``CodemmMCPServer``); its one-line
description tells an agent when to use it. A
``CodemmError`` becomes a tool error carrying its one-line message. Anything else is a bug: the
client gets one line naming it, the traceback goes to the log on stderr. Over stdio, stdout is the
protocol: the SDK points file descriptor 1 at stderr while it serves, so stray prints from
libraries cannot corrupt it, and codemm's library code prints nothing.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ImageContent, TextContent, ToolAnnotations
from pydantic import Field, ValidationError

from codemm import __version__
from codemm.errors import CodemmError, error_from_oserror
from codemm.registry import TOOLS, Tool
from codemm.tools import RepoTools

log = logging.getLogger("codemm.mcp")


class CodemmMCPServer(MCPServer[Any]):
    """The SDK's server, with argument errors on one line: pydantic's own message spans several
    lines (one per field, with a URL), which agents and editors' logs show badly."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if not isinstance(exc.__cause__, ValidationError):
                raise
            problems = "; ".join(
                f"{'.'.join(str(part) for part in err['loc']) or 'arguments'}: {err['msg']}"
                for err in exc.__cause__.errors()
            )
            raise ToolError(f"Error executing tool {name}: {problems}") from exc.__cause__


def build_mcp_server(tools: RepoTools) -> MCPServer[Any]:
    """An MCP server with every tool of ``codemm.registry``; it starts building the index when it starts."""

    @asynccontextmanager
    async def warm_index(_: MCPServer[Any]) -> AsyncIterator[None]:
        # In the background: the client's handshake must not wait for a whole repository's index.
        threading.Thread(target=tools.warm, name="codemm-index", daemon=True).start()
        yield

    server = CodemmMCPServer(
        "codemm",
        version=__version__,
        instructions=f"Tools over the repository at {tools.root}: search its code, outline it, find "
        "definitions and references, read line ranges and screenshots, ask codemm's local model.",
        lifespan=warm_index,
        log_level="WARNING",  # the SDK logs each tool error at INFO; the client already has them
    )
    for spec in TOOLS.values():
        server.add_tool(
            _tool_function(spec, tools),
            name=spec.name,
            description=spec.description,
            annotations=ToolAnnotations(read_only_hint=spec.read_only, open_world_hint=False),
        )
    return server


def _tool_function(spec: Tool, tools: RepoTools) -> Callable[..., dict[str, Any] | CallToolResult]:
    """A function whose signature is the tool's parameters as ``Annotated[T, Field]``: the SDK
    builds the JSON schema (descriptions, limits, defaults) and validates arguments from it."""

    def call(**arguments: Any) -> dict[str, Any] | CallToolResult:
        return _with_image(spec, _run(spec.call, tools, arguments))

    parameters = [
        inspect.Parameter(
            p.name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=p.annotated(Field(description=p.arg.help, ge=p.arg.ge, le=p.arg.le)),
            default=p.default,
        )
        for p in spec.params
    ]
    call.__signature__ = inspect.Signature(parameters, return_annotation=dict[str, Any])  # type: ignore[attr-defined]
    call.__name__ = spec.name
    return call


def _with_image(spec: Tool, result: dict[str, Any]) -> dict[str, Any] | CallToolResult:
    """A result that carries a rendered picture (``png_base64``: the diagram tool) is also an MCP
    image, which clients show and vision models read, beside its text (the tool's own rendering:
    the diagram's Mermaid) and the structured result every tool gives."""
    png = result.get("png_base64")
    if not isinstance(png, str) or not png:
        return result
    content = [
        TextContent(type="text", text=spec.render(result)),
        ImageContent(type="image", data=png, mime_type="image/png"),
    ]
    return CallToolResult(content=content, structured_content=result)  # type: ignore[arg-type]


def _run(method: Callable[..., dict[str, Any]], *args: Any, **arguments: Any) -> dict[str, Any]:
    """Calls a tool; every failure leaves as a ToolError with one line (the SDK prefixes the tool)."""
    try:
        return method(*args, **arguments)
    except CodemmError as exc:
        raise ToolError(str(exc)) from None
    except OSError as exc:
        raise ToolError(str(error_from_oserror(exc, "running the tool"))) from None
    except Exception as exc:  # a bug: one line for the client, the traceback for the log
        log.exception("codemm tool %s failed", getattr(method, "__name__", method))
        message = " ".join(str(exc).split())
        raise ToolError(
            f"internal error: {type(exc).__name__}: {message} (the server's stderr has the traceback)"
        ) from None


def serve_stdio(tools: RepoTools) -> None:
    """Serves ``tools`` over stdin/stdout until the client closes the connection."""
    server = build_mcp_server(tools)
    # The SDK's log handler (stderr) takes every level; libraries that log at DEBUG on their own
    # loggers (bm25s) would fill the editor's server log with it.
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.WARNING)
    try:
        server.run("stdio")
    finally:
        tools.close()
