"""harness.significance gives scipy.stats' p-values (to 1e-12) without importing scipy.

scipy is a dependency of gxm, so these comparisons always run: over every small 2×2 table, sign
test and exact Mann–Whitney case, and over seeded random samples with and without ties on both
sides of the exact/asymptotic switch.
"""

from __future__ import annotations

import itertools
import math
import random

import pytest
from scipy.stats import binomtest, fisher_exact, mannwhitneyu

from harness.significance import fisher_exact_p, mann_whitney_u_p, sign_test_greater_p

TOLERANCE = 1e-12


def _close(ours: float, theirs: float) -> bool:
    return abs(ours - theirs) <= TOLERANCE


def _scipy_mwu(x: list[float], y: list[float]) -> float:
    return float(mannwhitneyu(x, y, alternative="two-sided").pvalue)


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_fisher_matches_scipy_on_every_small_table(alternative: str) -> None:
    worst = 0.0
    for n_a, n_b in itertools.product(range(1, 8), repeat=2):
        for k_a, k_b in itertools.product(range(n_a + 1), range(n_b + 1)):
            table = [[k_a, n_a - k_a], [k_b, n_b - k_b]]
            ours = fisher_exact_p(table, alternative)
            theirs = float(fisher_exact(table, alternative=alternative).pvalue)
            worst = max(worst, abs(ours - theirs))
    assert worst <= TOLERANCE


def test_fisher_matches_scipy_on_larger_tables() -> None:
    rng = random.Random(13)
    for _ in range(300):
        n_a, n_b = rng.randint(1, 120), rng.randint(1, 120)
        table = [[rng.randint(0, n_a), 0], [rng.randint(0, n_b), 0]]
        table[0][1], table[1][1] = n_a - table[0][0], n_b - table[1][0]
        for alternative in ("two-sided", "greater"):
            theirs = float(fisher_exact(table, alternative=alternative).pvalue)
            assert _close(fisher_exact_p(table, alternative), theirs), (table, alternative)


def test_fisher_known_values_and_bad_input() -> None:
    assert fisher_exact_p([[8, 2], [1, 5]]) == pytest.approx(0.034965034965034975, abs=1e-15)
    assert fisher_exact_p([[0, 10], [0, 10]]) == 1.0  # no failure on either side
    assert fisher_exact_p([[3, 3], [3, 3]]) == 1.0
    with pytest.raises(ValueError):
        fisher_exact_p([[-1, 2], [3, 4]])
    with pytest.raises(ValueError):
        fisher_exact_p([[1, 2], [3, 4]], "sideways")


def test_sign_test_matches_scipy() -> None:
    for n in range(1, 31):
        for k in range(n + 1):
            theirs = float(binomtest(k, n, 0.5, alternative="greater").pvalue)
            assert _close(sign_test_greater_p(k, n), theirs), (k, n)
    with pytest.raises(ValueError):
        sign_test_greater_p(4, 3)


def test_mann_whitney_exact_matches_scipy_on_every_arrangement() -> None:
    """No ties and a side of at most 8 values: the exact distribution, every split of ranks."""
    for n1, n2 in [(1, 1), (1, 5), (2, 3), (3, 3), (4, 6), (5, 5), (3, 12), (8, 9)]:
        values = list(range(n1 + n2))
        for chosen in itertools.islice(itertools.combinations(values, n1), 200):
            x = [float(v) for v in chosen]
            y = [float(v) for v in values if v not in chosen]
            assert _close(mann_whitney_u_p(x, y), _scipy_mwu(x, y)), (x, y)


@pytest.mark.parametrize("spread", [1000.0, 3.0])  # continuous-looking values; many ties
def test_mann_whitney_matches_scipy_on_random_samples(spread: float) -> None:
    rng = random.Random(int(spread))
    for _ in range(400):
        n1, n2 = rng.randint(1, 25), rng.randint(1, 25)
        shift = rng.choice([0.0, 0.5, 2.0])
        x = [float(round(rng.gauss(0, 1) * spread)) for _ in range(n1)]
        y = [float(round(rng.gauss(shift, 1) * spread)) for _ in range(n2)]
        assert _close(mann_whitney_u_p(x, y), _scipy_mwu(x, y)), (x, y)


def test_mann_whitney_edge_cases() -> None:
    assert mann_whitney_u_p([5.0, 5.0], [5.0, 5.0, 5.0]) == 1.0  # all tie: no evidence
    assert mann_whitney_u_p([1.0], [2.0]) == 1.0
    x, y = [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]
    assert mann_whitney_u_p(x, y) == pytest.approx(0.1, abs=1e-15)  # 2 / C(6, 3)
    far = mann_whitney_u_p([float(v) for v in range(40)], [float(v) for v in range(100, 140)])
    assert math.isclose(far, _scipy_mwu(list(range(40)), list(range(100, 140))), rel_tol=1e-9)
    with pytest.raises(ValueError):
        mann_whitney_u_p([], [1.0])
