from __future__ import annotations

from pathlib import Path

import pytest

from codemm.config import Settings
from tests.fixtures.tiny_models import build_tiny_llama


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own config and data dirs, so the user's files never leak into results."""
    root = tmp_path_factory.mktemp("codemm-home")
    monkeypatch.setenv("CODEMM_CONFIG_DIR", str(root / "config"))
    monkeypatch.setenv("CODEMM_DATA_DIR", str(root / "data"))
    monkeypatch.setenv("CODEMM_CACHE_DIR", str(root / "cache"))
    for name in Settings().as_dict():
        monkeypatch.delenv(f"CODEMM_{name.upper()}", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return root


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_llama_long_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with a 4096-token window: room for repository context."""
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama-long"), window=4096)
