"""openai:<id> embedding models against llama.cpp's own OpenAI-compatible server (llama-cpp-python
[server], which no one here wrote), on the embedded SmolLM2 GGUF.

SmolLM2 is a chat model, not an embedding model: these tests prove the endpoint path (batching,
dimension discovered, keys, errors, re-embedding), not retrieval quality. llama-cpp-python reads
the pooling from the GGUF, and SmolLM2's has none: its server then returns one vector per token,
unless started with ``--kv_overrides llama.pooling_type=int:1`` (mean pooling). It answers every
model id (it serves one model), so a 404 is shown with a base URL that lacks /v1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from codemm.errors import CodemmError
from codemm.repo.embed_openai import OpenAIEncoder
from codemm.repo.embeddings import EmbeddingConfig, embedding_report, open_encoder
from codemm.repo.index import RepoIndex
from codemm.repo.retrieve import retriever_for
from tests.engines.conftest import API_KEY, KEY_ENV, Server, start_server, stop_server
from tests.repo.test_index import small_repo
from tests.test_cli import assert_one_line_error

MEAN_POOLING = ("--embedding", "True", "--kv_overrides", "llama.pooling_type=int:1")
SMOLLM2_WIDTH = 576


@pytest.fixture(scope="module")
def embedding_server(gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(gguf, tmp_path_factory.mktemp("emb-server") / "server.log", *MEAN_POOLING,
                           "--api_key", API_KEY)  # fmt: skip
    yield running
    stop_server(running)


def codemm(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codemm.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=600)  # fmt: skip


def test_index_and_search_through_the_endpoint(embedding_server: Server, tmp_path: Path) -> None:
    repo = small_repo(tmp_path / "repo")
    env = {"CODEMM_EMBEDDING_MODEL": "openai:smollm2", "CODEMM_EMBEDDING_API_BASE": embedding_server.api_base,
           "CODEMM_EMBEDDING_API_KEY_ENV": KEY_ENV, KEY_ENV: API_KEY}  # fmt: skip
    proc = codemm("index", str(repo), "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["embedding"] == {"name": "smollm2", "kind": "openai", "dimension": SMOLLM2_WIDTH,
                                   "identity": f"openai:smollm2@{embedding_server.api_base}",
                                   "vectors": report["embedded"]}  # fmt: skip
    assert report["embedded"] > 0
    found = codemm("search", "polygon area", "--repo", str(repo), "--json", env=env)
    assert found.returncode == 0, found.stderr
    assert any("dense" in hit["sources"] for hit in json.loads(found.stdout))
    # Back to the built-in model: everything is re-embedded with it.
    back = json.loads(codemm("index", str(repo), "--json", "--embedding-model", "all-MiniLM-L6-v2", env=env).stdout)
    assert back["embedded"] == report["embedded"] and back["embedding"]["dimension"] == 384


def test_batches_keep_order_and_vectors_are_normalised(
    embedding_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    from codemm.repo import embed_openai

    monkeypatch.setattr(embed_openai, "BATCH", 3)
    encoder = OpenAIEncoder("smollm2", embedding_server.api_base, KEY_ENV)
    monkeypatch.setenv(KEY_ENV, API_KEY)
    texts = [f"def function_{i}(x):\n    return x * {i}\n" for i in range(7)] + ["x" * 20000]  # truncated by llama.cpp
    batched = encoder.encode(texts)
    assert batched.shape == (8, SMOLLM2_WIDTH) and encoder.dimension == SMOLLM2_WIDTH
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    one = encoder.encode([texts[4]])[0]
    assert float(one @ batched[4]) > 0.999  # the batch's 5th vector is the 5th text's


def test_retriever_queries_the_endpoint(
    embedding_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    config = EmbeddingConfig("openai:smollm2", embedding_server.api_base, KEY_ENV)
    with RepoIndex(small_repo(tmp_path / "repo"), embedding=config) as index:
        index.refresh()
        searcher = retriever_for(index)
        assert searcher.matrix is not None and searcher.matrix.shape[1] == SMOLLM2_WIDTH
        assert len(searcher.rank_dense("where is the area of a polygon computed", 3)) == 3
        assert embedding_report(index)["vectors"] == index.db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]


def test_endpoint_errors_are_one_line(embedding_server: Server, gguf: Path, server: Server, tmp_path: Path) -> None:
    repo = small_repo(tmp_path / "repo")
    base = {"CODEMM_EMBEDDING_MODEL": "openai:smollm2", "CODEMM_EMBEDDING_API_KEY_ENV": KEY_ENV}
    wrong_key = {**base, "CODEMM_EMBEDDING_API_BASE": embedding_server.api_base, KEY_ENV: "wrong"}
    assert_one_line_error(codemm("index", str(repo), env=wrong_key), 1, "refused the API key (401)")
    no_key = {**base, "CODEMM_EMBEDDING_API_BASE": embedding_server.api_base, KEY_ENV: ""}
    assert_one_line_error(codemm("index", str(repo), env=no_key), 2, f"names {KEY_ENV}, but that variable is empty")
    root = embedding_server.api_base.removesuffix("/v1")
    without_v1 = {**base, "CODEMM_EMBEDDING_API_BASE": root, KEY_ENV: API_KEY}
    assert_one_line_error(codemm("index", str(repo), env=without_v1), 1, "answered 404", "ends in /v1")
    # The chat test server runs without --embedding.
    chat_only = {**base, "CODEMM_EMBEDDING_API_BASE": server.api_base, KEY_ENV: API_KEY}
    assert_one_line_error(codemm("index", str(repo), env=chat_only), 1, "answered 500", "--embedding")
    # Embeddings on, but no pooling: one vector per token comes back.
    per_token = start_server(gguf, tmp_path / "per-token.log", "--embedding", "True")
    try:
        with pytest.raises(CodemmError, match="one vector per token"):
            OpenAIEncoder("smollm2", per_token.api_base).encode(["def f(): pass"])
    finally:
        stop_server(per_token)


def test_a_server_that_changes_dimension_is_one_line(
    embedding_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same model id now answers with other vectors (another model loaded under that name)."""
    import numpy as np

    monkeypatch.setenv(KEY_ENV, API_KEY)
    repo = small_repo(tmp_path / "repo")
    config = EmbeddingConfig("openai:swapped", embedding_server.api_base, KEY_ENV)
    with RepoIndex(repo, embedding=config) as index:
        index.refresh()
        identity = open_encoder(config).identity
        with index.db:
            index.db.execute("UPDATE embeddings SET vector = ? WHERE model = ?",
                             (np.ones(384, dtype=np.float32).tobytes(), identity))  # fmt: skip
        (repo / "pkg" / "extra.py").write_text("def volume(box):\n    return 1\n")
        with pytest.raises(CodemmError, match=f"now returns {SMOLLM2_WIDTH}-dim vectors but the index holds 384-dim"):
            index.refresh()
