"""The training-time estimate printed before `codemm adapters train` starts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from codemm.adapters.estimate import (
    MLP_SLOWDOWN,
    PREP_S_PER_MB,
    QUANT_SLOWDOWN,
    SETUP_S,
    TRAIN_TOKENS_PER_S,
    estimate_training,
    repository_mb,
)
from codemm.adapters.recipe import load_recipe


def test_estimate_grows_with_steps_and_repository_size(tmp_path: Path) -> None:
    (tmp_path / "small").mkdir()
    (tmp_path / "small" / "a.py").write_text("x = 1\n" * 1000)
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "a.py").write_text("x = 1\n" * 100_000)
    (tmp_path / "big" / "node_modules").mkdir()  # never indexed, so never counted
    (tmp_path / "big" / "node_modules" / "dep.js").write_text("y\n" * 1_000_000)
    assert repository_mb(tmp_path / "big") == 0.6
    recipe = load_recipe("default")
    small, big = estimate_training(recipe, tmp_path / "small"), estimate_training(recipe, tmp_path / "big")
    assert abs(big.seconds - small.seconds - PREP_S_PER_MB * (0.6 - 0.006)) < 1e-6
    longer = estimate_training(replace(recipe, max_steps=2 * recipe.max_steps), tmp_path / "small")
    assert longer.tokens == 2 * small.tokens == 2 * recipe.max_steps * recipe.batch_size * recipe.seq_len
    speed = TRAIN_TOKENS_PER_S / QUANT_SLOWDOWN.get(recipe.quant, 1.0) / (MLP_SLOWDOWN if recipe.include_mlp else 1.0)
    assert abs(longer.seconds - small.seconds - small.tokens / speed) < 1e-6
    full = estimate_training(replace(recipe, quant="none"), tmp_path / "small")
    assert full.seconds == small.seconds  # measured: a 4-bit base trains no slower on this CPU
    attention = estimate_training(replace(recipe, include_mlp=False), tmp_path / "small")
    fixed = SETUP_S + PREP_S_PER_MB * 0.006  # the model's passes, not the dataset, slow down with the MLP adapted
    assert abs((small.seconds - fixed) - (attention.seconds - fixed) * MLP_SLOWDOWN) < 1e-6
    assert "min on 2 idle CPU cores" in small.describe()
