"""Any OpenAI-compatible server: llama.cpp's llama-server, llama-cpp-python's server, Ollama, vLLM,
LM Studio, TGI. Through the official ``openai`` client (no hand-written SSE parsing).

What a server does not say in the OpenAI API, codemm asks where each engine says it:
- the context window: vLLM's ``max_model_len`` in /v1/models, llama.cpp's /props, Ollama's
  /api/show, else ``context_window`` from the config, else a conservative 2048 (and says so);
- token counts: vLLM's and llama.cpp's /tokenize, llama-cpp-python's /extras/tokenize/count, else an
  estimate (bytes / 3, plus a margin per message) that errs on the side of a shorter prompt.
Ollama's OpenAI endpoint silently truncates prompts to its runtime ``num_ctx`` (2048 by default in
older releases) and takes no option to change it: codemm budgets to the ``num_ctx`` of the chosen
model, read from /api/show (set a larger one in its Modelfile), never to the model's maximum.
An adapter is a model id on the server (vLLM ``--lora-modules team=DIR``; an Ollama model built
FROM the base with ADAPTER).
"""

from __future__ import annotations

import base64
import io
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from codemm.config import Settings
from codemm.errors import BadInputError, CodemmError, ModelServerError
from codemm.models.seam import Capabilities
from codemm.models.stream import GenerationSettings, GenerationStats, Message, TokenStream

ASSUMED_CONTEXT = 2048
MESSAGE_OVERHEAD = 8
"""Tokens a chat template adds around each message (role markers), an upper bound for common ones."""


@dataclass
class ServerInfo:
    models: list[str]
    context_window: int
    context_source: str
    """Where the window came from: config | vllm | llama.cpp | ollama | assumed"""
    kind: str
    """vllm | llama.cpp | llama-cpp-python | ollama | openai-compatible"""


def server_root(api_base: str) -> str:
    """http://host:port/v1 -> http://host:port (llama.cpp's /props and /tokenize live there)."""
    base = api_base.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


def _friendly(exc: Exception, api_base: str, model: str) -> CodemmError:
    """One line a user can act on, for each way a request to a server fails."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return ModelServerError(f"the model server at {api_base} did not answer in time (raise `timeout`)")
    if isinstance(exc, openai.APIConnectionError):
        return ModelServerError(
            f"cannot reach a model server at {api_base}: is it running, and is the port right? "
            "(e.g. `python -m llama_cpp.server --model FILE.gguf`, `llama-server -m FILE.gguf`, `vllm serve MODEL`)"
        )
    if isinstance(exc, openai.AuthenticationError):
        return ModelServerError(
            f"the model server at {api_base} refused the API key (401): set the variable named by api_key_env"
        )
    if isinstance(exc, openai.NotFoundError):
        return ModelServerError(
            f"the model server at {api_base} answered 404 for model '{model}': check the model or adapter name "
            "(`codemm models info --backend openai` lists what it serves) and that api_base ends in /v1"
        )
    if isinstance(exc, openai.BadRequestError):
        detail = str(getattr(exc, "message", exc))
        if "context" in detail.lower() or "too long" in detail.lower() or "exceed" in detail.lower():
            return ModelServerError(
                f"the prompt does not fit the server's context window ({detail[:160]}); set context_window lower"
            )
        return ModelServerError(f"the model server at {api_base} rejected the request (400): {detail[:200]}")
    if isinstance(exc, openai.APIStatusError):
        return ModelServerError(f"the model server at {api_base} answered {exc.status_code}: {str(exc)[:200]}")
    return ModelServerError(f"the model server at {api_base} failed: {type(exc).__name__}: {exc}")


class OpenAIModel:
    backend = "openai"

    def __init__(self, settings: Settings) -> None:
        try:
            import httpx
            import openai
        except ImportError:
            raise CodemmError("the openai backend needs the openai package: pip install openai") from None
        self.settings = settings
        self.api_base = settings.api_base.rstrip("/")
        key = os.environ.get(settings.api_key_env, "") if settings.api_key_env else ""
        if settings.api_key_env and not key:
            raise BadInputError(f"api_key_env names {settings.api_key_env}, but that variable is empty or unset")
        self._key = key or "no-key"  # the client insists on one; local servers ignore it
        self.client = openai.OpenAI(base_url=self.api_base, api_key=self._key, timeout=settings.timeout, max_retries=0)
        # Side requests (/props, /tokenize, /api/show) are quick or absent: never wait long for them.
        self.http = httpx.Client(timeout=min(10.0, settings.timeout), headers={"Authorization": f"Bearer {self._key}"})
        started = time.perf_counter()
        try:
            self.info = self._probe()
            self.base_model = self._pick_model(settings.model)
            if self.info.kind == "ollama" and self.info.context_source != "config":
                self.info.context_window = self._ollama_window(server_root(self.api_base), self.base_model)
                self.info.context_source = "ollama"
            elif self.info.kind == "ollama":  # never past what Ollama keeps: it cuts the rest silently
                ollama = self._ollama_window(server_root(self.api_base), self.base_model)
                self.info.context_window = min(self.info.context_window, ollama)
        except BaseException:
            self.close()
            raise
        self.served = self.base_model
        self.adapter: str | None = None
        self._tokenize: str | None = None
        """The token-counting endpoint that worked: tokenize | extras | estimate (None: not tried)."""
        self._counts: dict[str, int] = {}
        self.load_s = time.perf_counter() - started

    @classmethod
    def open(cls, settings: Settings) -> OpenAIModel:
        return cls(settings)

    # -- what the server tells --------------------------------------------------------------

    def _probe(self) -> ServerInfo:
        try:
            listed = self.client.models.list()
        except Exception as exc:
            import openai

            if isinstance(exc, openai.NotFoundError):
                raise ModelServerError(
                    f"{self.api_base} has no /models endpoint: OpenAI-compatible servers live under /v1 "
                    f"(try --api-base {self.api_base.rstrip('/')}/v1 or drop a doubled /v1)"
                ) from None
            raise _friendly(exc, self.api_base, self.settings.model) from None
        entries = list(listed.data)
        models = [entry.id for entry in entries]
        if self.settings.context_window:
            window, source = self.settings.context_window, "config"
        else:
            window, source = 0, "assumed"
        kind = "openai-compatible"
        for entry in entries:  # vLLM reports the window it was started with
            extra = entry.model_extra or {}
            if extra.get("max_model_len"):
                kind = "vllm"
                if not window:
                    window, source = int(extra["max_model_len"]), "vllm"
                break
        root = server_root(self.api_base)
        if kind == "openai-compatible":
            props = self._get(f"{root}/props")
            settings = (props or {}).get("default_generation_settings") or {}
            if props is not None and (settings.get("n_ctx") or props.get("n_ctx")):
                kind = "llama.cpp"
                if not window:
                    window, source = int(settings.get("n_ctx") or props["n_ctx"]), "llama.cpp"
        if kind == "openai-compatible" and self._get(f"{root}/api/version") is not None:
            kind = "ollama"  # its window depends on the model: read once the model is chosen
        if kind == "openai-compatible" and self._post(f"{root}/extras/tokenize/count", {"input": "x"}) is not None:
            kind = "llama-cpp-python"
        return ServerInfo(models, window or ASSUMED_CONTEXT, source, kind)

    def _ollama_window(self, root: str, model: str) -> int:
        """Ollama's runtime window (num_ctx), not the model's maximum: prompts past it are cut silently."""
        shown = self._post(f"{root}/api/show", {"model": model}) or {}
        for line in str(shown.get("parameters", "")).splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "num_ctx" and parts[1].isdigit():
                return int(parts[1])
        return ASSUMED_CONTEXT

    def _get(self, url: str) -> dict[str, Any] | None:
        return self._json("GET", url, None)

    def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any] | None:
        return self._json("POST", url, body)

    def _json(self, method: str, url: str, body: dict[str, Any] | None) -> dict[str, Any] | None:
        """A side request that a server may not offer: None when it does not."""
        import httpx

        try:
            response = self.http.request(method, url, json=body)
            if response.status_code != 200:
                return None
            data = response.json()
        except (httpx.HTTPError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _pick_model(self, wanted: str) -> str:
        from codemm.models.registry import REGISTRY

        served = self.info.models
        if wanted in served:
            return wanted
        if not served:
            raise ModelServerError(f"the model server at {self.api_base} lists no models")
        if wanted in REGISTRY and self.settings.sources.get("model", "default") == "default" and len(served) == 1:
            return served[0]  # the default names codemm's embedded model; this server serves one of its own
        raise ModelServerError(
            f"the model server at {self.api_base} does not serve '{wanted}' (it serves: {', '.join(served)})"
        )

    # -- the seam ---------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.base_model

    @property
    def context_window(self) -> int:
        return self.info.context_window

    @property
    def capabilities(self) -> Capabilities:
        # Whether the served model reads images, only the server knows: codemm sends pixels when
        # the user asks for them (--image-mode vision|both), and OCR text by default.
        return Capabilities(images=True, adapters=True, training=False, image_default="ocr")

    def count_text(self, text: str) -> int:
        cached = self._counts.get(text)
        if cached is not None:
            return cached
        count = self._remote_count(text)
        if count is None:
            count = len(text.encode("utf-8")) // 3 + 1
        if len(self._counts) > 4096:
            self._counts.clear()
        self._counts[text] = count
        return count

    def _remote_count(self, text: str) -> int | None:
        root = server_root(self.api_base)
        if self._tokenize in (None, "tokenize"):
            data = self._post(f"{root}/tokenize", {"content": text, "prompt": text, "model": self.served})
            if data is not None and ("tokens" in data or "count" in data):
                self._tokenize = "tokenize"
                return int(data.get("count") or len(data.get("tokens") or []))
        if self._tokenize in (None, "extras"):
            data = self._post(f"{root}/extras/tokenize/count", {"input": text})
            if data is not None and "count" in data:
                self._tokenize = "extras"
                return int(data["count"])
        self._tokenize = "estimate"
        return None

    def count_tokens(self, messages: list[Message]) -> int:
        total = sum(self.count_text(m["content"]) + MESSAGE_OVERHEAD for m in messages) + MESSAGE_OVERHEAD
        # The server's window is a hard limit and its chat template is unknown here (some add a date
        # line or tool preamble): a margin always, a wide one over an estimate.
        return int(total * 1.02) + 32 if self._tokenize != "estimate" else int(total * 1.15) + 32

    def stream(
        self, messages: list[Message], settings: GenerationSettings, images: list[Any] | None = None
    ) -> TokenStream:
        stats = GenerationStats(prompt_tokens=self.count_tokens(messages))
        payload: list[dict[str, Any]] = [dict(m) for m in messages]
        if images:
            parts: list[dict[str, Any]] = [{"type": "text", "text": messages[-1]["content"]}]
            parts += [{"type": "image_url", "image_url": {"url": data_url(image)}} for image in images]
            payload[-1] = {"role": messages[-1]["role"], "content": parts}
        sampling = settings.temperature > 0
        extra: dict[str, Any] = {}
        if settings.repetition_penalty and settings.repetition_penalty != 1.0:
            extra.update(repetition_penalty=settings.repetition_penalty, repeat_penalty=settings.repetition_penalty)
        started = time.perf_counter()
        try:
            response = self.client.chat.completions.create(
                model=self.served, messages=cast(Any, payload), stream=True, max_tokens=settings.max_new_tokens,
                temperature=settings.temperature if sampling else 0.0, top_p=settings.top_p if sampling else 1.0,
                seed=settings.seed, stream_options={"include_usage": True}, extra_body=extra or None,
            )  # fmt: skip
        except Exception as exc:
            raise _friendly(exc, self.api_base, self.served) from None
        cancel = threading.Event()
        pieces = self._pieces(response, stats, cancel, started)
        return TokenStream(pieces, stats, cancel, on_cancel=response.close, guard=settings.stop_on_repeat)

    def _pieces(self, response: Any, stats: GenerationStats, cancel: threading.Event, started: float) -> Iterator[str]:
        finish = ""
        chunks = 0
        try:
            for chunk in response:
                chunks += 1
                if chunk.usage is not None:
                    stats.prompt_tokens = chunk.usage.prompt_tokens or stats.prompt_tokens
                    stats.new_tokens = chunk.usage.completion_tokens or stats.new_tokens
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                finish = choice.finish_reason or finish
                piece = choice.delta.content if choice.delta else None
                if piece:
                    if stats.new_tokens == 0:
                        stats.ttft_s = time.perf_counter() - started
                    stats.new_tokens += 1
                    yield piece
                if cancel.is_set():
                    break
        except Exception as exc:
            if not cancel.is_set():  # closing the stream on cancel makes the read fail: that is no error
                stats.total_s = time.perf_counter() - started
                stats.stop_reason = "interrupted"
                raise ModelServerError(
                    f"the stream from {self.api_base} broke off after {stats.new_tokens} tokens "
                    f"({type(exc).__name__}: {str(exc)[:160]})"
                ) from None
        finally:
            response.close()  # the server sees the disconnect and stops generating
            stats.total_s = time.perf_counter() - started
        if not finish and not cancel.is_set():
            stats.stop_reason = "interrupted"
            if chunks == 0:  # llama-cpp-python's server ends a stream this way when the prompt exceeds its window
                raise ModelServerError(
                    f"the model server at {self.api_base} closed the stream without an answer; a prompt longer "
                    f"than its context window does this (codemm budgeted {self.context_window} tokens, from "
                    f"{self.info.context_source}): set context_window to the server's"
                )
            # Every finished answer names why it ended; this one was cut by the server (llama-cpp-python's
            # server cuts a running answer when another request arrives, unless --interrupt_requests False).
            raise ModelServerError(
                f"the model server at {self.api_base} ended the answer after {stats.new_tokens} tokens without "
                "saying why (cut short by the server; llama-cpp-python's server does this when another request "
                "arrives: start it with --interrupt_requests False, or use --concurrency 1)"
            )
        stats.stop_reason = "cancelled" if cancel.is_set() else ("length" if finish == "length" else "eos")

    def set_adapter(self, name: str | None) -> None:
        if name is not None and name not in self.info.models:
            raise BadInputError(
                f"adapter '{name}' is not served by {self.api_base} (it serves: {', '.join(self.info.models)}); "
                f"serve it under that name, e.g. `vllm serve BASE --enable-lora --lora-modules {name}=DIR`"
            )
        self.served = name or self.base_model
        self.adapter = name

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "name": self.name, "server_model": self.served, "api_base": self.api_base,
                "server": self.info.kind, "served_models": self.info.models, "quant": "server", "device": "server",
                "context_window": self.context_window, "context_source": self.info.context_source,
                "token_counting": self._tokenize or "not yet measured", "adapter": self.adapter,
                "capabilities": self.capabilities.as_json(), "load_s": round(self.load_s, 3)}  # fmt: skip

    def close(self) -> None:
        for client in (getattr(self, "client", None), getattr(self, "http", None)):
            if client is not None:
                client.close()


def data_url(image: Any) -> str:
    """A PIL image as a PNG data URL (the OpenAI image_url form every server takes)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
