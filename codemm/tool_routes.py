"""The repository tools over HTTP on `codemm serve`, generated from ``codemm.registry``:
``GET /v1/tools`` lists them with their JSON schemas, ``POST /v1/tools/{name}`` runs one with a JSON
object of arguments and returns its result (the same dict MCP clients get as structured content).

For scripts and CI jobs that speak plain HTTP rather than MCP. The routes sit behind serve's own
guards (API key, Host and Origin checks, body limit); `ask` is not among them, since answers go
through /v1/chat/completions and its generation slots."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from pydantic import Field, create_model
from starlette.concurrency import run_in_threadpool

from codemm.errors import BadInputError, CodemmError
from codemm.openai_wire import ApiError
from codemm.registry import TOOLS, Tool

if TYPE_CHECKING:
    from codemm.tools import RepoTools


def input_schema(spec: Tool) -> dict[str, Any]:
    """The tool's parameters as a JSON schema (descriptions, limits, defaults, required)."""
    fields: dict[str, Any] = {
        p.name: (
            p.type,
            Field(default=... if p.required else p.default, description=p.arg.help, ge=p.arg.ge, le=p.arg.le),
        )  # fmt: skip
        for p in spec.params
    }
    return create_model(f"{spec.name}_arguments", **fields).model_json_schema()


def add_tool_routes(app: FastAPI, tools: RepoTools) -> None:
    @app.get("/v1/tools")
    async def list_tools() -> dict[str, Any]:
        listed = [
            {"name": s.name, "description": s.description, "read_only": s.read_only, "input_schema": input_schema(s)}
            for s in TOOLS.values()
            if s.http
        ]
        return {"object": "list", "data": listed}

    @app.post("/v1/tools/{name}")
    async def call_tool(name: str, request: Request) -> dict[str, Any]:
        spec = TOOLS.get(name)
        if spec is None or not spec.http:
            raise ApiError(404, f"no tool named {name!r} (GET /v1/tools lists them)", "tool_not_found")
        try:
            arguments = await request.json() if await request.body() else {}
        except ValueError:
            raise ApiError(400, "the body is not JSON: send the arguments as an object", "invalid_json") from None
        if not isinstance(arguments, dict):
            raise ApiError(400, "the body must be a JSON object of the tool's arguments", "invalid_request")
        # The tools take the index's lock and read files: off the event loop, like MCP's calls.
        try:
            return await run_in_threadpool(spec.call, tools, arguments)
        except BadInputError as exc:  # as ApiError: Starlette's catch-all would also log a traceback
            raise ApiError(400, str(exc), "invalid_request") from None
        except CodemmError as exc:
            raise ApiError(500, str(exc), "codemm_error", "server_error") from None
