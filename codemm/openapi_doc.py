"""The OpenAPI description of `codemm serve` (``GET /openapi.json``): the request body and every
response each route can give, so a client generator or a fuzzer (schemathesis, in the tests) gets a
schema that says what the server really does.

The models here only describe responses: the handlers build plain dicts (codemm.openai_wire) and
validate the chat request themselves, to answer in OpenAI's error JSON rather than FastAPI's 422.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict

from codemm.openai_wire import ChatRequest


class _Doc(BaseModel):
    model_config = ConfigDict(extra="allow")  # what OpenAI adds later must not break a client's check


class ErrorDetail(_Doc):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(_Doc):
    """Every non-200 answer: OpenAI's error JSON with a one-line message."""

    error: ErrorDetail


class ModelObject(_Doc):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(_Doc):
    object: Literal["list"]
    data: list[ModelObject]


class Citation(_Doc):
    """A location the answer cites, checked against the repository."""

    path: str
    start: int
    end: int
    valid: bool
    source: str


class AssistantMessage(_Doc):
    role: Literal["assistant"]
    content: str


class Choice(_Doc):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop", "length"]


class Usage(_Doc):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(_Doc):
    """The answer when ``stream`` is false; with ``stream`` it comes as server-sent
    ``chat.completion.chunk`` events, the last with the citations, then ``data: [DONE]``."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    citations: list[Citation]


class Delta(_Doc):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(_Doc):
    index: int
    delta: Delta
    finish_reason: Literal["stop", "length"] | None


class ChatCompletionChunk(_Doc):
    """One server-sent event of a streamed answer: the role and the grounded block, each piece, a
    last chunk with the finish reason and the citations, then (``stream_options.include_usage``) a
    chunk with the usage and no choices. A failure after the headers is an ``ErrorResponse`` event."""

    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    citations: list[Citation] | None = None


_CHUNK_OR_ERROR = {"anyOf": [{"$ref": "#/components/schemas/ChatCompletionChunk"},
                             {"$ref": "#/components/schemas/ErrorResponse"}]}  # fmt: skip
_JSON_DATA = {"type": "string", "contentMediaType": "application/json", "contentSchema": _CHUNK_OR_ERROR}
SSE_EVENT = {"type": "object", "required": ["data"],
             "properties": {"data": {"anyOf": [{"const": "[DONE]"}, _JSON_DATA]}}}  # fmt: skip
"""One event of the stream (OpenAPI 3.2's reading of an event-stream schema): its ``data`` is a
chunk or an error as JSON, or the closing ``[DONE]``."""


class Health(_Doc):
    status: Literal["ok", "repo_unavailable"]
    generating: int
    queued: int
    model_loaded: bool
    message: str | None = None


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    why = {400: "Invalid request, or a Host that is not this machine (without an API key)",
           401: "Missing or wrong API key", 403: "A web page's Origin that is not allowed",
           404: "No such model or path", 413: "Body or image over its limit", 415: "A body that is not JSON",
           429: "The queue is full (Retry-After)",
           500: "The repository is gone, or an internal error", 502: "The upstream model server failed",
           503: "No slot came free in time (Retry-After)", 504: "No answer within the server's timeout"}  # fmt: skip
    return {status: {"model": ErrorResponse, "description": why[status]} for status in statuses}


GUARDED = (400, 401, 403)
"""What the guards in front of every route may answer (codemm.http_guards)."""

HEALTH_DOC: dict[str, Any] = {"responses": {200: {"model": Health}, 503: {"model": Health, "description":
                              "The repository has gone"}, **_errors(400, 403)}}  # fmt: skip
MODELS_DOC: dict[str, Any] = {"responses": {200: {"model": ModelList}, **_errors(*GUARDED)}}
MODEL_DOC: dict[str, Any] = {"responses": {200: {"model": ModelObject}, **_errors(*GUARDED, 404)}}
_STREAM = {"text/event-stream": {"schema": SSE_EVENT}}
_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/ChatRequest"}}}
CHAT_DOC: dict[str, Any] = {
    "responses": {
        200: {"model": ChatCompletion, "description": "The answer, or its chunks when streaming", "content": _STREAM},
        **_errors(*GUARDED, 404, 413, 415, 429, 500, 502, 503, 504),
    },
    "openapi_extra": {"requestBody": {"required": True, "content": _BODY}},
}


def document(app: FastAPI, served: Callable[[], list[str]]) -> None:
    """Makes ``app.openapi()`` (served at /openapi.json) include the chat request's schema, which
    no route declares as a parameter (the handler reads the body itself), with ``model`` limited to
    the ids ``served()`` names now (adapters come and go while the server runs)."""
    base: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not base:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes,
                                 description="codemm's OpenAI-compatible API over one repository")  # fmt: skip
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (ChatRequest, ChatCompletionChunk):
                described = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(described.pop("$defs", {}))
                components[model.__name__] = described
            base.update(schema)
        schema = copy.deepcopy(base)
        schema["components"]["schemas"]["ChatRequest"]["properties"]["model"]["enum"] = served()
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
