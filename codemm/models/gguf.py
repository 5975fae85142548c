"""GGUF files: validate, hash, and convert once into a safetensors checkpoint in the cache.

bitsandbytes cannot quantize while transformers dequantizes a GGUF, so a GGUF is dequantized
once into a float32 safetensors checkpoint keyed by the file's sha256; every later load (any
quantization) reads that checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from tqdm import tqdm

from codemm.errors import CodemmError, ModelFormatError, error_from_oserror
from codemm.files import write_text_atomic
from codemm.models.load_lock import one_load_at_a_time
from codemm.paths import cache_dir

CONVERTED_MARKER = "codemm-source.json"


def gguf_architecture(path: Path) -> str:
    """Reads and checks a GGUF's header; returns its architecture or raises ModelFormatError."""
    import gguf

    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise ModelFormatError(f"cannot read {path}: {exc.strerror}") from None
    if magic != b"GGUF":
        raise ModelFormatError(f"{path} is not a GGUF file (its first bytes are not 'GGUF')")
    try:
        reader = gguf.GGUFReader(str(path))
        field = reader.fields["general.architecture"]
        architecture = bytes(field.parts[field.data[0]]).decode("utf-8")
        size = path.stat().st_size
        end = max((t.data_offset + int(t.n_bytes) for t in reader.tensors), default=0)
    except KeyError:
        raise ModelFormatError(f"{path} has no general.architecture field; it is not a model GGUF") from None
    except (ValueError, IndexError, OSError) as exc:
        raise ModelFormatError(f"{path} is truncated or corrupt ({exc})") from None
    if end > size:
        raise ModelFormatError(f"{path} is truncated: its tensors need {end} bytes, the file has {size}")
    if not _supported(architecture):
        raise ModelFormatError(
            f"{path}: GGUF architecture '{architecture}' is not supported by transformers' GGUF loader "
            "(supported include llama, mistral, qwen2, qwen3, phi3, gemma2/3, starcoder2)"
        )
    return architecture


def _supported(architecture: str) -> bool:
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    # llama.cpp spells some names differently (qwen2moe, gpt-oss); transformers maps them.
    spellings = {architecture, architecture.replace("-", "_"), architecture.replace("moe", "_moe")}
    return bool(spellings & set(GGUF_SUPPORTED_ARCHITECTURES)) and architecture not in (
        "general",
        "tokenizer",
    )


def file_sha256(path: Path) -> str:
    """sha256 of a file, remembered by (path, size, mtime) so a second load does not re-read it."""
    stat = path.stat()
    memo_path = cache_dir() / "sha256.json"
    key = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    try:
        memo = json.loads(memo_path.read_text())
    except (OSError, ValueError):
        memo = {}
    if key in memo:
        return str(memo[key])
    digest = hashlib.sha256()
    with (
        path.open("rb") as handle,
        tqdm(
            total=stat.st_size,
            unit="B",
            unit_scale=True,
            desc=f"hashing {path.name}",
            leave=False,
            disable=None,
        ) as bar,
    ):
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            bar.update(len(block))
    memo[key] = digest.hexdigest()
    try:
        memo_path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(memo_path, json.dumps(memo))
    except OSError:
        pass  # the memo only saves time; a read-only cache still works
    return digest.hexdigest()


def converted_dir(sha256: str) -> Path:
    return cache_dir() / "models" / f"gguf-{sha256}"


@one_load_at_a_time
def convert_gguf(path: Path) -> Path:
    """Returns the cached safetensors checkpoint for ``path``, converting it on first use."""
    sha = file_sha256(path)
    target = converted_dir(sha)
    if (target / CONVERTED_MARKER).is_file():
        return target  # validated when it was converted; re-reading the header costs seconds
    architecture = gguf_architecture(path)

    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig
    from transformers.utils import logging as hf_logging

    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    started = time.perf_counter()
    hf_logging.enable_progress_bar()  # the per-tensor dequantisation bar is the progress a user sees
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            path.parent,
            gguf_file=path.name,
            quantization_config=GgufConfig(dequantize=True),
            dtype=torch.float32,
            local_files_only=True,
        )
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / CONVERTED_MARKER).write_text(
            json.dumps(
                {
                    "gguf": str(path.resolve()),
                    "sha256": sha,
                    "architecture": architecture,
                    "transformers": transformers.__version__,
                    "seconds": round(time.perf_counter() - started, 2),
                },
                indent=2,
            )
        )
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / CONVERTED_MARKER).is_file():  # another process won the race: use its copy
                raise
    except OSError as exc:
        raise error_from_oserror(exc, f"converting {path.name} into {target}") from None
    except ValueError as exc:
        raise ModelFormatError(f"{path}: transformers cannot load this GGUF ({exc})") from None
    finally:
        hf_logging.disable_progress_bar()
        shutil.rmtree(tmp, ignore_errors=True)
    if not (target / CONVERTED_MARKER).is_file():
        raise CodemmError(f"converting {path} did not produce a checkpoint in {target}")
    return target
