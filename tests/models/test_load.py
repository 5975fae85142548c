from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from codemm.errors import BadInputError, ModelFormatError
from codemm.models.generate import stream_chat
from codemm.models.load import load
from codemm.models.stream import GenerationSettings


def test_load_reports_what_it_loaded(tiny_llama_dir: Path) -> None:
    loaded = load(str(tiny_llama_dir), device="cpu")
    params = sum(p.numel() for p in loaded.model.parameters())
    assert loaded.parameters == params
    assert loaded.device == "cpu" and loaded.dtype == "float32" and loaded.quant == "none"
    assert loaded.context_window == 512
    assert params * 4 <= loaded.footprint_bytes < params * 4 + 4096  # weights plus small buffers (rotary)
    assert loaded.resolved.kind == "checkpoint"


@pytest.mark.parametrize("quant", ["4bit", "8bit"])
def test_quantized_loads_generate_and_count_logical_parameters(tiny_llama_dir: Path, quant: str) -> None:
    import bitsandbytes as bnb

    plain = load(str(tiny_llama_dir), device="cpu")
    loaded = load(str(tiny_llama_dir), quant=quant, device="cpu")
    layer_type = bnb.nn.Linear4bit if quant == "4bit" else bnb.nn.Linear8bitLt
    assert any(isinstance(m, layer_type) for m in loaded.model.modules())
    assert loaded.parameters == plain.parameters
    assert loaded.footprint_bytes < plain.footprint_bytes
    stream = stream_chat(loaded, [{"role": "user", "content": "hi"}], GenerationSettings(max_new_tokens=4))
    stream.text()
    assert stream.stats.new_tokens >= 1


def test_pickled_weights_are_refused(tiny_llama_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "pickled"
    shutil.copytree(tiny_llama_dir, copy)
    (copy / "model.safetensors").rename(copy / "pytorch_model.bin")
    with pytest.raises(ModelFormatError, match="loads safetensors only"):
        load(str(copy))


def test_dir_without_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match="has no config.json"):
        load(str(tmp_path))


def test_cuda_on_a_cpu_machine_is_a_clear_error(tiny_llama_dir: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(BadInputError, match="sees no CUDA device"):
        load(str(tiny_llama_dir), device="cuda")
