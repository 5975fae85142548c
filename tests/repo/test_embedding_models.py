"""A configurable embedding model: local sentence-transformers dirs (tiny random ones here), the
index recording which model made its vectors, re-embedding on a change, one-line errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from codemm.config import load_settings
from codemm.errors import CodemmError
from codemm.repo.embeddings import (
    MODEL_NAME,
    EmbeddingConfig,
    embedding_report,
    load_vectors,
    open_encoder,
)
from codemm.repo.index import RepoIndex
from codemm.repo.retrieve import Retriever, retriever_for
from tests.fixtures.tiny_models import build_tiny_embedder
from tests.repo.test_index import small_repo
from tests.test_cli import assert_one_line_error


@pytest.fixture(scope="module")
def tiny_a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_embedder(tmp_path_factory.mktemp("emb") / "tiny-a", hidden=48, seed=0)


@pytest.fixture(scope="module")
def tiny_b(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_embedder(tmp_path_factory.mktemp("emb") / "tiny-b", hidden=32, pooling="cls", seed=1)


def codemm(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codemm.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)  # fmt: skip


def stored_models(index: RepoIndex) -> set[str]:
    return {row[0] for row in index.db.execute("SELECT DISTINCT model FROM embeddings")}


def test_local_dir_end_to_end_through_the_cli(tmp_path: Path, tiny_a: Path) -> None:
    repo = small_repo(tmp_path / "repo")
    proc = codemm("index", str(repo), "--embedding-model", str(tiny_a), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    embedding = report["embedding"]
    assert embedding["name"] == "tiny-a" and embedding["kind"] == "local" and embedding["dimension"] == 48
    assert embedding["identity"].startswith("tiny-a@sha256:")
    assert embedding["vectors"] == report["embedded"] > 0
    # The search embeds the query with the same model (the global flag works as well as the command's).
    found = codemm("--embedding-model", str(tiny_a), "search", "polygon area", "--repo", str(repo), "--json")
    assert found.returncode == 0, found.stderr
    assert any("dense" in hit["sources"] for hit in json.loads(found.stdout))
    again = json.loads(codemm("index", str(repo), "--embedding-model", str(tiny_a), "--json").stdout)
    assert again["embedded"] == 0 and again["embedding"] == embedding
    text = codemm("index", str(repo), "--embedding-model", str(tiny_a)).stdout
    assert f"embeddings: tiny-a (local, 48-dim), {embedding['vectors']} vectors [{embedding['identity']}]" in text
    # The repository's codemm.toml pins the model for everyone who indexes it.
    (repo / "codemm.toml").write_text(f'embedding_model = "{tiny_a}"\n')
    pinned = json.loads(codemm("index", str(repo), "--json").stdout)
    assert pinned["embedding"]["identity"] == embedding["identity"]
    assert pinned["embedded"] == 1  # codemm.toml's own chunk; nothing else re-embedded


def test_default_model_is_reported_and_unchanged(tmp_path: Path) -> None:
    repo = small_repo(tmp_path / "repo")
    proc = codemm("index", str(repo), "--json")
    assert proc.returncode == 0, proc.stderr
    embedding = json.loads(proc.stdout)["embedding"]
    assert embedding == {"name": MODEL_NAME, "kind": "builtin", "identity": MODEL_NAME, "dimension": 384,
                         "vectors": embedding["vectors"]}  # fmt: skip
    assert embedding["vectors"] > 0
    skipped = json.loads(codemm("index", str(tmp_path / "repo"), "--no-embed", "--json").stdout)
    assert skipped["embedding"]["vectors"] == embedding["vectors"]
    assert "embeddings: all-MiniLM-L6-v2 (builtin, 384-dim)" in codemm("index", str(repo)).stdout


def test_changing_the_model_re_embeds_and_drops_old_vectors(tmp_path: Path, tiny_a: Path, tiny_b: Path) -> None:
    repo = small_repo(tmp_path / "repo")
    a, b = EmbeddingConfig(str(tiny_a)), EmbeddingConfig(str(tiny_b))
    with RepoIndex(repo, embedding=a) as index:
        stats = index.refresh()
        shas = index.db.execute("SELECT COUNT(DISTINCT sha) FROM chunks").fetchone()[0]
        assert stats.embedded == shas and stored_models(index) == {open_encoder(a).identity}
        assert index.refresh().embedded == 0
    with RepoIndex(repo, embedding=b) as index:
        assert index.refresh().embedded == shas
        assert stored_models(index) == {open_encoder(b).identity}  # the old model's vectors are gone
        assert embedding_report(index)["dimension"] == 32
        meta = json.loads(index.db.execute("SELECT value FROM meta WHERE key='embedding'").fetchone()[0])
        assert meta == {"name": "tiny-b", "kind": "local", "identity": open_encoder(b).identity, "dimension": 32}
    with RepoIndex(repo, embedding=a) as index:  # and back
        assert index.refresh().embedded == shas


def test_a_model_retrained_in_place_re_embeds(tmp_path: Path) -> None:
    model = build_tiny_embedder(tmp_path / "model", hidden=48, seed=0)
    repo = small_repo(tmp_path / "repo")
    with RepoIndex(repo, embedding=EmbeddingConfig(str(model))) as index:
        first = index.refresh().embedded
        shas = index.db.execute("SELECT COUNT(DISTINCT sha) FROM chunks").fetchone()[0]
        assert first == shas > 0
        before = open_encoder(index.embedding).identity
        build_tiny_embedder(model, hidden=48, seed=7)  # same name, new weights
        after = open_encoder(index.embedding).identity
        assert after != before and after.startswith("model@sha256:")
        assert index.refresh().embedded == shas
        assert stored_models(index) == {after}


def test_query_and_vectors_always_come_from_one_model(tmp_path: Path, tiny_a: Path, tiny_b: Path) -> None:
    repo = small_repo(tmp_path / "repo")
    with RepoIndex(repo, embedding=EmbeddingConfig(str(tiny_a))) as index:
        index.refresh()
        searcher = retriever_for(index)
        assert searcher.matrix is not None and searcher.matrix.shape[1] == 48
        assert searcher.rank_dense("polygon area", 3)
    # Another model configured, not yet embedded: the old vectors are not used, dense ranking is off.
    with RepoIndex(repo, embedding=EmbeddingConfig(str(tiny_b))) as index:
        index.refresh(embed=False)
        assert load_vectors(index) == {}
        assert retriever_for(index).matrix is None and retriever_for(index).rank_dense("area", 3) == []
        index.refresh()  # embedding bumps the generation: the cached searcher is rebuilt on the new vectors
        searcher = retriever_for(index)
        assert searcher.matrix is not None and searcher.matrix.shape[1] == 32
        query = open_encoder(index.embedding).encode_query("polygon area")
        expected = [int(i) for i in np.argsort(-(searcher.matrix @ query))[:3]]
        assert [i for i, _ in searcher.rank_dense("polygon area", 3)] == expected  # rankers return (index, score)


def test_pooling_modes_and_query_prompts(tmp_path: Path) -> None:
    texts = ["def polygon_area(points): pass", "class Stack: pass"]
    vectors = {}
    for pooling in ("mean", "cls", "max", "lasttoken"):
        model = build_tiny_embedder(tmp_path / pooling, hidden=48, pooling=pooling, seed=0)
        encoder = open_encoder(EmbeddingConfig(str(model)))
        vectors[pooling] = encoder.encode(texts)
        assert vectors[pooling].shape == (2, 48)
        assert np.allclose(np.linalg.norm(vectors[pooling], axis=1), 1.0, atol=1e-5)
    assert not np.allclose(vectors["mean"], vectors["cls"]) and not np.allclose(vectors["mean"], vectors["max"])
    model = tmp_path / "mean"
    plain = open_encoder(EmbeddingConfig(str(model))).encode_query("polygon area")
    (model / "config_sentence_transformers.json").write_text(json.dumps({"prompts": {"query": "query: "}}))
    prompted = open_encoder(EmbeddingConfig(str(model)))  # a changed config is a new model
    assert prompted.query_prompt == "query: " and not np.allclose(prompted.encode_query("polygon area"), plain)


def test_weights_hash_is_remembered(tmp_path: Path, tiny_a: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from codemm.repo import embed_local

    first = embed_local.content_hash(tiny_a)
    monkeypatch.setattr(embed_local.hashlib, "sha256", lambda: pytest.fail("hashed again"))
    assert embed_local.content_hash(tiny_a) == first


def test_bad_local_models_are_one_line(tmp_path: Path, tiny_a: Path) -> None:
    repo = small_repo(tmp_path / "repo")
    pickle_only = tmp_path / "pickle-only"
    pickle_only.mkdir()
    shutil.copy(tiny_a / "config.json", pickle_only / "config.json")
    (pickle_only / "pytorch_model.bin").write_bytes(b"\x80\x04not really")
    no_weights = tmp_path / "no-weights"
    no_weights.mkdir()
    shutil.copy(tiny_a / "config.json", no_weights / "config.json")
    dense = shutil.copytree(tiny_a, tmp_path / "with-dense")
    modules = json.loads((dense / "modules.json").read_text())
    modules.insert(2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    (dense / "modules.json").write_text(json.dumps(modules))
    remote = shutil.copytree(tiny_a, tmp_path / "remote-code")
    config = json.loads((remote / "config.json").read_text())
    (remote / "config.json").write_text(json.dumps({**config, "auto_map": {"AutoModel": "x.Model"}}))
    cases = {
        str(tmp_path / "missing"): "neither the built-in",
        str(pickle_only): "only pickle weights (pytorch_model.bin)",
        str(no_weights): "has no weights (model.safetensors)",
        str(dense): "Dense module",
        str(remote): "needs its own code",
        str(tiny_a / "config.json"): "is a file",
        "openai:": "names no model",
    }
    for spec, needle in cases.items():
        with pytest.raises(CodemmError, match=re.escape(needle)) as caught, RepoIndex(repo) as index:
            index.embedding = EmbeddingConfig(spec)
            index.refresh()
        assert "\n" not in str(caught.value)
    for spec, needle in list(cases.items())[:2]:
        assert_one_line_error(codemm("index", str(repo), "--embedding-model", spec), 2, needle)


def test_unknown_openai_server_is_one_line(tmp_path: Path) -> None:
    repo = small_repo(tmp_path / "repo")
    proc = codemm("index", str(repo), "--embedding-model", "openai:nomic-embed-code",
                  env={"CODEMM_EMBEDDING_API_BASE": "http://127.0.0.1:9/v1"})  # fmt: skip
    assert_one_line_error(proc, 1, "cannot reach an embedding server at http://127.0.0.1:9/v1")
    # Nothing is needed from the server to parse or to skip embedding.
    skipped = codemm("index", str(repo), "--embedding-model", "openai:nomic-embed-code", "--no-embed", "--json",
                     env={"CODEMM_EMBEDDING_API_BASE": "http://127.0.0.1:9/v1"})  # fmt: skip
    assert skipped.returncode == 0, skipped.stderr
    assert json.loads(skipped.stdout)["embedding"] == {
        "name": "nomic-embed-code", "kind": "openai", "identity": "openai:nomic-embed-code@http://127.0.0.1:9/v1",
        "dimension": None, "vectors": 0}  # fmt: skip


def test_a_changed_dimension_under_one_identity_is_one_line(tmp_path: Path, tiny_a: Path) -> None:
    repo = small_repo(tmp_path / "repo")
    with RepoIndex(repo, embedding=EmbeddingConfig(str(tiny_a))) as index:
        index.refresh()
        identity = open_encoder(index.embedding).identity
        with index.db:  # as if the model behind this identity had returned 16-dim vectors before
            index.db.execute("UPDATE embeddings SET vector = ? WHERE model = ?",
                             (np.zeros(16, dtype=np.float32).tobytes(), identity))  # fmt: skip
        (repo / "pkg" / "extra.py").write_text("def volume(box):\n    return 1\n")
        with pytest.raises(CodemmError, match="now returns 48-dim vectors but the index holds 16-dim ones"):
            index.refresh()
        (repo / "pkg" / "extra.py").unlink()
        index.refresh(embed=False)  # every chunk has a (16-dim) vector again: the query's 48 cannot meet them
        with pytest.raises(CodemmError, match="now returns 48-dim vectors"):
            Retriever(index).rank_dense("volume", 3)


def test_embedding_settings_come_from_every_layer(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "codemm.toml").write_text('embedding_model = "openai:code-embed"\napi_base = "http://h:1/v1"\n')
    settings = load_settings(cwd=tmp_path, environ={"CODEMM_EMBEDDING_API_KEY_ENV": "EMB_KEY"})
    config = EmbeddingConfig.from_settings(settings)
    assert config == EmbeddingConfig("openai:code-embed", "http://h:1/v1", "EMB_KEY", settings.timeout)
    assert config.kind == "openai" and settings.sources["embedding_model"].endswith("codemm.toml")
    own = load_settings({"embedding_api_base": "http://e:2/v1"}, cwd=tmp_path, environ={})
    assert EmbeddingConfig.from_settings(own).api_base == "http://e:2/v1"
    assert EmbeddingConfig.from_settings(load_settings(environ={})).kind == "builtin"


def test_ask_indexes_with_the_configured_model(tmp_path: Path, tiny_a: Path, tiny_llama_dir: Path) -> None:
    repo = small_repo(tmp_path / "repo")
    proc = codemm("ask", "where is the polygon area computed?", "--repo", str(repo), "--model", str(tiny_llama_dir),
                  "--embedding-model", str(tiny_a), "--max-new-tokens", "4", "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    with RepoIndex(repo, embedding=EmbeddingConfig(str(tiny_a))) as index:
        assert stored_models(index) == {open_encoder(index.embedding).identity}
        assert embedding_report(index)["vectors"] > 0
