"""Turns a model spec (registry name, checkpoint dir, .gguf file, cached hub id) into a local checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codemm.errors import ModelFormatError, ModelNotFoundError
from codemm.models.gguf import convert_gguf, file_sha256
from codemm.models.registry import REGISTRY


@dataclass(frozen=True)
class ResolvedModel:
    spec: str
    """What the user asked for."""
    name: str
    """A short display name."""
    kind: str
    """registry | gguf | checkpoint | hub-cache"""
    checkpoint: Path
    """A directory transformers can load with local_files_only (safetensors weights)."""
    origin: Path
    """The file or directory the weights came from."""
    sha256: str | None = None
    """For GGUF origins: the file's hash, which keys the converted checkpoint."""


def resolve(spec: str) -> ResolvedModel:
    """Finds ``spec`` locally, converting a GGUF once. Never downloads anything."""
    if spec in REGISTRY:
        gguf_path = REGISTRY[spec].locate()
        return ResolvedModel(spec, spec, "registry", convert_gguf(gguf_path), gguf_path, file_sha256(gguf_path))

    path = Path(spec).expanduser()
    if path.suffix.lower() == ".gguf" or path.is_file():
        if not path.is_file():
            raise ModelNotFoundError(f"model file {path} does not exist")
        if path.suffix.lower() != ".gguf":
            raise ModelFormatError(f"{path} is a file but not a .gguf; give a checkpoint directory or a .gguf")
        return ResolvedModel(spec, path.stem, "gguf", convert_gguf(path), path, file_sha256(path))

    if path.is_dir():
        check_checkpoint_dir(path)
        return ResolvedModel(spec, path.name, "checkpoint", path, path)

    if spec.count("/") == 1 and not spec.startswith((".", "/", "~")):
        return _from_hub_cache(spec)

    known = ", ".join(REGISTRY)
    raise ModelNotFoundError(
        f"model '{spec}' not found: not a registry name ({known}), a checkpoint directory or a .gguf file"
    )


def check_checkpoint_dir(path: Path) -> None:
    if not (path / "config.json").is_file():
        raise ModelFormatError(f"{path} is not a model checkpoint: it has no config.json")
    if not any(path.glob("*.safetensors")):
        raise ModelFormatError(
            f"{path} has no .safetensors weights; codemm loads safetensors only "
            "(convert pickled .bin weights with `transformers` save_pretrained first)"
        )


def _from_hub_cache(repo_id: str) -> ResolvedModel:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        path = Path(snapshot_download(repo_id, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        raise ModelNotFoundError(
            f"model '{repo_id}' is not in the local Hugging Face cache and codemm runs offline; "
            f"fetch it on a connected machine (`hf download {repo_id}`) or pass a local directory"
        ) from None
    check_checkpoint_dir(path)
    return ResolvedModel(repo_id, repo_id, "hub-cache", path, path)
