"""A local sentence-transformers checkpoint directory, run in process with transformers.

Read the way sentence-transformers reads it, without depending on it: ``modules.json`` lists the
modules (Transformer at the root, Pooling, Normalize; a Dense or custom module is refused rather
than silently skipped), ``1_Pooling/config.json`` the pooling (mean, cls, max, last token),
``sentence_bert_config.json`` the token limit, ``config_sentence_transformers.json`` the query and
document prompts (e5/bge-style models need them). A plain Hugging Face encoder dir without
``modules.json`` is mean-pooled. Vectors are always L2-normalised (search uses cosine similarity).

Safety: weights load from safetensors only and ``trust_remote_code`` stays off; a dir with only
pickle weights (``pytorch_model.bin``) is refused with the reason.

Identity: the dir's name and a sha256 over its weights and configs, so a retrained or replaced
model re-embeds the index. Hashing a large checkpoint takes seconds, so the digest is remembered in
``<cache>/embedding-hashes.json`` against the files' sizes and mtimes.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from codemm.errors import BadInputError, ModelFormatError, ModelNotFoundError
from codemm.models.load_lock import one_load_at_a_time

BATCH = 32
DEFAULT_MAX_TOKENS = 512
SUPPORTED_MODULES = {"Transformer", "Pooling", "Normalize"}
POOLING_MODES = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls",
                 "pooling_mode_max_tokens": "max", "pooling_mode_lasttoken": "lasttoken"}  # fmt: skip
_HASHED_SUFFIXES = {".json", ".txt", ".model", ".safetensors"}
"""What decides the vectors: weights, configs, tokenizer files (not READMEs, nor pickle or ONNX copies)."""


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelFormatError(f"cannot read {path} of the embedding model: {exc}") from None


def _identity_files(path: Path) -> list[Path]:
    files = [p for p in path.iterdir() if p.is_file() and p.suffix in _HASHED_SUFFIXES]
    pooling = path / "1_Pooling"
    if (path / "modules.json").is_file():
        for module in _read_json(path / "modules.json"):
            folder = path / str(module.get("path", ""))
            if module.get("path") and folder.is_dir():
                files += [p for p in folder.iterdir() if p.is_file() and p.suffix in _HASHED_SUFFIXES]
    elif pooling.is_dir():
        files += [p for p in pooling.iterdir() if p.is_file()]
    return sorted(set(files))


def fingerprint(path: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and mtimes of the files that decide the vectors: cheap, and changes with them.
    Raises the one-line reason when ``path`` is not a usable embedding model dir."""
    if not path.exists():
        raise ModelNotFoundError(
            f"embedding model '{path}' is neither the built-in all-MiniLM-L6-v2, openai:<model-id>, "
            "nor an existing directory"
        )
    if not path.is_dir():
        raise BadInputError(f"embedding model '{path}' is a file: give the sentence-transformers checkpoint directory")
    out = []
    for file in _identity_files(path):
        stat = file.stat()
        out.append((str(file.relative_to(path)), stat.st_size, stat.st_mtime_ns))
    return tuple(out)


def content_hash(path: Path) -> str:
    """sha256 over the files that decide the vectors, remembered against their sizes and mtimes."""
    from codemm.paths import cache_dir

    stamp: list[list[Any]] = [list(entry) for entry in fingerprint(path)]
    memo_path = cache_dir() / "embedding-hashes.json"
    key = str(path.resolve())
    try:
        memo = json.loads(memo_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        memo = {}
    entry = memo.get(key) if isinstance(memo, dict) else None
    if isinstance(entry, dict) and entry.get("files") == stamp:
        return str(entry["sha256"])
    digest = hashlib.sha256()
    for name, _, _ in stamp:
        digest.update(str(name).encode() + b"\0")
        with (path / name).open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    sha = digest.hexdigest()
    memo = memo if isinstance(memo, dict) else {}
    memo[key] = {"files": stamp, "sha256": sha}
    try:  # a memo that cannot be written only costs a re-hash next time
        memo_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo_path.with_name(f"{memo_path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(memo), encoding="utf-8")
        tmp.replace(memo_path)
    except OSError:
        pass
    return sha


def _check_weights(path: Path) -> None:
    if (path / "model.safetensors").is_file() or (path / "model.safetensors.index.json").is_file():
        return
    pickles = sorted(p.name for p in path.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".ckpt", ".pkl"))
    if pickles:
        raise ModelFormatError(
            f"embedding model {path} has only pickle weights ({pickles[0]}); codemm loads safetensors only "
            "(pickle can run code): use a copy saved with safe_serialization, e.g. model.save_pretrained(dir)"
        )
    raise ModelFormatError(f"embedding model {path} has no weights (model.safetensors)")


class LocalEncoder:
    """A sentence-transformers style checkpoint dir; loads on first use."""

    def __init__(self, path: Path, name: str = "", identity: str = "", kind: str = "local") -> None:
        fingerprint(path)  # exists and is a dir
        self.path = path
        self.name = name or path.resolve().name
        self.kind = kind
        self.pooling = "mean"
        modules = _read_json(path / "modules.json") if (path / "modules.json").is_file() else []
        for module in modules:
            kind_name = str(module.get("type", "")).rsplit(".", 1)[-1]
            if kind_name not in SUPPORTED_MODULES:
                raise ModelFormatError(
                    f"embedding model {path} has a {kind_name or 'nameless'} module (modules.json); codemm runs "
                    f"{', '.join(sorted(SUPPORTED_MODULES))} only"
                )
            if kind_name == "Transformer" and module.get("path"):
                raise ModelFormatError(f"embedding model {path}: its Transformer must be the dir itself (modules.json)")
            if kind_name == "Pooling":
                self.pooling = self._pooling_mode(path / str(module.get("path", "")) / "config.json")
        if not modules and (path / "1_Pooling" / "config.json").is_file():
            self.pooling = self._pooling_mode(path / "1_Pooling" / "config.json")
        if not (path / "config.json").is_file():
            raise ModelFormatError(f"embedding model {path} has no config.json: not a transformers checkpoint dir")
        _check_weights(path)
        config = _read_json(path / "config.json")
        if config.get("auto_map"):
            raise ModelFormatError(
                f"embedding model {path} needs its own code (auto_map in config.json); codemm never runs "
                "remote code: pick a model that transformers runs natively"
            )
        st_file = path / "sentence_bert_config.json"
        st_config = _read_json(st_file) if st_file.is_file() else {}
        self.max_tokens = int(st_config.get("max_seq_length") or 0) or min(
            int(config.get("max_position_embeddings") or DEFAULT_MAX_TOKENS), DEFAULT_MAX_TOKENS
        )
        prompts_file = path / "config_sentence_transformers.json"
        prompts = (_read_json(prompts_file).get("prompts") or {}) if prompts_file.is_file() else {}
        self.query_prompt = str(prompts.get("query", ""))
        self.document_prompt = str(prompts.get("document") or prompts.get("passage") or "")
        self._dimension = int(config.get("hidden_size") or 0) or None
        self.identity = identity or f"{self.name}@sha256:{content_hash(path)[:16]}"
        self._loaded: tuple[Any, Any] | None = None
        # One model for every thread: the MCP tools embed the index in the background while a
        # search embeds its query, and a fast tokenizer used by two threads at once fails
        # ("Already borrowed"). Held per batch, so a query waits for at most one batch.
        self._lock = threading.RLock()

    @staticmethod
    def _pooling_mode(config_path: Path) -> str:
        config = _read_json(config_path)
        modes = [mode for key, mode in POOLING_MODES.items() if config.get(key)]
        others = [k for k, v in config.items() if k.startswith("pooling_mode_") and v and k not in POOLING_MODES]
        if len(modes) != 1 or others:
            raise ModelFormatError(
                f"embedding model pooling {config_path} must be exactly one of mean, cls, max, lasttoken "
                f"(got {', '.join(modes + others) or 'none'})"
            )
        return modes[0]

    @property
    def dimension(self) -> int | None:
        return self._dimension

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            return self._load_once()

    @one_load_at_a_time
    def _load_once(self) -> tuple[Any, Any]:
        if self._loaded is None:
            from transformers import AutoModel, AutoTokenizer

            from codemm.models.load import quiet_libraries

            quiet_libraries()
            try:
                tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
                model = AutoModel.from_pretrained(
                    self.path, local_files_only=True, use_safetensors=True, trust_remote_code=False
                )
            except Exception as exc:  # transformers raises many kinds; the user needs one line
                first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
                raise ModelFormatError(
                    f"cannot load the embedding model at {self.path}: {type(exc).__name__}: {first}"
                ) from None
            model.eval()
            self._loaded = (tokenizer, model)
        return self._loaded

    def _pool(self, hidden: Any, mask: Any) -> Any:
        import torch

        if self.pooling == "cls":
            return hidden[:, 0]
        if self.pooling == "lasttoken":
            if bool(mask[:, -1].all()):  # left padding (or none): the last position is real in every row
                return hidden[:, -1]
            last = mask.sum(1).long() - 1
            return hidden[torch.arange(hidden.shape[0]), last.clamp(min=0)]
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        if self.pooling == "max":
            return hidden.masked_fill(weights == 0, torch.finfo(hidden.dtype).min).max(1).values
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)

    def encode(self, texts: list[str], progress: Any = None, prompt: str | None = None) -> np.ndarray:
        import torch

        if not texts:
            return np.zeros((0, self._dimension or 0), dtype=np.float32)
        tokenizer, model = self._load()
        prefix = self.document_prompt if prompt is None else prompt
        out = []
        with torch.inference_mode():
            for lo in range(0, len(texts), BATCH):
                with self._lock:
                    batch = tokenizer([prefix + t for t in texts[lo : lo + BATCH]], padding=True, truncation=True,
                                      max_length=self.max_tokens, return_tensors="pt")  # fmt: skip
                    hidden = model(**batch).last_hidden_state
                    pooled = self._pool(hidden, batch["attention_mask"])
                    out.append(torch.nn.functional.normalize(pooled.float(), dim=-1).numpy())
                if progress:
                    progress(min(lo + BATCH, len(texts)), len(texts))
        vectors = np.concatenate(out).astype(np.float32)
        self._dimension = vectors.shape[1]
        return vectors

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text], prompt=self.query_prompt)[0]
