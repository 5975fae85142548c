"""codemm's repository tools (``codemm.tools.RepoTools``) as a Model Context Protocol server, on the
official SDK (``mcp`` 2.x, whose ``MCPServer`` is v1's ``FastMCP``).

`codemm mcp` serves it over stdio (``serve_stdio``). `codemm serve` mounts the same server over
streamable HTTP::

    server = build_mcp_server(tools)
    app = server.streamable_http_app(streamable_http_path="/mcp")  # a Starlette app
    # a parent app that mounts it must run ``server.session_manager.run()`` in its own lifespan

Each tool is a thin typed function: the SDK builds its JSON schema from the annotations and
rejects arguments of the wrong type; its one-line description tells an agent when to use it. A
``CodemmError`` becomes a tool error carrying its one-line message. Anything else is a bug: the
client gets one line naming it, the traceback goes to the log on stderr. Over stdio, stdout is the
protocol: the SDK points file descriptor 1 at stderr while it serves, so stray prints from
libraries cannot corrupt it, and codemm's library code prints nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from codemm import __version__
from codemm.errors import CodemmError, error_from_oserror
from codemm.tools import MAX_HITS, MAX_MAP_TOKENS, RepoTools

log = logging.getLogger("codemm.mcp")
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
DESCRIPTIONS = {
    "search_code": "Find the code that matches a description or names (BM25 + embeddings + symbols, fused); "
    "use it first when you do not know where something lives.",
    "repo_map": "An outline of the repository's most used classes and functions with their files; "
    "use it to get oriented before reading code.",
    "find_definition": "Where a function, class or method is defined (path:line, signature, docstring); "
    "use it when you know the name.",
    "find_references": "Every place a name is used (path:line, the function it is used in, the line); "
    "use it for 'who calls X' or before changing X.",
    "read_range": "Read lines of a repository file (at most 400 per call; the result says when it was cut); "
    "use it to see the code around a path:line.",
    "read_screenshot": "Read a screenshot of code or an error: its text (OCR, layout kept) and the path:line "
    "locations it shows, checked against the repository; use it when the user shares a screenshot.",
    "ask": "Ask codemm's local code model about the repository: an answer with checked path:line citations; "
    "slow, so prefer the other tools for lookups.",
    "list_adapters": "The LoRA adapters fine-tuned on in-house code that ask can use.",
}
"""One line per tool: what it returns and when an agent should use it."""


def build_mcp_server(tools: RepoTools) -> MCPServer[Any]:
    """An MCP server whose tools call ``tools``; it starts building the index when it starts."""

    @asynccontextmanager
    async def warm_index(_: MCPServer[Any]) -> AsyncIterator[None]:
        # In the background: the client's handshake must not wait for a whole repository's index.
        # The first tool call waits for it instead, on the tools' lock.
        threading.Thread(target=tools.warm, name="codemm-index", daemon=True).start()
        yield

    server: MCPServer[Any] = MCPServer(
        "codemm",
        version=__version__,
        instructions=f"Tools over the repository at {tools.root}: search its code, outline it, find "
        "definitions and references, read line ranges and screenshots, ask codemm's local model.",
        lifespan=warm_index,
        log_level="WARNING",  # the SDK logs each tool error at INFO; the client already has them
    )

    @server.tool(description=DESCRIPTIONS["search_code"], annotations=READ_ONLY)
    def search_code(
        query: Annotated[str, Field(description="What to look for, in words or identifiers.")],
        k: Annotated[int, Field(description="How many hits.", ge=1, le=MAX_HITS)] = 10,
    ) -> dict[str, Any]:
        return _run(tools.search_code, query=query, k=k)

    @server.tool(description=DESCRIPTIONS["repo_map"], annotations=READ_ONLY)
    def repo_map(
        focus: Annotated[str, Field(description="A question or names to rank around (empty: the whole repo).")] = "",
        tokens: Annotated[int, Field(description="Size budget of the map, in tokens.", ge=1, le=MAX_MAP_TOKENS)] = 1024,
    ) -> dict[str, Any]:
        return _run(tools.repo_map, focus=focus, tokens=tokens)

    @server.tool(description=DESCRIPTIONS["find_definition"], annotations=READ_ONLY)
    def find_definition(
        symbol: Annotated[str, Field(description="A function, class or method name, or Class.method.")],
    ) -> dict[str, Any]:
        return _run(tools.find_definition, symbol=symbol)

    @server.tool(description=DESCRIPTIONS["find_references"], annotations=READ_ONLY)
    def find_references(
        symbol: Annotated[str, Field(description="The name whose uses to list (Class.method matches every .method).")],
    ) -> dict[str, Any]:
        return _run(tools.find_references, symbol=symbol)

    @server.tool(description=DESCRIPTIONS["read_range"], annotations=READ_ONLY)
    def read_range(
        path: Annotated[str, Field(description="File path relative to the repository root.")],
        start: Annotated[int, Field(description="First line, 1-based.", ge=1)] = 1,
        end: Annotated[int | None, Field(description="Last line, inclusive (default: to the end).")] = None,
    ) -> dict[str, Any]:
        return _run(tools.read_range, path=path, start=start, end=end)

    @server.tool(description=DESCRIPTIONS["read_screenshot"], annotations=READ_ONLY)
    def read_screenshot(
        image: Annotated[str, Field(description="A PNG/JPEG path inside the repository, or the image as base64.")],
    ) -> dict[str, Any]:
        return _run(tools.read_screenshot, image=image)

    @server.tool(description=DESCRIPTIONS["ask"], annotations=READ_ONLY)
    def ask(
        question: Annotated[str, Field(description="The question about the repository.")],
        adapter: Annotated[
            str | None, Field(description="A LoRA adapter name from list_adapters (default: none).")
        ] = None,
    ) -> dict[str, Any]:
        return _run(tools.ask, question=question, adapter=adapter)

    @server.tool(description=DESCRIPTIONS["list_adapters"], annotations=READ_ONLY)
    def list_adapters() -> dict[str, Any]:
        return _run(tools.list_adapters)

    return server


def _run(method: Callable[..., dict[str, Any]], **arguments: Any) -> dict[str, Any]:
    """Calls a tool; every failure leaves as a ToolError with one line (the SDK prefixes the tool)."""
    try:
        return method(**arguments)
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
