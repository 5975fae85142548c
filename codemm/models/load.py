"""Loads a resolved checkpoint with the asked-for quantization on the asked-for device."""

from __future__ import annotations

import logging
import os
import time
import warnings
from dataclasses import dataclass
from typing import Any

from codemm.errors import BadInputError, CodemmError, ModelFormatError, error_from_oserror
from codemm.models.load_lock import one_load_at_a_time
from codemm.models.resolve import ResolvedModel, resolve


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    resolved: ResolvedModel
    quant: str
    device: str
    dtype: str
    load_s: float
    footprint_bytes: int
    parameters: int
    context_window: int
    processor: Any = None
    """For vision-language models: turns images and text into model inputs."""
    adapter: str | None = None
    """The active LoRA adapter, if any (see codemm.adapters.store.select_adapter)."""

    @property
    def name(self) -> str:
        return self.resolved.name


def quiet_libraries() -> None:
    """Silences messages that say nothing a codemm user can act on."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # bitsandbytes casts fp32 inputs to fp16 for int8 matmuls and says so on every layer call.
    warnings.filterwarnings("ignore", message=r"MatMul8bitLt: inputs will be cast")
    # peft asks transformers a deprecated question when attaching an adapter; nothing for a user to do.
    warnings.filterwarnings("ignore", message=r".*is_gradient_checkpointing. is deprecated")
    # "Failed to load CPU gemm_4bit_forward from kernels-community": the optional fast kernel is
    # absent; bitsandbytes falls back to its own CPU kernel. "Skipping publisher trust check ... in
    # offline mode" (kernels): codemm runs offline by design and never downloads a kernel.
    for name in ("bitsandbytes", "transformers.integrations.bitsandbytes", "accelerate", "kernels"):
        logging.getLogger(name).setLevel(logging.ERROR)


def pick_device(device: str) -> str:
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise BadInputError(f"--device cuda asked for, but torch {torch.__version__} sees no CUDA device")
    if device == "mps" and not torch.backends.mps.is_available():
        raise BadInputError("--device mps asked for, but this machine has no MPS (Apple GPU) backend")
    return device


def pick_dtype(dtype: str, device: str) -> Any:
    import torch

    if dtype != "auto":
        return getattr(torch, dtype)
    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "mps":
        return torch.float16
    # bf16 matmuls are slower than fp32 on most laptop CPUs, and the default model is small.
    return torch.float32


# For vision-language models only the language model is quantized: the tower and projector are small
# and lose accuracy fast. The names are full module names, and they replace bitsandbytes' defaults,
# so lm_head must be listed again.
VLM_SKIP_MODULES = ["model.vision_tower", "model.multi_modal_projector", "lm_head"]


def quantization_config(quant: str, dtype: Any, device: str, vision: bool = False) -> Any:
    from transformers import BitsAndBytesConfig

    if quant == "none":
        return None
    if device == "mps":
        raise BadInputError(f"--quant {quant} needs bitsandbytes, which has no MPS backend; use --device cpu")
    skip = {"llm_int8_skip_modules": VLM_SKIP_MODULES} if vision else {}
    if quant == "4bit":
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
            **skip,
        )
    if quant == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True, **skip)
    raise BadInputError(f"unknown quantization '{quant}' (use none, 8bit or 4bit)")


def device_map(device: str) -> Any:
    import torch

    if device == "cuda":
        # Several GPUs: let accelerate spread the layers; one GPU: put everything on it.
        return "auto" if torch.cuda.device_count() > 1 else {"": 0}
    return {"": device}


@one_load_at_a_time
def load(spec: str | ResolvedModel, quant: str = "none", device: str = "auto", dtype: str = "auto") -> LoadedModel:
    """Resolves and loads a model for generation. Offline, safetensors only, no remote code."""
    quiet_libraries()
    started = time.perf_counter()
    resolved = spec if isinstance(spec, ResolvedModel) else resolve(spec)
    device = pick_device(device)
    torch_dtype = pick_dtype(dtype, device)

    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, Any] = dict(
        local_files_only=True,
        trust_remote_code=False,
        use_safetensors=True,
        dtype=torch_dtype,
        device_map=device_map(device),
    )
    vision = model_path(resolved.checkpoint) != "text"
    qconfig = quantization_config(quant, torch_dtype, device, vision)
    if qconfig is not None:
        kwargs["quantization_config"] = qconfig
    processor = None
    try:
        if vision:
            from transformers import AutoModelForImageTextToText, AutoProcessor

            processor = AutoProcessor.from_pretrained(resolved.checkpoint, local_files_only=True)
            tokenizer = processor.tokenizer
            model = AutoModelForImageTextToText.from_pretrained(resolved.checkpoint, **kwargs)
        else:
            tokenizer = AutoTokenizer.from_pretrained(resolved.checkpoint, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(resolved.checkpoint, **kwargs)
    except OSError as exc:
        raise error_from_oserror(exc, f"loading {resolved.checkpoint}") from None
    except (ValueError, KeyError) as exc:
        raise ModelFormatError(f"cannot load {resolved.origin}: {str(exc).splitlines()[0]}") from None
    except ImportError as exc:
        raise CodemmError(f"loading {resolved.name} with --quant {quant} needs a missing package: {exc}") from None
    model.eval()
    config = model.config.get_text_config()
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        resolved=resolved,
        quant=quant,
        device=device,
        dtype=str(torch_dtype).removeprefix("torch."),
        load_s=time.perf_counter() - started,
        footprint_bytes=int(model.get_memory_footprint()),
        parameters=count_parameters(model),
        context_window=int(getattr(config, "max_position_embeddings", 0) or 2048),
        processor=processor,
    )


def model_path(checkpoint: Any) -> str:
    """text | llava-composed | native-vlm: how codemm feeds images to this checkpoint."""
    import json
    from pathlib import Path

    try:
        config = json.loads((Path(checkpoint) / "config.json").read_text())
    except (OSError, ValueError):
        return "text"
    if "vision_config" not in config:
        return "text"
    if (Path(checkpoint) / "codemm-composed.json").is_file():
        return "llava-composed"
    return "native-vlm"


def count_parameters(model: Any) -> int:
    """Logical parameter count: bitsandbytes packs two 4-bit weights per stored element."""
    import torch

    total = 0
    for param in model.parameters():
        n = param.numel()
        quant_state = getattr(param, "quant_state", None)
        if quant_state is not None and param.dtype == torch.uint8:
            n = int(torch.Size(quant_state.shape).numel())
        total += n
    return total


@one_load_at_a_time
def load_tokenizer(spec: str) -> Any:
    """Only the tokenizer of a model: enough to measure token budgets without loading weights."""
    from transformers import AutoTokenizer

    quiet_libraries()
    return AutoTokenizer.from_pretrained(resolve(spec).checkpoint, local_files_only=True)
