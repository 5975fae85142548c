from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def smol_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache dir shared by the end-to-end tests, so SmolLM2 is converted once per session."""
    return tmp_path_factory.mktemp("smol-cache")


@pytest.fixture
def smol_env(smol_cache: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("CODEMM_CACHE_DIR", str(smol_cache))
    return {**os.environ, "CODEMM_CACHE_DIR": str(smol_cache)}
