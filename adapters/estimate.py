"""How long `codemm adapters train` will take, said before it starts.

Three parts, each measured on the development machine (2 shared CPU cores, SmolLM2-135M, QLoRA; see
the README's adapter section): building the dataset (index, secret scan) grows with the repository's
size; the steps grow with the recipe's tokens per step; the held-out loss before and after costs a
few forward passes. A GPU finishes far sooner and a busy CPU later: the figure is for planning, and
the progress bar's remaining time (from the steps measured so far) takes over once training runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codemm.adapters.recipe import Recipe

# Measured 2026-12-06 on the development machine, 2 idle cores, SmolLM2-135M, whole training runs
# (python -m codemm.eval.bench.adapter_timesplit): the step loop ran at 225-234 tokens/s with LoRA on
# the attention projections and 203-209 with the MLP projections too (the isolated step of
# python -m codemm.eval.bench.train_step reaches ~290: checkpoints and data loading are not in it);
# everything else (dataset, loading, packing, held-out loss before and after) took 38-42 s on
# werkzeug 2.3.0 (1.5 MB of source). The default recipe on it: 635 s in all.
SETUP_S = 10.0
"""Loading the model and tokenizer, packing the blocks."""
PREP_S_PER_MB = 10.0
"""Dataset building (index, secret scan), per MB of indexed source."""
TRAIN_TOKENS_PER_S = 230.0
"""Training throughput (forward + backward, packed blocks) of the default model on 2 idle cores."""
MLP_SLOWDOWN = 1.12
"""LoRA on the MLP projections as well: more adapter matrices in every forward and backward."""
QUANT_SLOWDOWN: dict[str, float] = {}
"""A 4-bit base dequantizes every weight in every pass; on this CPU that measured no slower."""
EVAL_SPEEDUP = 6.0
"""A no-grad forward pass of the held-out blocks, relative to a training step's tokens/s."""


@dataclass(frozen=True)
class TrainEstimate:
    seconds: float
    repo_mb: float
    steps: int
    tokens: int

    def describe(self) -> str:
        return (f"about {self.seconds / 60:.0f} min on 2 idle CPU cores, longer on a busy machine ({self.steps} steps, "
                f"{self.tokens:,} tokens, {self.repo_mb:.1f} MB of source)")  # fmt: skip


def repository_mb(repo: Path) -> float:
    """The size of what the index reads (ignored, binary and oversized files left out)."""
    from codemm.repo.walk import walk_repo

    return sum(f.size for f in walk_repo(repo, sniff=False).files) / 1e6


def estimate_training(recipe: Recipe, repo: Path, tokens_per_s: float = TRAIN_TOKENS_PER_S) -> TrainEstimate:
    """Expected wall time of training ``recipe`` on ``repo``."""
    tokens_per_s /= QUANT_SLOWDOWN.get(recipe.quant, 1.0) * (MLP_SLOWDOWN if recipe.include_mlp else 1.0)
    tokens = recipe.max_steps * recipe.batch_size * recipe.grad_accum * recipe.seq_len
    eval_tokens = 2 * recipe.eval_batches * recipe.batch_size * recipe.seq_len
    mb = repository_mb(repo)
    seconds = SETUP_S + PREP_S_PER_MB * mb + tokens / tokens_per_s + eval_tokens / (tokens_per_s * EVAL_SPEEDUP)
    return TrainEstimate(seconds, mb, recipe.max_steps, tokens)
