"""Training recipes: one dataclass, documented defaults, loaded from ``adapters/recipes/<name>.toml``."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from codemm.errors import BadInputError

KINDS = ("file", "body", "fim", "chat")


@dataclass
class Recipe:
    name: str = "default"
    quant: str = "auto"
    """auto: 4-bit NF4 base (QLoRA) where bitsandbytes runs, else full precision. Or none | 4bit."""
    r: int = 16
    alpha: int = 32
    dropout: float = 0.0
    """0 keeps a resumed run bit-identical to an uninterrupted one."""
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    include_mlp: bool = False
    """Also adapt gate/up/down projections."""
    seq_len: int = 256
    """Packed sequence length in tokens."""
    batch_size: int = 4
    grad_accum: int = 2
    lr: float = 2e-4
    warmup_steps: int = 5
    max_steps: int = 120
    save_every: int = 20
    eval_batches: int = 8
    """Held-out batches used for loss/perplexity (0: all)."""
    heldout_fraction: float = 0.15
    seed: int = 0
    kinds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(("file", "body", "fim", "chat"), 1.0))
    """The data mix: the share of each kind of training example kept (adapters/dataset.py: whole-file
    chunks, signature -> body, fill-in-the-middle, chat turns); 0 leaves a kind out. The held-out
    loss on the card is over every kind, whatever the mix, so recipes compare on the same set."""

    def modules(self) -> list[str]:
        extra = ["gate_proj", "up_proj", "down_proj"] if self.include_mlp else []
        return self.target_modules + [m for m in extra if m not in self.target_modules]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def first_difference(self, trained: dict[str, Any]) -> str | None:
        """The first setting in which ``trained`` (a card's or a run's recipe) differs from this one,
        the name aside; a setting it lacks (written before the field existed) had the field's default."""
        defaults = Recipe().as_dict()
        return next((k for k, v in self.as_dict().items() if k != "name" and trained.get(k, defaults[k]) != v), None)


def recipe_dir() -> Path:
    return Path(str(resources.files("codemm.adapters") / "recipes"))


def load_recipe(name_or_path: str, overrides: dict[str, Any] | None = None) -> Recipe:
    path = Path(name_or_path)
    if not path.suffix:
        path = recipe_dir() / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in recipe_dir().glob("*.toml")))
        raise BadInputError(f"no recipe '{name_or_path}' (known: {known}; or give a .toml path)")
    try:  # .json: the recipe a training run saved (run/recipe.json), which --resume continues with
        data = json.loads(path.read_text()) if path.suffix == ".json" else tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"recipe {path} is not valid {path.suffix[1:].upper() or 'TOML'}: {exc}") from None
    if not isinstance(data, dict):
        raise BadInputError(f"recipe {path} is not a table of settings")
    known_fields = {f.name for f in dataclasses.fields(Recipe)}
    unknown = sorted(set(data) - known_fields)
    if unknown:
        raise BadInputError(f"unknown recipe field '{unknown[0]}' in {path}")
    kinds = data.get("kinds", {})
    if not isinstance(kinds, dict):
        raise BadInputError(f"recipe {path}: kinds must be a table, e.g. [kinds] fim = 0.5")
    bad = [k for k, v in kinds.items()
           if k not in KINDS or isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1]  # fmt: skip
    if bad:
        raise BadInputError(f"recipe {path}: kinds.{bad[0]} must be one of {', '.join(KINDS)} with a share from 0 to 1")
    if kinds:
        data["kinds"] = {**dict.fromkeys(KINDS, 1.0), **{k: float(v) for k, v in kinds.items()}}
        if not any(data["kinds"].values()):
            raise BadInputError(f"recipe {path}: kinds leaves every kind of example out")
    data.setdefault("name", path.stem)
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return Recipe(**data)
