from __future__ import annotations

import math

import pytest

from codemm.eval.stats import mcnemar_exact, paired_bootstrap, pass_at_k, wilson_interval


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (10, 0, 1, 0.0),
        (10, 10, 1, 1.0),
        (10, 3, 1, 0.3),  # pass@1 is the fraction correct
        (5, 2, 2, 1 - math.comb(3, 2) / math.comb(5, 2)),  # 1 - 3/10
        (20, 5, 10, 1 - math.comb(15, 10) / math.comb(20, 10)),
        (4, 2, 3, 1.0),  # n - c < k: some draw of k must contain a correct one
        (1, 1, 1, 1.0),
    ],
)
def test_pass_at_k_closed_forms(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_is_undefined_below_k_samples() -> None:
    with pytest.raises(ValueError, match="needs at least 5 samples"):
        pass_at_k(3, 1, 5)
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)


def test_wilson_interval_known_values() -> None:
    lo, hi = wilson_interval(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-3) and hi == pytest.approx(0.5962, abs=1e-3)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(0, 0) == (0.0, 1.0)


def test_paired_bootstrap_and_mcnemar() -> None:
    a = [0.0] * 30 + [1.0] * 10
    b = [1.0] * 30 + [1.0] * 10
    mean, lo, hi = paired_bootstrap(a, b, seed=1)
    assert mean == pytest.approx(0.75) and lo <= mean <= hi and lo > 0.5
    assert paired_bootstrap(a, b, seed=1) == paired_bootstrap(a, b, seed=1)  # reproducible
    # 30 discordant pairs all one way: p = 2 * 0.5**30
    assert mcnemar_exact([x > 0 for x in a], [y > 0 for y in b]) == pytest.approx(2 * 0.5**30)
    assert mcnemar_exact([True, False], [True, False]) == 1.0
