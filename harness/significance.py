"""The p-values of the tests gxm reports: Mann–Whitney U (two-sided), Fisher's exact test on a 2×2
table (two-sided or one-sided) and the one-sided binomial sign test.

Plain Python, integer arithmetic wherever the null distribution is discrete, so a report never
pays for importing scipy (a second of CPU, more than the rest of a report). Each function follows
scipy.stats (checked against 1.17) in method choice and conventions and gives its p-value to within
1e-12; tests/unit/test_significance.py compares them over many tables and samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

EXACT_MAX_N = 8  # Mann–Whitney U: exact null distribution unless both samples are larger
_FISHER_TIE = 10**14  # Fisher two-sided: a table counts when P <= P(observed) * (1 + 1e-14)


# --- Mann–Whitney U -----------------------------------------------------------------------------


def mann_whitney_u_p(x: Sequence[float], y: Sequence[float]) -> float:
    """Two-sided Mann–Whitney U p-value of samples `x` and `y`, as `scipy.stats.mannwhitneyu`
    with its defaults: the exact distribution of U when a sample has at most 8 values and nothing
    ties, else the normal approximation with tie and continuity correction. ValueError when a
    side is empty."""
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("Mann–Whitney U needs at least one value on each side")
    ranks, tie_sizes = _average_ranks([*x, *y])
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    u = max(u1, n1 * n2 - u1)
    ties = any(size > 1 for size in tie_sizes)
    if (n1 > EXACT_MAX_N and n2 > EXACT_MAX_N) or ties:
        p = 2 * _normal_sf(_u_z(u, n1, n2, tie_sizes))
    else:
        p = 2 * _u_cdf(n1, n2, n1 * n2 - int(u))
    return min(max(p, 0.0), 1.0)


def _average_ranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """1-based ranks with ties given their average rank, and the size of every tie group."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    sizes = []
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        average = (start + end) / 2 + 1
        for position in range(start, end + 1):
            ranks[order[position]] = average
        sizes.append(end - start + 1)
        start = end + 1
    return ranks, sizes


def _u_z(u: float, n1: int, n2: int, tie_sizes: Sequence[int]) -> float:
    """U standardised under the null, tie-corrected, continuity-corrected toward the centre."""
    n = n1 + n2
    tie_term = float(sum(t**3 - t for t in tie_sizes))
    s = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))))
    numerator = u - n1 * n2 / 2 - 0.5
    if s == 0:  # every value ties: U sits at the centre, no evidence at all
        return -math.inf if numerator <= 0 else math.inf
    return numerator / s


def _normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z (scipy's `ndtr(-z)`, same branches)."""
    x = -z * math.sqrt(0.5)
    if abs(x) < math.sqrt(0.5):
        return 0.5 + 0.5 * math.erf(x)
    tail = 0.5 * math.erfc(abs(x))
    return 1.0 - tail if x > 0 else tail


def _u_cdf(n1: int, n2: int, k: int) -> float:
    """P(U <= k) under the null for sample sizes n1, n2 (no ties): the arrangements counted from
    the coefficients of the Gaussian binomial [n1+n2 choose n1]_q, exactly."""
    counts = [1] + [0] * k
    for i in range(1, min(n1, n2) + 1):
        step = max(n1, n2) + i
        for u in range(k, step - 1, -1):  # times (1 - q^step)
            counts[u] -= counts[u - step]
        for u in range(i, k + 1):  # over (1 - q^i)
            counts[u] += counts[u - i]
    return sum(counts) / math.comb(n1 + n2, n1)


# --- Fisher's exact test ------------------------------------------------------------------------


def fisher_exact_p(table: Sequence[Sequence[int]], alternative: str = "two-sided") -> float:
    """Fisher's exact p-value of the 2×2 `table` [[a, b], [c, d]], as `scipy.stats.fisher_exact`:
    `two-sided` sums every table with the same margins no likelier than the observed one;
    `greater` (`less`) the tables with at least (at most) `a`. 1.0 when a row or column is
    empty. ValueError for a negative count or an unknown alternative."""
    (a, b), (c, d) = table
    if min(a, b, c, d) < 0:
        raise ValueError(f"counts must be non-negative, got {[[a, b], [c, d]]}")
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"unknown alternative {alternative!r}")
    row1, row2, col1 = a + b, c + d, a + c
    if 0 in (row1, row2, col1, b + d):
        return 1.0
    lowest = max(0, col1 - row2)
    weights = {
        x: math.comb(row1, x) * math.comb(row2, col1 - x)
        for x in range(lowest, min(row1, col1) + 1)
    }
    if alternative == "greater":
        tail = sum(w for x, w in weights.items() if x >= a)
    elif alternative == "less":
        tail = sum(w for x, w in weights.items() if x <= a)
    else:
        limit = weights[a] * (_FISHER_TIE + 1)
        tail = sum(w for w in weights.values() if w * _FISHER_TIE <= limit)
    return min(1.0, tail / math.comb(row1 + row2, col1))


# --- sign test ----------------------------------------------------------------------------------


def sign_test_greater_p(k: int, n: int) -> float:
    """P(B >= k) for B ~ Binomial(n, 1/2): the one-sided sign test that more than half of n
    comparisons lean one way (`scipy.stats.binomtest(k, n, 0.5, alternative="greater")`)."""
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k} n={n}")
    return sum(math.comb(n, i) for i in range(k, n + 1)) / (1 << n)
