"""Embeddings from an OpenAI-compatible ``/v1/embeddings`` endpoint, through the official client.

llama.cpp (``llama-server --embedding --pooling mean``), Ollama and vLLM serve code embedding
models this way. Texts go in batches; every failure is one line (server down, wrong port, 401,
404 model, timeout, an empty or short answer, per-token vectors from a server started without
pooling, a dimension that changes). Vectors are L2-normalised here: servers differ on that.
The identity is the endpoint and the model id: the server's weights are not visible from here.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from codemm.errors import BadInputError, CodemmError, ModelServerError

BATCH = 16
"""Texts per request: small enough that a CPU server answers each within the timeout."""


class OpenAIEncoder:
    kind = "openai"

    def __init__(self, model: str, api_base: str, api_key_env: str = "", timeout: float = 120.0) -> None:
        self.name = model
        self.api_base = api_base.rstrip("/")
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.identity = f"openai:{model}@{self.api_base}"
        self._dimension: int | None = None
        self._client: Any = None

    @property
    def dimension(self) -> int | None:
        return self._dimension

    def _open(self) -> Any:
        if self._client is None:
            try:
                import openai
            except ImportError:
                raise CodemmError("an openai: embedding model needs the openai package: pip install openai") from None
            key = os.environ.get(self.api_key_env, "") if self.api_key_env else ""
            if self.api_key_env and not key:
                raise BadInputError(
                    f"embedding_api_key_env names {self.api_key_env}, but that variable is empty or unset"
                )
            self._client = openai.OpenAI(base_url=self.api_base, api_key=key or "no-key", timeout=self.timeout,
                                         max_retries=0)  # fmt: skip
        return self._client

    def _error(self, exc: Exception) -> CodemmError:
        import openai

        where = f"the embedding server at {self.api_base}"
        if isinstance(exc, openai.APITimeoutError):
            return ModelServerError(f"{where} did not answer in time (raise `timeout`)")
        if isinstance(exc, openai.APIConnectionError):
            return ModelServerError(
                f"cannot reach an embedding server at {self.api_base}: is it running, and is the port right? "
                "(e.g. `llama-server -m MODEL.gguf --embedding --pooling mean`, `ollama serve`, `vllm serve MODEL`)"
            )
        if isinstance(exc, openai.AuthenticationError):
            return ModelServerError(
                f"{where} refused the API key (401): set the variable named by embedding_api_key_env"
            )
        if isinstance(exc, openai.NotFoundError):
            return ModelServerError(
                f"{where} answered 404 for embedding model '{self.name}': check the model id after openai: "
                "and that embedding_api_base ends in /v1"
            )
        if isinstance(exc, openai.APIStatusError):
            detail = str(getattr(exc, "message", exc))[:200]
            return ModelServerError(
                f"{where} answered {exc.status_code} to an embeddings request for '{self.name}' ({detail}); "
                "is it started with embeddings on (llama.cpp: --embedding)?"
            )
        return ModelServerError(f"{where} failed: {type(exc).__name__}: {str(exc)[:200]}")

    def _batch(self, texts: list[str]) -> np.ndarray:
        client = self._open()
        try:
            response = client.embeddings.create(model=self.name, input=texts, encoding_format="float")
        except Exception as exc:
            raise self._error(exc) from None
        data = sorted(response.data or [], key=lambda item: item.index)
        where = f"the embedding server at {self.api_base} (model '{self.name}')"
        if len(data) != len(texts):
            raise ModelServerError(f"{where} returned {len(data)} embeddings for {len(texts)} texts")
        rows = [item.embedding for item in data]
        if any(row and isinstance(row[0], list) for row in rows):
            raise ModelServerError(
                f"{where} returned one vector per token, not one per text: start it with a pooling type "
                "(llama-server --pooling mean; llama-cpp-python --kv_overrides llama.pooling_type=int:1)"
            )
        if any(not row for row in rows):
            raise ModelServerError(f"{where} returned an empty embedding")
        sizes = {len(row) for row in rows}
        if len(sizes) > 1 or (self._dimension is not None and sizes != {self._dimension}):
            seen = sorted(sizes | ({self._dimension} if self._dimension else set()))
            raise ModelServerError(f"{where} returned vectors of different sizes ({', '.join(map(str, seen))})")
        vectors = np.asarray(rows, dtype=np.float32)
        if not np.isfinite(vectors).all():
            raise ModelServerError(f"{where} returned non-finite numbers in an embedding")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self._dimension = vectors.shape[1]
        return vectors / np.maximum(norms, 1e-12)

    def encode(self, texts: list[str], progress: Any = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dimension or 0), dtype=np.float32)
        out = []
        for lo in range(0, len(texts), BATCH):
            out.append(self._batch(texts[lo : lo + BATCH]))
            if progress:
                progress(min(lo + BATCH, len(texts)), len(texts))
        return np.concatenate(out)

    def encode_query(self, text: str) -> np.ndarray:
        return self._batch([text or " "])[0]
