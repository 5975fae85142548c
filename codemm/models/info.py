"""What `codemm models list` and `codemm models info` report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from codemm.errors import CodemmError
from codemm.models.gguf import CONVERTED_MARKER, converted_dir, file_sha256
from codemm.models.load import LoadedModel, model_path
from codemm.models.registry import REGISTRY


def list_models() -> list[dict[str, Any]]:
    """Registry models with whether they are installed and converted yet."""
    rows = []
    for entry in REGISTRY.values():
        row: dict[str, Any] = {"name": entry.name, "description": entry.description}
        try:
            path = entry.locate()
            row["installed"] = True
            row["path"] = str(path)
            row["converted"] = (converted_dir(file_sha256(path)) / CONVERTED_MARKER).is_file()
        except CodemmError:
            row.update(installed=False, converted=False, install=entry.install)
        rows.append(row)
    return rows


def model_info(loaded: LoadedModel) -> dict[str, Any]:
    config = loaded.model.config
    source: dict[str, Any] = {}
    marker = Path(loaded.resolved.checkpoint) / CONVERTED_MARKER
    if marker.is_file():
        source = json.loads(marker.read_text())
    return {
        "name": loaded.name,
        "kind": loaded.resolved.kind,
        "origin": str(loaded.resolved.origin),
        "checkpoint": str(loaded.resolved.checkpoint),
        "sha256": loaded.resolved.sha256,
        "architecture": config.model_type,
        "gguf_architecture": source.get("architecture"),
        "parameters": loaded.parameters,
        "quant": loaded.quant,
        "dtype": loaded.dtype,
        "device": loaded.device,
        "footprint_bytes": loaded.footprint_bytes,
        "context_window": loaded.context_window,
        "chat_template": bool(getattr(loaded.tokenizer, "chat_template", None)),
        "path": model_path(loaded.resolved.checkpoint),
    }
