"""Basic statistics for results: medians with distribution-free intervals, Wilson intervals for
crash rates, the per-fixture `summary` object of a cell document, and the verdict.

Pure functions over plain values and dicts (the cell JSON shapes), no I/O and no scipy.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from harness.model import FIXTURE_KINDS, Outcome

Z95 = 1.959963984540054  # two-sided 95% standard normal quantile

# Outcomes that count against a fixture's crash rate: the run ran, and it did not end well.
FAILURE_OUTCOMES = frozenset({"crash", "corrupt", "timeout", "oom"})
# Outcomes that say nothing about the cell: left out of the crash rate's n.
NOT_A_TRIAL = frozenset({"infra-error", "unsupported", "build-error"})

_OUTCOME_ORDER = [o.value for o in Outcome]


def median(values: Iterable[float]) -> float:
    """The median of `values`; ValueError when there are none."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("median of no values")
    mid = n // 2
    if n % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def _binomial_half_cdf(k: int, n: int) -> float:
    """P(B <= k) for B ~ Binomial(n, 1/2)."""
    return sum(math.comb(n, i) for i in range(k + 1)) / 2**n


def median_ci95(values: Iterable[float]) -> tuple[float, float]:
    """A distribution-free 95% interval for the median from order statistics.

    The interval is (x_(l), x_(n+1-l)) with the largest rank l whose coverage
    1 - 2·P(B <= l-1), B ~ Binomial(n, 1/2), is still >= 95%. For n < 6 no pair of ranks
    reaches 95% (even (min, max) covers only 1 - 2/2^n), so (min, max) is returned: a wider
    claim than the data supports, which callers should show with its n. ValueError when empty.
    """
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("median interval of no values")
    rank = 1
    while rank < n // 2 and 1 - 2 * _binomial_half_cdf(rank, n) >= 0.95:
        rank += 1
    return ordered[rank - 1], ordered[n - rank]


def wilson_ci95(k: int, n: int) -> tuple[float, float]:
    """Wilson score 95% interval for a proportion k/n; (0.0, 1.0) when n is 0."""
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k} n={n}")
    if n == 0:
        return 0.0, 1.0
    p = k / n
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    lo = 0.0 if k == 0 else max(0.0, centre - half)  # exact bounds, not rounding noise
    hi = 1.0 if k == n else min(1.0, centre + half)
    return lo, hi


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _metric_summaries(runs: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per metric over passing runs: median, 95% interval of the median, n."""
    samples: dict[str, list[float]] = {}
    for run in runs:
        if run.get("outcome") != "pass":
            continue
        for name, value in (run.get("metrics") or {}).items():
            if _is_number(value):
                samples.setdefault(name, []).append(value)
    return {
        name: {"median": median(values), "ci95": list(median_ci95(values)), "n": len(values)}
        for name, values in sorted(samples.items())
    }


def _crash_rate(outcomes: Counter[str]) -> dict[str, Any]:
    k = sum(outcomes[o] for o in FAILURE_OUTCOMES)
    n = sum(count for o, count in outcomes.items() if o not in NOT_A_TRIAL)
    if n == 0:
        return {"k": 0, "n": 0, "rate": None, "ci95": None}
    return {"k": k, "n": n, "rate": k / n, "ci95": list(wilson_ci95(k, n))}


def _top_signature(runs: Sequence[Mapping[str, Any]]) -> str | None:
    """The most common signature; on a tie the one seen first (runs are in run order)."""
    counts = Counter(r["signature"] for r in runs if r.get("signature"))
    return counts.most_common(1)[0][0] if counts else None


def summarize_runs(runs: Sequence[Mapping[str, Any]], kind: str) -> dict[str, Any]:
    """The `summary` object of one fixture in a cell document (DESIGN "Results (schema 1)").

    - `outcomes`: counts per outcome, in the closed set's order, zero counts left out;
    - `crash_rate`: k/n with a Wilson 95% interval, where k counts crash, corrupt, timeout and
      oom runs (every way a run that ran can fail) and n counts runs that ran: infra-error,
      unsupported and build-error runs say nothing about the cell and are left out of n.
      With n = 0, `rate` and `ci95` are null;
    - `metrics`: per metric reported by passing runs, the median, its 95% interval and n (a
      crashed run's partial numbers would skew the distribution);
    - `top_signature`: the most common crash signature, or null.

    `kind` is one of the fixture kinds; all kinds are summarised alike today.
    """
    if kind not in FIXTURE_KINDS:
        raise ValueError(f"unknown fixture kind {kind!r}")
    counts = Counter(str(r.get("outcome")) for r in runs)
    ordered = {o: counts[o] for o in _OUTCOME_ORDER if counts[o]}
    ordered.update({o: c for o, c in counts.items() if o not in ordered})
    return {
        "n": len(runs),
        "outcomes": ordered,
        "crash_rate": _crash_rate(counts),
        "metrics": _metric_summaries(runs),
        "top_signature": _top_signature(runs),
    }


def verdict(outcomes: Sequence[str | Outcome], expected: Sequence[str | Outcome]) -> str:
    """`expected` iff there is at least one outcome and every outcome is in `expected`.

    Callers pass the run outcomes, or the build status (`build-error`, `unsupported`) once when
    the cell did not build. A fixture excluded by its requirements is expected when the caller
    adds `unsupported` to `expected`. Any infra-error makes it `unexpected` (the result is not
    known), and so does an empty list (nothing observed is no evidence).
    """
    seen = {str(o) for o in outcomes}
    allowed = {str(o) for o in expected}
    if not seen or "infra-error" in seen:
        return "unexpected"
    return "expected" if seen <= allowed else "unexpected"
