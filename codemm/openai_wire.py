"""The OpenAI chat-completions wire format, as `codemm serve` reads and writes it.

Requests are validated with pydantic models that allow unknown fields: editors and agents send
parameters codemm has no use for (tools, stop, logit_bias, response_format), and refusing them would
break those clients for nothing. Responses are plain dicts in the shapes the official ``openai``
client parses, with one extra top-level field, ``citations``, that clients which do not know it
ignore. Nothing here touches the model or the network.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from codemm.models.stream import Message

BASE_MODEL_ID = "codemm"
ADAPTER_PREFIX = "codemm:"
IMAGE_SUFFIXES = {"image/png": ".png", "image/jpeg": ".jpg", "image/jpg": ".jpg", "image/webp": ".webp",
                  "image/gif": ".gif", "image/bmp": ".bmp"}  # fmt: skip
_DATA_URL = re.compile(r"data:(?P<mime>[\w.+/-]*)(?P<params>(;[^,;]*)*),(?P<payload>.*)", re.DOTALL)


class ApiError(Exception):
    """An HTTP error in OpenAI's error JSON: ``{"error": {"message", "type", "code"}}``."""

    def __init__(
        self, status: int, message: str, code: str, kind: str = "invalid_request_error", retry_after: int | None = None,
        param: str | None = None,
    ) -> None:  # fmt: skip
        super().__init__(" ".join(message.split()))  # one line, like every codemm error
        self.status, self.code, self.kind, self.retry_after, self.param = status, code, kind, retry_after, param

    def body(self) -> dict[str, Any]:
        return error_body(str(self), self.kind, self.code, self.param)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}


def error_body(message: str, kind: str, code: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


# -- requests -----------------------------------------------------------------------------------


class _Open(BaseModel):
    # No NaN or Infinity in any number (JSON has neither; 1e400 parses as inf): they pass every
    # comparison a range check makes, and turn into nan probabilities in the sampler.
    model_config = ConfigDict(extra="allow", allow_inf_nan=False)


class ImageURL(_Open):
    url: str


class ContentPart(_Open):
    type: str
    text: str | None = None
    image_url: ImageURL | str | None = None


class ChatMessage(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    """OpenAI's roles; only user and assistant turns are read (see ``read_conversation``)."""
    content: str | list[ContentPart] | None = None


class StreamOptions(_Open):
    include_usage: bool = False


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MIN_TEMPERATURE = 0.01
"""Below this (but above 0) logits divided by the temperature overflow to inf and the probabilities
come out nan (1e-45 did); such a temperature is greedy decoding anyway, which 0 asks for."""
MAX_TOKENS = 2**31 - 1

Count = Annotated[int, Field(ge=1, le=MAX_TOKENS)]
Penalty = Annotated[float, Field(ge=-2, le=2)]


class ChatRequest(_Open):
    """The body of ``POST /v1/chat/completions``. Every number OpenAI's API takes is range-checked
    here, those codemm ignores (penalties, logprobs, logit_bias) included: a request is refused with
    a 400 naming the parameter before it can reach the sampler, an engine or a stream's headers."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"model": "codemm", "messages": [{"role": "user", "content": "Where is parse_due_date defined?"}]},
        {"model": "codemm", "stream": True, "max_tokens": 64, "messages": [
            {"role": "user", "content": "What does the project do?"},
            {"role": "assistant", "content": "It tracks tasks."},
            {"role": "user", "content": "How are tasks saved?"}]},
    ]})  # fmt: skip

    model: str = Field(description="`codemm`, or `codemm:NAME` for an adapter (see GET /v1/models)")
    messages: list[ChatMessage] = Field(min_length=1, description="The last user message is the question")
    stream: bool = False
    max_tokens: Count | None = Field(default=None, description="Capped by the server's max_new_tokens")
    max_completion_tokens: Count | None = None
    temperature: float | None = Field(default=None, ge=0, le=2, description="0 (greedy) or 0.01 to 2")
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = Field(default=None, ge=INT64_MIN, le=INT64_MAX)
    n: int | None = Field(default=None, ge=1, le=1, description="codemm gives one answer per request")
    presence_penalty: Penalty | None = Field(default=None, description="Accepted and ignored")
    frequency_penalty: Penalty | None = Field(default=None, description="Accepted and ignored")
    logprobs: bool | None = Field(default=None, description="Accepted and ignored")
    top_logprobs: int | None = Field(default=None, ge=0, le=20, description="Accepted and ignored")
    logit_bias: dict[str, Annotated[float, Field(ge=-100, le=100)]] | None = Field(
        default=None, description="Accepted and ignored"
    )
    stream_options: StreamOptions | None = None

    @field_validator("temperature")
    @classmethod
    def _not_vanishing(cls, value: float | None) -> float | None:
        if value is not None and 0 < value < MIN_TEMPERATURE:
            raise ValueError(f"must be 0 (greedy decoding) or at least {MIN_TEMPERATURE}")
        return value


def parse_chat_request(body: bytes) -> ChatRequest:
    """The request body, or a 400 naming the first thing wrong with it."""
    try:
        request = ChatRequest.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first.get("loc", ())
        where = ".".join(str(part) for part in loc) or "body"
        param = str(loc[0]) if loc else None
        if param == "n" and first.get("type") == "less_than_equal":
            raise ApiError(400, "n > 1 is not supported: codemm gives one answer per request", "unsupported_parameter",
                           param="n") from None  # fmt: skip
        message = f"invalid request: {where}: {first.get('msg', 'invalid')}"
        raise ApiError(400, message, "invalid_request", param=param) from None
    return request


@dataclass
class ImageBytes:
    data: bytes
    suffix: str
    label: str
    """How errors name it: "image_url 1" (the request has no file name)."""


@dataclass
class Conversation:
    question: str
    history: list[Message] = field(default_factory=list)
    images: list[ImageBytes] = field(default_factory=list)


def read_conversation(messages: list[ChatMessage], max_image_bytes: int) -> Conversation:
    """The last user message is the question (with its images); earlier user and assistant turns are
    the history, as text. The client's system messages are left out: codemm's prompt has its own
    system message with the repository's context, and most chat templates take only one, first."""
    turns = [m for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user":
        raise ApiError(400, "the last message must be the user's question", "invalid_messages")
    question, urls = _text_and_images(turns[-1].content)
    if not question.strip():
        raise ApiError(400, "the question (the last user message) has no text", "invalid_messages")
    history = []
    for turn in turns[:-1]:
        text, _ = _text_and_images(turn.content)  # images of earlier turns: their text only
        if text.strip():
            history.append({"role": turn.role, "content": text})
    images = [decode_image_url(url, f"image_url {i}", max_image_bytes) for i, url in enumerate(urls, 1)]
    return Conversation(question, history, images)


def _text_and_images(content: str | list[ContentPart] | None) -> tuple[str, list[str]]:
    if content is None or isinstance(content, str):
        return content or "", []
    texts, urls = [], []
    for part in content:
        if part.type in ("text", "input_text"):
            texts.append(part.text or "")
        elif part.type == "image_url":
            image = part.image_url
            url = image.url if isinstance(image, ImageURL) else image
            if not url:
                raise ApiError(400, "an image_url part has no url", "invalid_image")
            urls.append(url)
        else:
            raise ApiError(400, f"content part type '{part.type}' is not supported (text and image_url are)",
                           "unsupported_content")  # fmt: skip
    return "\n".join(texts), urls


def decode_image_url(url: str, label: str, max_bytes: int) -> ImageBytes:
    """A base64 ``data:`` URL as bytes. Other URLs are refused: the server never fetches a URL a
    request names (it could point inside the network the server sits in)."""
    match = _DATA_URL.fullmatch(url.strip())
    if match is None:
        raise ApiError(400, f"{label} must be a data: URL (data:image/png;base64,...); codemm fetches no URLs",
                       "invalid_image")  # fmt: skip
    mime = match["mime"].lower()
    suffix = IMAGE_SUFFIXES.get(mime)
    if suffix is None:
        raise ApiError(400, f"{label} is {mime or 'untyped'}; codemm reads PNG, JPEG, WebP, BMP and GIF",
                       "invalid_image")  # fmt: skip
    if ";base64" not in match["params"].lower():
        raise ApiError(400, f"{label} must be base64-encoded (data:{mime};base64,...)", "invalid_image")
    payload = re.sub(r"\s+", "", match["payload"])
    if len(payload) * 3 // 4 > max_bytes:
        size = len(payload) * 3 / 4 / 2**20
        raise ApiError(413, f"{label} is {size:.1f} MiB; the limit is {max_bytes / 2**20:.0f} MiB", "image_too_large")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, f"{label} is not valid base64", "invalid_image") from None
    return ImageBytes(data, suffix, label)


def adapter_of(model_id: str, adapters: list[str]) -> str | None:
    """``codemm`` is the configured model; ``codemm:NAME`` the same with adapter NAME."""
    if model_id == BASE_MODEL_ID:
        return None
    name = model_id[len(ADAPTER_PREFIX) :] if model_id.startswith(ADAPTER_PREFIX) else ""
    if name and name in adapters:
        return name
    served = ", ".join(model_ids(adapters))
    raise ApiError(404, f"the model '{model_id}' does not exist (this server serves: {served})", "model_not_found")


# -- responses ----------------------------------------------------------------------------------


def model_ids(adapters: list[str]) -> list[str]:
    return [BASE_MODEL_ID] + [ADAPTER_PREFIX + name for name in adapters]


def model_object(model_id: str, created: int) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": "codemm"}


def model_list(adapters: list[str], created: int) -> dict[str, Any]:
    return {"object": "list", "data": [model_object(i, created) for i in model_ids(adapters)]}


FINISH_REASONS = {"length": "length"}
"""codemm's stop reasons in OpenAI's words; everything else (eos, repetition, cancelled) is "stop"."""


@dataclass
class Completion:
    """What every chunk or response of one completion shares."""

    model: str
    id: str = field(default_factory=lambda: "chatcmpl-" + uuid.uuid4().hex[:24])
    created: int = field(default_factory=lambda: int(time.time()))

    def _head(self, kind: str) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}

    def response(self, answer: str, stop_reason: str, usage: dict[str, int], citations: list[Any]) -> dict[str, Any]:
        choice = {"index": 0, "message": {"role": "assistant", "content": answer},
                  "finish_reason": FINISH_REASONS.get(stop_reason, "stop")}  # fmt: skip
        return {**self._head("chat.completion"), "choices": [choice], "usage": usage, "citations": citations}

    def chunk(self, delta: dict[str, Any], stop_reason: str | None = None, **extra: Any) -> dict[str, Any]:
        finish = FINISH_REASONS.get(stop_reason, "stop") if stop_reason is not None else None
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {**self._head("chat.completion.chunk"), "choices": [choice], **extra}

    def usage_chunk(self, usage: dict[str, int]) -> dict[str, Any]:
        """The extra last chunk of ``stream_options: {"include_usage": true}``: no choices."""
        return {**self._head("chat.completion.chunk"), "choices": [], "usage": usage}


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}  # fmt: skip
