"""The adapter store: plain peft folders (adapter_config.json + adapter_model.safetensors, loadable by
peft alone and by LoRA-serving engines) plus ``codemm-card.json``: base model and hash, dataset hash,
recipe, metrics and date. Lives in ``<data dir>/adapters/<name>``."""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codemm.errors import BadInputError, CodemmError, error_from_oserror
from codemm.paths import data_dir

CARD = "codemm-card.json"


@dataclass
class AdapterCard:
    name: str
    base_model: str
    base_id: str
    """sha256 of the base weights' origin (the GGUF, or the checkpoint's config and weight index)."""
    dataset_sha256: str
    recipe: dict[str, Any]
    metrics: dict[str, Any]
    created: str
    quant: str = "none"
    base_spec: str = ""
    """The --model value it was trained with: what `merge` and error messages point at."""
    repo: str = ""
    dataset: dict[str, Any] = field(default_factory=dict)


def store_dir() -> Path:
    return data_dir() / "adapters"


def adapter_dir(name: str) -> Path:
    return store_dir() / name


def base_identity(resolved: Any) -> str:
    """What an adapter is bound to: the GGUF's sha256, or for a checkpoint directory a hash of its
    config and of samples of its weight files (1 MiB at the start, middle and end of each): enough
    to tell two checkpoints apart without reading gigabytes."""
    import hashlib

    if resolved.sha256:
        return str(resolved.sha256)
    digest = hashlib.sha256((Path(resolved.checkpoint) / "config.json").read_bytes())
    for weights in sorted(Path(resolved.checkpoint).glob("*.safetensors")):
        size = weights.stat().st_size
        digest.update(f"{weights.name}:{size}".encode())
        with weights.open("rb") as handle:
            for offset in (0, max(0, size // 2 - (1 << 19)), max(0, size - (1 << 20))):
                handle.seek(offset)
                digest.update(handle.read(1 << 20))
    return digest.hexdigest()


def write_card(path: Path, card: AdapterCard) -> None:
    try:
        (path / CARD).write_text(json.dumps(dataclasses.asdict(card), indent=2))
    except OSError as exc:
        raise error_from_oserror(exc, f"writing {path / CARD}") from None


def read_card(name: str) -> AdapterCard:
    path = adapter_dir(name)
    if not (path / "adapter_config.json").is_file():
        known = ", ".join(a.name for a in list_adapters()) or "none yet"
        raise BadInputError(f"no adapter named '{name}' (known: {known}); train one with `codemm adapters train`")
    try:
        data = json.loads((path / CARD).read_text())
    except (OSError, ValueError):
        raise CodemmError(f"adapter '{name}' has no readable {CARD} in {path}") from None
    return AdapterCard(**data)


def record_metrics(name: str, key: str, figures: dict[str, Any]) -> bool:
    """Adds evaluation figures to an adapter's card (``metrics[key][split]``), so `codemm adapters
    show` gives the time-split gain and the cost next to the training figures. Returns False when
    the adapter is gone (a report regenerated long after): nothing to record then."""
    try:
        card = read_card(name)
    except CodemmError:
        return False
    card.metrics.setdefault(key, {}).update(figures)
    write_card(adapter_dir(name), card)
    return True


def list_adapters() -> list[AdapterCard]:
    cards = []
    root = store_dir()
    for path in sorted(root.glob("*/adapter_config.json")) if root.is_dir() else []:
        try:
            cards.append(AdapterCard(**json.loads((path.parent / CARD).read_text())))
        except (OSError, ValueError, TypeError):
            continue
    return cards


def delete_adapter(name: str) -> None:
    path = adapter_dir(name)
    if not path.is_dir():
        raise BadInputError(f"no adapter named '{name}'")
    shutil.rmtree(path)


def check_base(card: AdapterCard, resolved: Any) -> None:
    """Refuses an adapter trained on another base model: its deltas would be meaningless there."""
    if card.base_id != base_identity(resolved):
        raise BadInputError(
            f"adapter '{card.name}' was trained on {card.base_model}, not on {resolved.name}; "
            f"use --model {card.base_spec or card.base_model}"
        )


def attach_adapters(loaded: Any, names: list[str]) -> Any:
    """Loads adapters onto a loaded model once; ``select_adapter`` switches between them."""
    from peft import PeftModel

    for name in names:
        check_base(read_card(name), loaded.resolved)
        path = str(adapter_dir(name))
        if isinstance(loaded.model, PeftModel):
            if name not in loaded.model.peft_config:
                loaded.model.load_adapter(path, adapter_name=name)
        else:
            loaded.model = PeftModel.from_pretrained(loaded.model, path, adapter_name=name)
        loaded.model.eval()
    return loaded


def select_adapter(loaded: Any, name: str | None) -> None:
    """Switches the active adapter without reloading the base model; None runs the bare base."""
    from peft import PeftModel

    model = loaded.model
    if name is None:
        if isinstance(model, PeftModel):
            model.base_model.disable_adapter_layers()  # type: ignore[operator]
        loaded.adapter = None
        return
    if not isinstance(model, PeftModel) or name not in model.peft_config:
        attach_adapters(loaded, [name])
        model = loaded.model
    model.base_model.enable_adapter_layers()
    model.set_adapter(name)
    loaded.adapter = name


def merge_adapter(name: str, out: Path) -> Path:
    """Writes base + adapter as one standalone safetensors checkpoint (float32) at ``out``."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codemm.models.load import quiet_libraries
    from codemm.models.resolve import resolve

    card = read_card(name)
    quiet_libraries()
    resolved = resolve(card.base_spec or card.base_model)
    check_base(card, resolved)
    if out.exists() and any(out.iterdir()):
        raise BadInputError(f"{out} exists and is not empty")
    try:
        base = AutoModelForCausalLM.from_pretrained(resolved.checkpoint, local_files_only=True, use_safetensors=True)
        merged = PeftModel.from_pretrained(base, str(adapter_dir(name))).merge_and_unload()
        merged.save_pretrained(out)
        AutoTokenizer.from_pretrained(resolved.checkpoint, local_files_only=True).save_pretrained(out)
        (out / "codemm-merged-from.json").write_text(json.dumps(dataclasses.asdict(card), indent=2))
    except OSError as exc:
        raise error_from_oserror(exc, f"writing the merged model to {out}") from None
    return out
