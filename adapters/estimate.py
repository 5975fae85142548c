"""How long `codemm adapters train` will take, said before it starts.

Three parts, each measured on the development machine (2 shared CPU cores, SmolLM2-135M, QLoRA; see
the README's adapter section): building the dataset (index, secret scan, tokenizing) grows with the
repository's size; the steps grow with the recipe's tokens per step; the held-out loss before and
after costs a few forward passes. A machine faster than that one finishes sooner: the estimate is a
ceiling to plan around, not a promise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codemm.adapters.recipe import Recipe

SETUP_S = 40.0
"""Loading the model, the tokenizer and the repository index."""
PREP_S_PER_MB = 120.0
"""Dataset building and tokenizing, per MB of indexed source."""
TRAIN_TOKENS_PER_S = 300.0
"""Training throughput (forward + backward, packed blocks) of the default model on 2 busy cores."""
EVAL_SPEEDUP = 3.0
"""A no-grad forward pass costs about a third of a training step's work."""


@dataclass(frozen=True)
class TrainEstimate:
    seconds: float
    repo_mb: float
    steps: int
    tokens: int

    def describe(self) -> str:
        return (f"about {self.seconds / 60:.0f} min on 2 CPU cores ({self.steps} steps, {self.tokens:,} tokens, "
                f"{self.repo_mb:.1f} MB of source)")  # fmt: skip


def repository_mb(repo: Path) -> float:
    """The size of what the index reads (ignored, binary and oversized files left out)."""
    from codemm.repo.walk import walk_repo

    return sum(f.size for f in walk_repo(repo, sniff=False).files) / 1e6


def estimate_training(recipe: Recipe, repo: Path, tokens_per_s: float = TRAIN_TOKENS_PER_S) -> TrainEstimate:
    """Expected wall time of training ``recipe`` on ``repo``."""
    tokens = recipe.max_steps * recipe.batch_size * recipe.grad_accum * recipe.seq_len
    eval_tokens = 2 * recipe.eval_batches * recipe.batch_size * recipe.seq_len
    mb = repository_mb(repo)
    seconds = SETUP_S + PREP_S_PER_MB * mb + tokens / tokens_per_s + eval_tokens / (tokens_per_s * EVAL_SPEEDUP)
    return TrainEstimate(seconds, mb, recipe.max_steps, tokens)
