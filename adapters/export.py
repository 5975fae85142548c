"""Exports a stored peft LoRA adapter as a llama.cpp LoRA GGUF (``llama-server --lora FILE``).

Follows llama.cpp's own ``convert_lora_to_gguf.py``: each LoRA pair becomes ``<base tensor>.lora_a``
(peft's lora_A, (r, in)) and ``<base tensor>.lora_b`` (peft's lora_B, (out, r)), unchanged in
layout, named by gguf-py's tensor map; the metadata says ``general.type = adapter``,
``adapter.type = lora`` and ``adapter.lora.alpha``. llama.cpp scales each pair by alpha / r with r
read from the tensor, exactly peft's plain LoRA scaling.

The one change to values: llama.cpp's converter permutes the rows of q_proj and k_proj for llama
models (its RoPE pairs adjacent dimensions, Hugging Face's pairs the two halves of a head), and
transformers undoes that permutation when it dequantizes a llama GGUF. An adapter trained on
codemm's checkpoint (or on any Hugging Face llama checkpoint) therefore has q/k B rows in Hugging
Face order, and they must get the same permutation as the base weights, or llama.cpp applies a
silently scrambled delta. Architectures whose converter touches no weights (qwen2, qwen3) are
written as they are; any other architecture is refused rather than guessed.

Everything llama.cpp cannot apply as the adapter means (DoRA, rsLoRA, modules_to_save, a module
with no llama.cpp tensor, a tied lm_head) is refused with one line naming it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codemm.adapters.store import AdapterCard, adapter_dir, read_card
from codemm.errors import BadInputError, CodemmError, ModelFormatError, ModelNotFoundError, error_from_oserror

EXPORT_VERSION = 1
"""Part of the export key: bump it when what is written changes, so older exports are rewritten."""
KEY_FIELD = "codemm.export.key"
DEFAULT_NAME = "adapter.gguf"

# llama.cpp architecture -> whether its converter permutes q/k rows (convert_hf_to_gguf.py:
# LlamaModel.undo_permute = True; Qwen2Model and Qwen3Model only rename). Only architectures whose
# converter we have read are listed: a wrong guess would load fine and answer wrongly.
PERMUTES_QK: dict[str, bool] = {"llama": True, "qwen2": False, "qwen3": False}
# Hugging Face config.json model_type -> the llama.cpp architecture its converter writes.
MODEL_TYPES = {"llama": "llama", "mistral": "llama", "qwen2": "qwen2", "qwen3": "qwen3"}

_LORA_KEY = re.compile(r"base_model\.model\.(?P<module>.+)\.lora_(?P<part>[AB])\.weight")


@dataclass(frozen=True)
class BaseModelInfo:
    """What the export needs to know of the base: read from the GGUF header or config.json."""

    architecture: str
    """llama.cpp's name: the adapter's general.architecture must equal the base GGUF's."""
    n_head: int
    n_head_kv: int
    n_blocks: int
    shapes: dict[str, tuple[int, int]]
    """(out, in) of every base weight, keyed by Hugging Face name (checkpoint) or GGUF name."""
    gguf_names: bool
    """True when ``shapes`` is keyed by GGUF tensor names (the base is a GGUF)."""


def export_gguf(name: str, out: Path | None = None) -> Path:
    """Writes adapter ``name`` as a llama.cpp LoRA GGUF at ``out`` (default: adapter.gguf in the
    adapter's folder) and returns the path. A second export of an unchanged adapter reuses the file."""
    card = read_card(name)
    src = adapter_dir(name)
    out = _output_path(src, out)
    config = _read_adapter_config(name, src)
    weights = src / "adapter_model.safetensors"
    if not weights.is_file():
        raise BadInputError(f"adapter '{name}' has no adapter_model.safetensors in {src} (only safetensors are read)")
    key = export_key(card, src)
    if _existing_key(out) == key:
        return out  # same adapter files, same base, same exporter: the file on disk is this export
    base = base_model_info(card)  # first: an unsupported base is the more basic refusal
    check_lora_config(name, config)
    tensors = lora_tensors(name, weights, config, base)
    _write_gguf(out, name, base.architecture, float(config["lora_alpha"]), tensors, key)
    return out


def _output_path(src: Path, out: Path | None) -> Path:
    if out is None:
        return src / DEFAULT_NAME
    out = out.expanduser()
    if out.is_dir():
        raise BadInputError(f"--out {out} is a folder; give a file name such as {out / DEFAULT_NAME}")
    if not out.parent.is_dir():
        raise BadInputError(f"--out {out}: the folder {out.parent} does not exist")
    if out.exists() and _existing_key(out) is None:
        # Never overwrite what codemm did not write: --out could point at the base model's GGUF.
        raise BadInputError(f"{out} exists and is not a codemm LoRA export; remove it or choose another --out")
    return out


def _read_adapter_config(name: str, src: Path) -> dict[str, Any]:
    try:
        config = json.loads((src / "adapter_config.json").read_text())
    except (OSError, ValueError) as exc:
        raise CodemmError(f"adapter '{name}': cannot read {src / 'adapter_config.json'} ({exc})") from None
    if not isinstance(config, dict):
        raise CodemmError(f"adapter '{name}': {src / 'adapter_config.json'} is not a JSON object")
    return config


def check_lora_config(name: str, config: dict[str, Any]) -> None:
    """Refuses peft options that llama.cpp's plain ``alpha / r * B @ A`` cannot reproduce."""
    from dataclasses import fields

    from peft import LoraConfig

    problems = []
    peft_type = str(config.get("peft_type", "")).upper()
    if peft_type != "LORA":
        problems.append(f"a {peft_type or 'non-LoRA'} adapter (only LoRA)")
    if config.get("use_dora"):
        problems.append("DoRA (use_dora: a learned magnitude vector per weight)")
    # peft marks each LoRA variant that changes the forward pass; a newer peft's variants are refused too.
    variants = [f.name for f in fields(LoraConfig) if f.metadata.get("is_lora_variant") and f.name != "use_dora"]
    problems += [f"the LoRA variant {key}" for key in variants if config.get(key)]
    if config.get("use_qalora"):
        problems.append("QALoRA (use_qalora: pooled inputs)")
    if config.get("layer_replication"):
        problems.append("layer_replication (layers the base model does not have)")
    if config.get("use_rslora"):
        problems.append("rsLoRA (use_rslora: peft scales by alpha/sqrt(r), llama.cpp by alpha/r)")
    if config.get("modules_to_save"):
        problems.append(f"modules_to_save {config['modules_to_save']} (whole trained copies of modules)")
    if config.get("trainable_token_indices"):
        problems.append("trainable_token_indices (trained embedding rows)")
    if config.get("target_parameters"):
        problems.append(f"target_parameters {config['target_parameters']} (LoRA on raw parameters)")
    if config.get("lora_bias"):
        problems.append("lora_bias (a bias on lora_B)")
    if config.get("fan_in_fan_out"):
        problems.append("fan_in_fan_out (Conv1D-style weights)")
    init = config.get("init_lora_weights")
    if isinstance(init, str) and init.split("_")[0].lower() in ("pissa", "olora", "corda", "loftq"):
        problems.append(f"init_lora_weights={init} (it rewrote the base weights the adapter pairs with)")
    alpha = config.get("lora_alpha")
    if not isinstance(alpha, int | float) or alpha <= 0:
        # llama.cpp reads alpha 0 as "scale 1", not as peft's "scale 0".
        problems.append(f"lora_alpha={alpha} (needs a positive number)")
    odd_alphas = {k: v for k, v in (config.get("alpha_pattern") or {}).items() if v != alpha}
    if odd_alphas:
        problems.append(f"alpha_pattern {odd_alphas} (llama.cpp has one alpha per adapter)")
    if problems:
        unsupported = "; ".join(problems)
        raise BadInputError(f"adapter '{name}' cannot be exported to GGUF: llama.cpp does not support {unsupported}")


def export_key(card: AdapterCard, src: Path) -> str:
    """sha256 of what the export depends on: the adapter's files, its base and this exporter."""
    digest = hashlib.sha256(f"codemm-lora-gguf:{EXPORT_VERSION}:{card.base_id}\n".encode())
    for file in ("adapter_config.json", "adapter_model.safetensors"):
        with (src / file).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _existing_key(path: Path) -> str | None:
    """The export key stored in a GGUF codemm wrote, or None for anything else (or nothing)."""
    if not path.is_file():
        return None
    import gguf

    try:
        field = gguf.GGUFReader(str(path)).fields.get(KEY_FIELD)
        return str(field.contents()) if field is not None else None
    except (OSError, ValueError, IndexError, KeyError):
        return None


def base_model_info(card: AdapterCard) -> BaseModelInfo:
    """Reads the base's architecture, head counts and weight shapes without loading or converting it:
    the GGUF header for a registry model or .gguf file, else config.json and safetensors headers."""
    from codemm.models.registry import REGISTRY

    spec = card.base_spec or card.base_model
    if spec in REGISTRY:
        return _gguf_info(card, REGISTRY[spec].locate())
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise ModelNotFoundError(f"adapter '{card.name}': its base model file {path} does not exist")
        return _gguf_info(card, path)
    from codemm.models.resolve import resolve  # a checkpoint dir or hub-cache id: nothing to convert

    return _checkpoint_info(card, resolve(spec).checkpoint)


def _refuse_architecture(card: AdapterCard, architecture: str) -> BadInputError:
    supported = ", ".join(PERMUTES_QK)
    return BadInputError(
        f"adapter '{card.name}': its base {card.base_model} is a '{architecture}' model; "
        f"GGUF export supports {supported} (and mistral checkpoints, which llama.cpp runs as llama)"
    )


def _gguf_info(card: AdapterCard, path: Path) -> BaseModelInfo:
    import gguf

    from codemm.models.gguf import file_sha256

    if file_sha256(path) != card.base_id:
        raise BadInputError(
            f"adapter '{card.name}' was trained on another {card.base_model} than {path}; "
            "export it on the machine with the GGUF it was trained on"
        )
    try:
        reader = gguf.GGUFReader(str(path))

        def field(key: str, default: Any = None) -> Any:
            found = reader.fields.get(key)
            return default if found is None else found.contents()

        architecture = str(field("general.architecture"))
        if architecture not in PERMUTES_QK:
            raise _refuse_architecture(card, architecture)
        n_head = field(f"{architecture}.attention.head_count")
        n_head_kv = field(f"{architecture}.attention.head_count_kv", n_head)
        n_blocks = field(f"{architecture}.block_count")
        # GGUF lists dimensions innermost first: (in, out) for a weight matrix.
        shapes = {t.name: (int(t.shape[1]), int(t.shape[0])) for t in reader.tensors if len(t.shape) == 2}
    except (OSError, ValueError, IndexError) as exc:
        raise ModelFormatError(f"cannot read the base GGUF {path} ({exc})") from None
    if not all(isinstance(v, int) for v in (n_head, n_head_kv, n_blocks)):
        raise ModelFormatError(f"{path}: head_count, head_count_kv or block_count is missing or per-layer")
    return BaseModelInfo(architecture, n_head, n_head_kv, n_blocks, shapes, gguf_names=True)


def _checkpoint_info(card: AdapterCard, checkpoint: Path) -> BaseModelInfo:
    from types import SimpleNamespace

    from safetensors import safe_open

    from codemm.adapters.store import base_identity

    if base_identity(SimpleNamespace(sha256=None, checkpoint=checkpoint)) != card.base_id:
        raise BadInputError(f"adapter '{card.name}' was trained on another checkpoint than {checkpoint}")
    try:
        config = json.loads((checkpoint / "config.json").read_text())
        shapes: dict[str, tuple[int, int]] = {}
        for weights in sorted(checkpoint.glob("*.safetensors")):
            with safe_open(str(weights), framework="numpy") as handle:  # headers only, no tensor data
                for key in handle.keys():  # noqa: SIM118 (safe_open is not a mapping)
                    shape = handle.get_slice(key).get_shape()
                    if len(shape) == 2:
                        shapes[key] = (int(shape[0]), int(shape[1]))
    except (OSError, ValueError) as exc:
        raise ModelFormatError(f"cannot read the base checkpoint {checkpoint} ({exc})") from None
    model_type = str(config.get("model_type", "?"))
    if model_type not in MODEL_TYPES:
        raise _refuse_architecture(card, model_type)
    n_head = int(config["num_attention_heads"])
    return BaseModelInfo(
        architecture=MODEL_TYPES[model_type],
        n_head=n_head,
        n_head_kv=int(config.get("num_key_value_heads") or n_head),
        n_blocks=int(config["num_hidden_layers"]),
        shapes=shapes,
        gguf_names=False,
    )


def llama_permute(rows: Any, n_head: int) -> Any:
    """llama.cpp's ``LlamaModel.permute`` on the output rows of a q or k projection: per head, the
    two halves (Hugging Face's rotate_half pairing) become interleaved pairs (llama.cpp's RoPE).
    transformers' GGUF loader applies the inverse (``_reverse_permute_weights``)."""
    return rows.reshape(n_head, 2, rows.shape[0] // n_head // 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def lora_tensors(name: str, weights: Path, config: dict[str, Any], base: BaseModelInfo) -> dict[str, Any]:
    """GGUF tensor name -> float32 array, ``<base>.lora_a`` (r, in) and ``<base>.lora_b`` (out, r),
    in layer order. Refuses tensors that are not LoRA pairs and modules llama.cpp cannot map."""
    import gguf
    import numpy as np
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(weights))  # safetensors only: never unpickle an adapter
    except (OSError, SafetensorError) as exc:
        raise CodemmError(f"adapter '{name}': cannot read {weights} ({exc})") from None
    pairs: dict[str, dict[str, Any]] = {}
    for key, tensor in state.items():
        if key.endswith(".base_layer.weight"):
            continue  # a copy of a base weight (peft saves it when embeddings are targeted), as upstream skips
        match = _LORA_KEY.fullmatch(key)
        if match is None:
            raise BadInputError(
                f"adapter '{name}' cannot be exported to GGUF: {key} is not a LoRA A/B weight "
                f"({_what_is(key)}); llama.cpp applies plain LoRA pairs on linear layers only"
            )
        pairs.setdefault(match["module"], {})[match["part"]] = tensor.float().numpy()

    arch = {v: k for k, v in gguf.MODEL_ARCH_NAMES.items()}[base.architecture]
    name_map = gguf.get_tensor_name_map(arch, base.n_blocks)
    out: dict[str, Any] = {}
    unmapped = []
    for module in sorted(pairs, key=_layer_order):
        pair = pairs[module]
        if set(pair) != {"A", "B"}:
            raise CodemmError(f"adapter '{name}': {module} has only lora_{''.join(pair)}; the adapter is damaged")
        a, b = pair["A"], pair["B"]
        gguf_name = name_map.get_name(f"{module}.weight", try_suffixes=(".weight",))
        if gguf_name is None:
            unmapped.append(module.rsplit(".", 1)[-1])
            continue
        expected = base.shapes.get(gguf_name if base.gguf_names else f"{module}.weight")
        if expected is None:
            tied = " (the base ties lm_head to the embeddings)" if module.endswith("lm_head") else ""
            raise BadInputError(
                f"adapter '{name}' cannot be exported to GGUF: the base has no weight for {module}{tied}"
            )
        if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[1] or (b.shape[0], a.shape[1]) != expected:
            raise BadInputError(
                f"adapter '{name}': {module} lora_A {tuple(a.shape)} / lora_B {tuple(b.shape)} do not fit "
                f"the base weight {expected} (out, in); was it trained on another base?"
            )
        if PERMUTES_QK[base.architecture] and module.endswith("q_proj"):
            b = llama_permute(b, base.n_head)
        elif PERMUTES_QK[base.architecture] and module.endswith("k_proj"):
            b = llama_permute(b, base.n_head_kv)
        out[f"{gguf_name}.lora_a"] = np.ascontiguousarray(a, dtype=np.float32)
        out[f"{gguf_name}.lora_b"] = np.ascontiguousarray(b, dtype=np.float32)
    if unmapped:
        modules = ", ".join(sorted(set(unmapped)))
        raise BadInputError(
            f"adapter '{name}' cannot be exported to GGUF: llama.cpp's {base.architecture} has no tensor "
            f"for target module(s) {modules}"
        )
    if not out:
        raise BadInputError(f"adapter '{name}' holds no LoRA weights to export")
    return out


def _what_is(key: str) -> str:
    if "lora_magnitude_vector" in key:
        return "a DoRA magnitude"
    if "lora_embedding_" in key:
        return "a LoRA on an embedding"
    if "modules_to_save" in key or not key.startswith("base_model.model."):
        return "a fully trained module"
    if key.endswith(".bias"):
        return "a LoRA bias"
    return "unknown to the exporter"


def _layer_order(module: str) -> tuple[int, str]:
    found = re.search(r"\.(\d+)\.", module)
    return (int(found.group(1)) if found else -1, module)


def _write_gguf(out: Path, name: str, architecture: str, alpha: float, tensors: dict[str, Any], key: str) -> None:
    """Writes next to ``out`` and renames: a crash or a full disk leaves the old file or the new one."""
    import gguf

    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        writer = gguf.GGUFWriter(str(tmp), architecture)  # writes general.architecture
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_name(name)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
        writer.add_string(KEY_FIELD, key)
        for tensor_name, array in tensors.items():
            writer.add_tensor(tensor_name, array)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, out)
    except OSError as exc:
        raise error_from_oserror(exc, f"writing {out}") from None
    finally:
        tmp.unlink(missing_ok=True)
