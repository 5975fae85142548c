"""LoRA export to llama.cpp's GGUF: names, shapes, alpha and values read back with gguf-py, the q/k
row permutation checked against transformers' own GGUF loader, refusals, and (marked ``llamacpp``)
the same greedy tokens under transformers+peft and under llama.cpp with the exported file."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from codemm.adapters.export import export_gguf
from codemm.adapters.store import AdapterCard, adapter_dir, base_identity, write_card
from codemm.errors import BadInputError

ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def store_adapter(name: str, model: Any, base_spec: str, resolved: Any, seed: int = 0, **lora: Any) -> Any:
    """Wraps ``model`` in a peft LoRA with random, non-zero A and B (a fresh LoRA has B = 0, which
    would hide any layout error) and saves it the way `adapters train` does: peft folder + card."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    peft_model = get_peft_model(model, LoraConfig(init_lora_weights=False, **lora))
    path = adapter_dir(name)
    peft_model.save_pretrained(path)
    card = AdapterCard(
        name=name, base_model=resolved.name, base_spec=base_spec, base_id=base_identity(resolved),
        dataset_sha256="", recipe={}, metrics={}, created=datetime.now(UTC).isoformat(timespec="seconds"),
    )  # fmt: skip
    write_card(path, card)
    return peft_model.eval()


def store_on_checkpoint(name: str, checkpoint: Path, **lora: Any) -> Any:
    from transformers import AutoModelForCausalLM

    from codemm.models.resolve import resolve

    model = AutoModelForCausalLM.from_pretrained(checkpoint)
    return store_adapter(name, model, str(checkpoint), resolve(str(checkpoint)), **lora)


def peft_tensors(name: str) -> dict[str, np.ndarray]:
    from safetensors.torch import load_file

    return {k: v.numpy() for k, v in load_file(str(adapter_dir(name) / "adapter_model.safetensors")).items()}


def read_gguf(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    import gguf

    reader = gguf.GGUFReader(str(path))
    fields = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    return fields, {t.name: np.array(t.data) for t in reader.tensors}


def test_llama_export_names_shapes_alpha_and_values(tiny_llama_dir: Path) -> None:
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    store_on_checkpoint("tiny", tiny_llama_dir, r=4, lora_alpha=8, target_modules=ALL_LINEAR)
    out = export_gguf("tiny")
    assert out == adapter_dir("tiny") / "adapter.gguf"
    fields, tensors = read_gguf(out)
    # What llama.cpp's loader checks: arch equal to the base's, general.type, adapter.type, alpha.
    assert fields["general.architecture"] == "llama"
    assert fields["general.type"] == "adapter"
    assert fields["adapter.type"] == "lora"
    assert fields["adapter.lora.alpha"] == pytest.approx(8.0)

    gguf_names = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
                  "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}  # fmt: skip
    assert set(tensors) == {
        f"blk.{layer}.{gguf_names[m]}.weight.lora_{ab}" for layer in (0, 1) for m in ALL_LINEAR for ab in "ab"
    }
    peft = peft_tensors("tiny")
    # The tiny llama: hidden 64, 4 query heads and 2 kv heads of 16, so q is (64, 64), k is (32, 64).
    processor = LlamaTensorProcessor(config={"num_attention_heads": 4, "num_key_value_heads": 2})
    for layer in (0, 1):
        for module in ALL_LINEAR:
            part = "self_attn" if module.endswith(("q_proj", "k_proj", "v_proj", "o_proj")) else "mlp"
            prefix = f"base_model.model.model.layers.{layer}.{part}.{module}"
            a, b = peft[f"{prefix}.lora_A.weight"], peft[f"{prefix}.lora_B.weight"]
            gguf_a = tensors[f"blk.{layer}.{gguf_names[module]}.weight.lora_a"]
            gguf_b = tensors[f"blk.{layer}.{gguf_names[module]}.weight.lora_b"]
            # Layout as peft stores it: lora_a (r, in), lora_b (out, r); GGUF's ne is the reverse.
            assert gguf_a.shape == a.shape and gguf_b.shape == b.shape and gguf_a.dtype == np.float32
            np.testing.assert_array_equal(gguf_a, a)  # A's columns are inputs: never permuted
            if module in ("q_proj", "k_proj"):
                # llama.cpp's q/k rows are permuted for its RoPE; transformers undoes it when it
                # dequantizes a llama GGUF. Undoing it the same way on the exported B must give
                # peft's B back, or llama.cpp would add a scrambled delta.
                assert not np.array_equal(gguf_b, b)
                undone = processor.process(gguf_b, f"blk.{layer}.{gguf_names[module]}.weight").weights
                np.testing.assert_array_equal(undone, b)
            else:
                np.testing.assert_array_equal(gguf_b, b)


def test_second_export_reuses_the_file_and_a_changed_adapter_rewrites_it(tiny_llama_dir: Path, tmp_path: Path) -> None:
    store_on_checkpoint("keyed", tiny_llama_dir, r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    out = export_gguf("keyed", tmp_path / "keyed.gguf")
    first = out.stat().st_mtime_ns
    assert export_gguf("keyed", tmp_path / "keyed.gguf") == out
    assert out.stat().st_mtime_ns == first  # unchanged adapter: nothing rewritten
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temporary file

    store_on_checkpoint("keyed", tiny_llama_dir, seed=1, r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    export_gguf("keyed", out)
    _, tensors = read_gguf(out)
    b = peft_tensors("keyed")["base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight"]
    np.testing.assert_array_equal(tensors["blk.0.attn_v.weight.lora_b"], b)  # the retrained weights

    foreign = tmp_path / "model.gguf"
    foreign.write_bytes(b"not ours")
    with pytest.raises(BadInputError, match="is not a codemm LoRA export"):
        export_gguf("keyed", foreign)
    assert foreign.read_bytes() == b"not ours"


def test_qwen2_rows_are_written_unpermuted(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, Qwen2Config

    from tests.fixtures.tiny_models import build_tokenizer

    # llama.cpp's Qwen2 converter only renames, and transformers' GGUF loader leaves qwen2 q/k alone.
    config = Qwen2Config(vocab_size=320, hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)  # fmt: skip
    AutoModelForCausalLM.from_config(config).save_pretrained(tmp_path / "qwen")
    build_tokenizer().save_pretrained(tmp_path / "qwen")
    store_on_checkpoint("qwen", tmp_path / "qwen", r=2, lora_alpha=4, target_modules=["q_proj", "k_proj"])
    fields, tensors = read_gguf(export_gguf("qwen"))
    assert fields["general.architecture"] == "qwen2"
    peft = peft_tensors("qwen")
    np.testing.assert_array_equal(
        tensors["blk.0.attn_k.weight.lora_b"], peft["base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight"]
    )


@pytest.mark.parametrize(
    ("lora", "message"),
    [
        (dict(use_dora=True), "DoRA"),
        (dict(use_rslora=True), "rsLoRA"),
        (dict(modules_to_save=["lm_head"]), "modules_to_save"),
        (dict(target_modules=["q_proj", "embed_tokens"]), "a LoRA on an embedding"),
        # SmolLM2 and the tiny llama tie lm_head to the embeddings: llama.cpp has no output.weight.
        (dict(target_modules=["q_proj", "lm_head"]), "the base ties lm_head to the embeddings"),
    ],
)
def test_unsupported_adapters_are_refused_in_one_line(tiny_llama_dir: Path, lora: dict[str, Any], message: str) -> None:
    store_on_checkpoint("odd", tiny_llama_dir, **{"r": 4, "lora_alpha": 8, "target_modules": ["q_proj"], **lora})
    with pytest.raises(BadInputError, match=message) as err:
        export_gguf("odd")
    assert "\n" not in str(err.value) and "cannot be exported to GGUF" in str(err.value)
    assert not (adapter_dir("odd") / "adapter.gguf").exists()


def test_a_module_llama_cpp_has_no_tensor_for_is_named(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from codemm.adapters.export import BaseModelInfo, lora_tensors

    # No stock llama layer has such a module; a custom model (or a fused projection) could.
    pairs = {f"base_model.model.model.layers.0.{m}.lora_{p}.weight": torch.ones(2, 2)
             for m in ("self_attn.q_proj", "mlp.router_proj") for p in "AB"}  # fmt: skip
    save_file(pairs, tmp_path / "adapter_model.safetensors")
    base = BaseModelInfo(
        "llama", n_head=1, n_head_kv=1, n_blocks=1, shapes={"blk.0.attn_q.weight": (2, 2)}, gguf_names=True
    )
    with pytest.raises(BadInputError, match="llama.cpp's llama has no tensor for target module.s. router_proj$"):
        lora_tensors("custom", tmp_path / "adapter_model.safetensors", {"lora_alpha": 2}, base)


def test_unknown_adapter_and_unsupported_architecture(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, GPT2Config

    from tests.fixtures.tiny_models import build_tokenizer

    with pytest.raises(BadInputError, match="no adapter named 'nope'"):
        export_gguf("nope")
    config = GPT2Config(vocab_size=320, n_embd=32, n_layer=1, n_head=2, n_positions=64)
    AutoModelForCausalLM.from_config(config).save_pretrained(tmp_path / "gpt2")
    build_tokenizer().save_pretrained(tmp_path / "gpt2")
    store_on_checkpoint("gpt", tmp_path / "gpt2", r=2, lora_alpha=4, target_modules=["c_attn"])
    with pytest.raises(BadInputError, match="is a 'gpt2' model; GGUF export supports llama, qwen2, qwen3"):
        export_gguf("gpt")


def test_cli_prints_the_path_and_validates_the_format(tiny_llama_dir: Path, tmp_path: Path) -> None:
    store_on_checkpoint("cli", tiny_llama_dir, r=4, lora_alpha=8, target_modules=["q_proj"])

    def codemm(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "codemm.cli", "adapters", "export", *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ), timeout=300)

    done = codemm("cli", "--format", "gguf", "--out", str(tmp_path / "cli.gguf"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "cli.gguf") and (tmp_path / "cli.gguf").is_file()
    wrong = codemm("cli", "--format", "onnx")
    assert wrong.returncode == 2 and wrong.stderr.strip() == "codemm: error: unknown export format 'onnx' (use gguf)"


# --- the real engine ------------------------------------------------------------------------------

# Chosen by measuring SmolLM2 with this seed-1 adapter: its greedy tokens already differ from the
# bare model's at the first new token, and every one of the 8 wins by at least 0.73 logits, above
# the engines' own disagreement (llama.cpp quantizes activations to 8 bits for its Q4_1 matmuls;
# teacher-forced logits differ by 0.19 on average, 1.1 at most).
PROMPT = "Hello! How are you"
N_TOKENS = 8


def llama_cpp_run(model_path: Path, lora_path: Path | None, ids: list[int], forced: list[int]) -> tuple[list[int], Any]:
    """Greedy tokens after ``ids``, and the logits at every position of ``forced`` (teacher-forced)."""
    import itertools

    import llama_cpp

    kwargs = {"lora_path": str(lora_path)} if lora_path else {}
    llm = llama_cpp.Llama(
        model_path=str(model_path), n_ctx=512, n_threads=2, seed=0, verbose=False, logits_all=True, **kwargs
    )
    try:
        greedy = list(itertools.islice(llm.generate(ids, temp=0.0, reset=True), N_TOKENS))
        llm.reset()
        llm.eval(forced)
        return greedy, np.array(llm.scores[: len(forced)])
    finally:
        llm.close()


def agreeing(a: list[int], b: list[int]) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y), len(a))


# Marked, not branched inside the test (DESIGN.md); find_spec, not import, so collecting never loads it.
requires_llama_cpp = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed"
)


@pytest.mark.llamacpp
@requires_llama_cpp
def test_llama_cpp_with_the_export_follows_transformers_with_peft(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import codemm.adapters.export as export
    from codemm.models.load import load
    from codemm.models.registry import DEFAULT_MODEL, REGISTRY

    gguf_path = REGISTRY[DEFAULT_MODEL].locate()
    loaded = load(DEFAULT_MODEL, quant="none", device="cpu", dtype="float32")
    ids = loaded.tokenizer(PROMPT)["input_ids"]
    # Every linear module, q_proj and k_proj included: their rows are the ones llama.cpp permutes.
    peft_model = store_adapter("smol", loaded.model, DEFAULT_MODEL, loaded.resolved, seed=1, r=8, lora_alpha=16,
                               target_modules=ALL_LINEAR)  # fmt: skip
    with torch.no_grad():
        generated = peft_model.generate(torch.tensor([ids]), max_new_tokens=N_TOKENS, do_sample=False)
        expected = generated[0, len(ids) :].tolist()
        forced = ids + expected
        expected_logits = peft_model(torch.tensor([forced])).logits[0].numpy()

    with_adapter, logits = llama_cpp_run(gguf_path, export_gguf("smol"), ids, forced)
    without, _ = llama_cpp_run(gguf_path, None, ids, forced)
    # The same adapter with q/k rows left in Hugging Face order: what a converter that forgot the
    # permutation would write. It must be measurably wrong, or this test could not see that bug.
    monkeypatch.setattr(export, "llama_permute", lambda rows, n_head: rows)
    unpermuted, unpermuted_logits = llama_cpp_run(
        gguf_path, export_gguf("smol", tmp_path / "unpermuted.gguf"), ids, forced
    )

    assert agreeing(with_adapter, expected) == N_TOKENS, (with_adapter, expected)
    assert agreeing(without, expected) == 0  # without the adapter llama.cpp differs from the first token
    # Mean |logit difference| over the 13 positions, measured: 0.19 with the export, 1.54 with
    # unpermuted q/k (whose greedy tokens agree for 7 of 8: tokens alone would barely see the bug),
    # 4.8 without the adapter.
    assert np.abs(logits - expected_logits).mean() < 0.5
    assert np.abs(unpermuted_logits - expected_logits).mean() > 1.0, agreeing(unpermuted, expected)
