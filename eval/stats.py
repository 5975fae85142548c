"""The numbers behind every report: pass@k, Wilson intervals, paired bootstrap, exact McNemar."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from typing import Any


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021): 1 - C(n-c, k) / C(n, k), in product form for stability.

    Only defined for n >= k: with fewer samples than k the estimate would be a guess.
    """
    if not 0 <= c <= n:
        raise ValueError(f"correct samples ({c}) must be between 0 and n ({n})")
    if n < k:
        raise ValueError(f"pass@{k} needs at least {k} samples per problem, got {n}")
    if n - c < k:
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval for a rate; (0, 1) when there is no data."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], iterations: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of (b - a) per item and its 95% percentile bootstrap interval, items resampled in pairs."""
    if len(a) != len(b):
        raise ValueError("paired samples must have the same length")
    if not a:
        return (0.0, 0.0, 0.0)
    diffs = [y - x for x, y in zip(a, b, strict=True)]
    rng = random.Random(seed)
    n = len(diffs)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(iterations))
    return (
        sum(diffs) / n,
        means[int(0.025 * iterations)],
        means[min(iterations - 1, int(0.975 * iterations))],
    )


def mcnemar_exact(a: Sequence[bool], b: Sequence[bool]) -> float:
    """Two-sided exact McNemar p-value for paired pass/fail outcomes (binomial on discordant pairs)."""
    only_a = sum(1 for x, y in zip(a, b, strict=True) if x and not y)
    only_b = sum(1 for x, y in zip(a, b, strict=True) if y and not x)
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_rows(
    rows: Iterable[dict[str, Any]], metric: str, baseline: str, variant: str, seed: int = 0
) -> dict[str, float]:
    """A metric under two variants of one run, paired by item: both means, the mean difference
    (variant - baseline) with its paired bootstrap 95% CI, and how many items it went up/down on.
    Items missing the metric under either variant are left out."""
    by: dict[str, dict[str, float]] = {baseline: {}, variant: {}}
    for row in rows:
        if row.get("variant") in by and row.get(metric) is not None:
            by[row["variant"]][row["item"]] = float(row[metric])
    items = sorted(set(by[baseline]) & set(by[variant]))
    a = [by[baseline][i] for i in items]
    b = [by[variant][i] for i in items]
    diff, lo, hi = paired_bootstrap(a, b, seed=seed)
    return {"items": len(items), "baseline": sum(a) / max(1, len(a)), "variant": sum(b) / max(1, len(b)),
            "difference": diff, "ci_low": lo, "ci_high": hi,
            "up": sum(y > x for x, y in zip(a, b, strict=True)),
            "down": sum(y < x for x, y in zip(a, b, strict=True))}  # fmt: skip
