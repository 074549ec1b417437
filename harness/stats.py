"""Statistics for results: medians with distribution-free intervals, Wilson intervals for crash
rates, the per-fixture `summary` object of a cell document, the verdict, and comparisons against a
baseline (Mann–Whitney U for metrics, Fisher's exact test for crash rates; `significance.py`).

Pure functions over plain values and dicts (the cell JSON shapes), no I/O. Warm-up runs (run
records with `"warmup": true`) are never counted in a summary or a comparison.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.model import FIXTURE_KINDS, Outcome
from harness.significance import fisher_exact_p, mann_whitney_u_p
from harness.store.records import RunRecord

Z95 = 1.959963984540054  # two-sided 95% standard normal quantile

# Outcomes that count against a fixture's crash rate: the run ran, and it did not end well.
FAILURE_OUTCOMES = frozenset(
    {Outcome.CRASH.value, Outcome.CORRUPT.value, Outcome.TIMEOUT.value, Outcome.OOM.value}
)
# Outcomes that say nothing about the cell: left out of the crash rate's n.
NOT_A_TRIAL = frozenset(
    {Outcome.INFRA_ERROR.value, Outcome.UNSUPPORTED.value, Outcome.BUILD_ERROR.value}
)

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
    return sum(math.comb(n, i) for i in range(k + 1)) / (1 << n)


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


def measured_runs(runs: Iterable[RunRecord]) -> list[RunRecord]:
    """The runs that count: every run record except warm-ups."""
    return [run for run in runs if not run.warmup]


def metric_samples(runs: Iterable[RunRecord], name: str) -> list[float]:
    """The values of metric `name` from passing, measured (non-warm-up) runs, in run order."""
    values = []
    for run in measured_runs(runs):
        value = run.metrics.get(name)
        if run.outcome is Outcome.PASS and isinstance(value, (int, float)) and _is_number(value):
            values.append(float(value))
    return values


def _metric_summaries(runs: Sequence[RunRecord]) -> dict[str, dict[str, Any]]:
    """Per metric over passing runs: median, 95% interval of the median, n."""
    samples: dict[str, list[float]] = {}
    for run in runs:
        if run.outcome is not Outcome.PASS:
            continue
        for name, value in run.metrics.items():
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


def top_signature(runs: Iterable[RunRecord]) -> str | None:
    """The most common signature; on a tie the one seen first (runs are in run order)."""
    counts = Counter(r.signature for r in runs if r.signature)
    return counts.most_common(1)[0][0] if counts else None


def summarize_runs(runs: Sequence[RunRecord], kind: str) -> dict[str, Any]:
    """The `summary` object of one fixture in a cell document (docs/contracts.md, "Results").

    - `outcomes`: counts per outcome, in the closed set's order, zero counts left out;
    - `crash_rate`: k/n with a Wilson 95% interval, where k counts crash, corrupt, timeout and
      oom runs (every way a run that ran can fail) and n counts runs that ran: infra-error,
      unsupported and build-error runs say nothing about the cell and are left out of n.
      With n = 0, `rate` and `ci95` are null;
    - `metrics`: per metric reported by passing runs, the median, its 95% interval and n (a
      crashed run's partial numbers would skew the distribution);
    - `top_signature`: the most common crash signature, or null;
    - `warmup` (only when there were warm-up runs): their outcome counts. Warm-ups are left out
      of everything above; the verdict still sees them, so a crashing warm-up is never hidden.

    `kind` is one of the fixture kinds; all kinds are summarised alike today.
    """
    if kind not in FIXTURE_KINDS:
        raise ValueError(f"unknown fixture kind {kind!r}")
    measured = measured_runs(runs)
    counts = _ordered_counts(Counter(r.outcome.value for r in measured))
    summary: dict[str, Any] = {
        "n": len(measured),
        "outcomes": counts,
        "crash_rate": _crash_rate(Counter(counts)),
        "metrics": _metric_summaries(measured),
        "top_signature": top_signature(measured),
    }
    warmups = [r for r in runs if r.warmup]
    if warmups:
        summary["warmup"] = _ordered_counts(Counter(r.outcome.value for r in warmups))
    return summary


def _ordered_counts(counts: Counter[str]) -> dict[str, int]:
    """Outcome counts in the closed set's order, zero counts left out, unknown names last."""
    ordered = {o: counts[o] for o in _OUTCOME_ORDER if counts[o]}
    ordered.update({o: c for o, c in counts.items() if o not in ordered})
    return ordered


def verdict(outcomes: Sequence[str | Outcome], expected: Sequence[str | Outcome]) -> str:
    """`expected` iff there is at least one outcome and every outcome is in `expected`.

    Callers pass the run outcomes, or the build status (`build-error`, `unsupported`) once when
    the cell did not build. A fixture excluded by its requirements is expected when the caller
    adds `unsupported` to `expected`. An empty list is `unexpected` (nothing observed is no
    evidence). An infra-error is never blamed on the fixture: when every other outcome is
    expected the verdict is `inconclusive` (the result is not known; `--resume` redoes it).
    """
    seen = {str(o) for o in outcomes}
    allowed = {str(o) for o in expected}
    infra = Outcome.INFRA_ERROR.value
    if not seen or not (seen - {infra}) <= allowed:
        return "unexpected"
    return "inconclusive" if infra in seen else "expected"


# --- comparisons against a baseline -------------------------------------------------------------

ALPHA = 0.05  # a change is significant when p < ALPHA (benchstat's default)
MAX_RELATIVE_SPREAD = 0.10  # robust spread (scaled MAD / median) above this is too noisy to trust
MIN_TRUSTED_RUNS = 5
# A bench run is disturbed when the rest of the host used more than this many CPUs' worth of time
# while it ran (backends.cpuuse); on a quiet machine that was at most two hundredths of one.
NOISY_OTHERS_CPUS = 0.1


def min_p_value(n_a: int, n_b: int) -> float:
    """The smallest two-sided p a Mann–Whitney U test can give for sample sizes n_a and n_b.

    With 3 runs a side it is 0.1: no difference, however large, can be significant at 0.05.
    """
    if n_a < 1 or n_b < 1:
        return 1.0
    return min(1.0, 2 / math.comb(n_a + n_b, n_a))


def mann_whitney_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided Mann–Whitney U p-value of samples a and b (scipy.stats' method: exact for small
    samples without ties, normal approximation with tie correction otherwise). 1.0 when all
    values tie."""
    return mann_whitney_u_p(a, b)


def fisher_p(k_a: int, n_a: int, k_b: int, n_b: int) -> float:
    """Two-sided Fisher exact p-value that failure rates k_a/n_a and k_b/n_b differ."""
    if not (0 <= k_a <= n_a and 0 <= k_b <= n_b) or n_a == 0 or n_b == 0:
        raise ValueError(f"need 0 <= k <= n and n > 0, got {k_a}/{n_a} and {k_b}/{n_b}")
    return fisher_exact_p([[k_a, n_a - k_a], [k_b, n_b - k_b]])


def p_text(p_value: float) -> str:
    """`p=0.036`, or `p<0.001` rather than a misleading `p=0.000`."""
    return "p<0.001" if p_value < 0.001 else f"p={p_value:.3f}"


@dataclass(frozen=True)
class MetricChange:
    """A metric of one cell against its baseline: ratio of medians and a Mann–Whitney U p.

    `p_value` is None when a side has no values; `testable` is False when the sample sizes are
    too small for any difference to reach significance (see `min_p_value`).
    """

    n: int
    n_baseline: int
    median: float | None
    baseline_median: float | None
    p_value: float | None
    alpha: float = ALPHA

    @property
    def ratio(self) -> float | None:
        if self.median is None or not self.baseline_median:
            return None
        return self.median / self.baseline_median

    @property
    def testable(self) -> bool:
        return min_p_value(self.n, self.n_baseline) < self.alpha

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.testable and self.p_value < self.alpha

    @property
    def delta_text(self) -> str:
        """`+12%` when significant, `~` when not, `?` when too few runs to tell, `-` when a side
        is missing (benchstat's notation)."""
        if self.p_value is None:
            return "-"
        if not self.testable:
            return "?"
        if not self.significant:
            return "~"
        ratio = self.ratio
        return "changed" if ratio is None else f"{(ratio - 1) * 100:+.0f}%"

    @property
    def detail_text(self) -> str:
        """`+12% (p=0.003 n=10+10)`: the delta with its evidence."""
        if self.p_value is None:
            return self.delta_text
        return f"{self.delta_text} ({p_text(self.p_value)} n={self.n}+{self.n_baseline})"


def compare_samples(
    values: Sequence[float], baseline: Sequence[float], alpha: float = ALPHA
) -> MetricChange:
    """`values` against `baseline`: medians, and the Mann–Whitney U p when both sides have data."""
    p = mann_whitney_p(values, baseline) if values and baseline else None
    return MetricChange(
        n=len(values),
        n_baseline=len(baseline),
        median=median(values) if values else None,
        baseline_median=median(baseline) if baseline else None,
        p_value=p,
        alpha=alpha,
    )


@dataclass(frozen=True)
class RateChange:
    """A crash rate k/n against the baseline's, with Fisher's exact p (None when a side has n=0)."""

    k: int
    n: int
    k_baseline: int
    n_baseline: int
    p_value: float | None
    alpha: float = ALPHA

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < self.alpha

    @property
    def text(self) -> str:
        """`3/10 vs 0/10 (p=0.211)`; `~` prefix when not significant."""
        base = f"{self.k}/{self.n} vs {self.k_baseline}/{self.n_baseline}"
        if self.p_value is None:
            return base
        mark = "" if self.significant else "~ "
        return f"{mark}{base} ({p_text(self.p_value)})"


def compare_rates(k: int, n: int, k_baseline: int, n_baseline: int) -> RateChange:
    """Crash rate k/n against k_baseline/n_baseline with Fisher's exact test."""
    p = fisher_p(k, n, k_baseline, n_baseline) if n and n_baseline else None
    return RateChange(k, n, k_baseline, n_baseline, p)


def relative_spread(values: Sequence[float]) -> float | None:
    """Scaled median absolute deviation over |median| (≈ the coefficient of variation for normal
    data, but not thrown by one outlier); None for fewer than 2 values or a zero median."""
    if len(values) < 2:
        return None
    centre = median(values)
    if centre == 0:
        return None
    mad = median(abs(v - centre) for v in values)
    return 1.4826 * mad / abs(centre)


@dataclass(frozen=True)
class SpreadWarning:
    """One reason not to trust a metric: `kind` is `few-runs`, `spread` or `load`."""

    kind: str
    text: str


def spread_warnings(
    values: Sequence[float],
    load_avgs: Sequence[float] = (),
    cpus: int | None = None,
    others_cpus: Sequence[float] = (),
) -> list[SpreadWarning]:
    """Why a metric's numbers should not be trusted (empty when no reason applies): too few runs
    (under MIN_TRUSTED_RUNS), a relative spread over MAX_RELATIVE_SPREAD, or a noisy machine.

    Noisy: where every run says how much CPU the rest of the host used while it ran
    (`others_cpus`, in CPUs: `run_others_cpus`), more than NOISY_OTHERS_CPUS in some run; else
    (older runs, the docker backend) the 1-minute load average recorded before a run over the CPU
    count, which gxm's own runs push up as well."""
    reasons = []
    if len(values) < MIN_TRUSTED_RUNS:
        reasons.append(
            SpreadWarning("few-runs", f"only {len(values)} runs (want ≥{MIN_TRUSTED_RUNS})")
        )
    spread = relative_spread(values)
    if spread is not None and spread > MAX_RELATIVE_SPREAD:
        limit = f"{MAX_RELATIVE_SPREAD * 100:.0f}%"
        reasons.append(SpreadWarning("spread", f"spread ±{spread * 100:.0f}% (over {limit})"))
    if others_cpus:
        if max(others_cpus) > NOISY_OTHERS_CPUS:
            text = (f"noisy machine: other processes took up to {max(others_cpus):.2f} CPUs "
                    "during a run")  # fmt: skip
            reasons.append(SpreadWarning("load", text))
    elif cpus and load_avgs and max(load_avgs) > cpus:
        text = f"noisy machine: load average up to {max(load_avgs):.1f} on {cpus} CPUs"
        reasons.append(SpreadWarning("load", text))
    return reasons


def run_others_cpus(runs: Iterable[RunRecord]) -> list[float]:
    """How many CPUs' worth of time the rest of the host used during each measured run
    (`others_cpu_s` over the run's seconds); [] unless every measured run recorded it."""
    shares = []
    for run in measured_runs(runs):
        if run.others_cpu_s is None or run.seconds <= 0:
            return []
        shares.append(run.others_cpu_s / run.seconds)
    return shares


def run_load_avgs(runs: Iterable[RunRecord]) -> list[float]:
    """The 1-minute load averages recorded before each measured run (`load_avg[0]`)."""
    loads = []
    for run in measured_runs(runs):
        load = run.load_avg
        if load and _is_number(load[0]):
            loads.append(float(load[0]))
    return loads
