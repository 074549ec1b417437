"""GC pauses pooled over runs: the runtime/metrics pause histograms of all runs of a cell added up
(histograms add), their quantiles, and whether one cell's pooled p99 differs from another's.

Why pool: a run of a bench fixture has a few dozen pauses, so its own "p99" is its maximum, and
the median of per-run p99s is a median of maxima. The pooled distribution of N runs has N times
the pauses, and its p99 means what it says once there are enough of them (`MIN_PAUSES_FOR_P99`).

Quantiles are interpolated log-linearly inside the bucket that holds the rank (the runtime's
time buckets are a quarter of a power of two wide, 12-25%, too coarse for 10% changes); the max
is the upper bound of the highest non-empty bucket, as the probe reports it.

Whether a pooled p99 changed is a permutation test over runs (runs, not pauses, are the
independent unit: the pauses of one run share its heap and its machine): the runs of both sides
are shuffled between them, seeded, and p is the share of shuffles whose |log p99 ratio| is at
least the observed one.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.store.records import RunRecord

MIN_PAUSES_FOR_P99 = 100
PERMUTATIONS = 2000
ALPHA = 0.05
RECORD_KEY = "gc_pause_histogram"  # in a fixture's result file and in a run record


@dataclass(frozen=True)
class PauseHistogram:
    """Non-empty buckets: (lower_ns, upper_ns) with ±inf for open ends, and their counts."""

    bounds_ns: tuple[tuple[float, float], ...]
    counts: tuple[int, ...]

    @classmethod
    def from_json(cls, doc: object) -> PauseHistogram:
        """`{"bounds_ns": [[lo, hi], ...], "counts": [...]}` (null bounds are infinite); raises
        ValueError saying what is wrong."""
        if not isinstance(doc, Mapping):
            raise ValueError("gc_pause_histogram is not an object")
        bounds, counts = doc.get("bounds_ns"), doc.get("counts")
        if not isinstance(bounds, list) or not isinstance(counts, list):
            raise ValueError("gc_pause_histogram needs lists bounds_ns and counts")
        if len(bounds) != len(counts):
            raise ValueError("gc_pause_histogram: bounds_ns and counts differ in length")
        parsed = tuple(_bounds(b) for b in bounds)
        if any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in counts):
            raise ValueError("gc_pause_histogram: counts must be integers >= 0")
        return cls(parsed, tuple(counts))

    def to_json(self) -> dict[str, Any]:
        bounds = [[_finite_or_none(lo), _finite_or_none(hi)] for lo, hi in self.bounds_ns]
        return {"bounds_ns": bounds, "counts": list(self.counts)}

    @property
    def total(self) -> int:
        return sum(self.counts)

    def quantile_ns(self, q: float) -> float | None:
        """The q-quantile (0 < q <= 1), interpolated inside its bucket; None when empty."""
        return _quantile(self.bounds_ns, self.counts, q)

    def max_ns(self) -> float | None:
        """Upper bound of the highest non-empty bucket (its lower bound when that is open)."""
        for (lo, hi), count in sorted(zip(self.bounds_ns, self.counts, strict=True), reverse=True):
            if count:
                return hi if math.isfinite(hi) else (lo if math.isfinite(lo) else 0.0)
        return None


def _bounds(pair: object) -> tuple[float, float]:
    if not isinstance(pair, list) or len(pair) != 2:
        raise ValueError("gc_pause_histogram: each bound is a [lower, upper] pair")
    lo = -math.inf if pair[0] is None else pair[0]
    hi = math.inf if pair[1] is None else pair[1]
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (lo, hi)):
        raise ValueError("gc_pause_histogram: bounds must be numbers or null")
    if not lo < hi:
        raise ValueError(f"gc_pause_histogram: bucket [{lo}, {hi}) is empty")
    return float(lo), float(hi)


def _finite_or_none(x: float) -> float | int | None:
    if not math.isfinite(x):
        return None
    return int(x) if x.is_integer() else x


def _bucket_value(lo: float, hi: float, fraction: float) -> float:
    if not math.isfinite(hi):
        return lo if math.isfinite(lo) else 0.0
    if not math.isfinite(lo) or lo <= 0:
        return max(lo, 0.0) + (hi - max(lo, 0.0)) * fraction
    return float(lo * (hi / lo) ** fraction)


def _quantile(
    bounds: Sequence[tuple[float, float]], counts: Sequence[int], q: float
) -> float | None:
    total = sum(counts)
    if total == 0:
        return None
    rank, seen = q * total, 0
    for (lo, hi), count in sorted(zip(bounds, counts, strict=True)):
        if count and seen + count >= rank:
            return _bucket_value(lo, hi, max(0.0, rank - seen) / count)
        seen += count
    lo, hi = max(bounds)
    return _bucket_value(lo, hi, 1.0)


def pool(histograms: Iterable[PauseHistogram]) -> PauseHistogram:
    """The sum of histograms (of one binary, so of the same buckets)."""
    summed: dict[tuple[float, float], int] = {}
    for hist in histograms:
        for bounds, count in zip(hist.bounds_ns, hist.counts, strict=True):
            summed[bounds] = summed.get(bounds, 0) + count
    keys = sorted(summed)
    return PauseHistogram(tuple(keys), tuple(summed[k] for k in keys))


def run_histograms(runs: Iterable[RunRecord]) -> list[PauseHistogram]:
    """The pause histogram of every measured (not warm-up) run that recorded one."""
    found = []
    for run in runs:
        doc = run.gc_pause_histogram
        if doc is not None and not run.warmup:
            found.append(PauseHistogram.from_json(doc))
    return found


@dataclass(frozen=True)
class PooledPauses:
    """Quantiles of the pooled pauses of `runs` runs; p99 is None with too few pauses."""

    runs: int
    pauses: int
    p50_ns: float | None
    p99_ns: float | None
    max_ns: float | None

    @property
    def too_few(self) -> bool:
        return self.pauses < MIN_PAUSES_FOR_P99


def pooled_pauses(histograms: Sequence[PauseHistogram]) -> PooledPauses:
    pooled = pool(histograms)
    enough = pooled.total >= MIN_PAUSES_FOR_P99
    return PooledPauses(
        runs=len(histograms),
        pauses=pooled.total,
        p50_ns=pooled.quantile_ns(0.5),
        p99_ns=pooled.quantile_ns(0.99) if enough else None,
        max_ns=pooled.max_ns(),
    )


@dataclass(frozen=True)
class PooledChange:
    """Pooled p99 of one side against a baseline: ratio and the permutation p (None when a side
    has too few pauses)."""

    ratio: float | None
    p_value: float | None
    runs: int
    runs_baseline: int

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < ALPHA

    @property
    def text(self) -> str:
        """`+12% (p=0.004, 10+10 runs)`, `~ (p=0.41, ...)`, or `-` when it cannot be told."""
        if self.ratio is None or self.p_value is None:
            return "-"
        p = "p<0.001" if self.p_value < 0.001 else f"p={self.p_value:.3f}"
        delta = f"{(self.ratio - 1) * 100:+.0f}%" if self.significant else "~"
        return f"{delta} ({p}, {self.runs}+{self.runs_baseline} runs)"


def _pooled_p99(hists: Sequence[PauseHistogram]) -> float | None:
    pooled = pool(hists)
    return pooled.quantile_ns(0.99) if pooled.total >= MIN_PAUSES_FOR_P99 else None


def _quantiles(grid: Sequence[tuple[float, float]], counts: Any, q: float) -> Any:
    """`_quantile` for every row of a counts matrix on one sorted grid, vectorised (numpy)."""
    import numpy as np

    lo = np.array([b[0] for b in grid])
    hi = np.array([b[1] for b in grid])
    cum = np.cumsum(counts, axis=1)
    rank = q * cum[:, -1]
    idx = np.argmax(cum >= rank[:, None] - 1e-9, axis=1)
    rows = np.arange(len(counts))
    here = counts[rows, idx]
    fraction = np.clip((rank - (cum[rows, idx] - here)) / np.maximum(here, 1), 0.0, 1.0)
    b_lo, b_hi = lo[idx], hi[idx]
    with np.errstate(all="ignore"):
        geometric = b_lo * (b_hi / b_lo) ** fraction
        linear = np.maximum(b_lo, 0) + (b_hi - np.maximum(b_lo, 0)) * fraction
    value = np.where(np.isfinite(b_lo) & (b_lo > 0), geometric, linear)
    open_top = np.where(np.isfinite(b_lo), b_lo, 0.0)
    return np.where(np.isfinite(b_hi), value, open_top)


def compare_p99(
    runs: Sequence[PauseHistogram],
    baseline: Sequence[PauseHistogram],
    *,
    permutations: int = PERMUTATIONS,
    seed: int = 0,
) -> PooledChange:
    """Pooled p99 of `runs` against `baseline`, with a seeded permutation test over runs.
    The same histograms give the same answer: it is kept (a report in several formats asks
    for each cell once per format, and the test was most of rendering one)."""
    return _compare_p99(tuple(runs), tuple(baseline), permutations, seed)


@functools.lru_cache(maxsize=512)
def _compare_p99(
    runs: tuple[PauseHistogram, ...],
    baseline: tuple[PauseHistogram, ...],
    permutations: int,
    seed: int,
) -> PooledChange:
    p99, base = _pooled_p99(runs), _pooled_p99(baseline)
    if not p99 or not base:
        return PooledChange(None, None, len(runs), len(baseline))
    import numpy as np

    everything = [*runs, *baseline]
    grid = sorted({b for h in everything for b in h.bounds_ns})
    index = {b: i for i, b in enumerate(grid)}
    matrix = np.zeros((len(everything), len(grid)), dtype=np.int64)
    for r, hist in enumerate(everything):
        for bounds, count in zip(hist.bounds_ns, hist.counts, strict=True):
            matrix[r, index[bounds]] += count
    order = np.random.default_rng(seed).permuted(
        np.tile(np.arange(len(everything)), (permutations, 1)), axis=1
    )
    side = matrix[order[:, : len(runs)]].sum(axis=1)
    other = matrix[order[:, len(runs) :]].sum(axis=1)
    enough = (side.sum(axis=1) >= MIN_PAUSES_FOR_P99) & (other.sum(axis=1) >= MIN_PAUSES_FOR_P99)
    with np.errstate(all="ignore"):
        shuffled = np.abs(np.log(_quantiles(grid, side, 0.99) / _quantiles(grid, other, 0.99)))
    observed = abs(math.log(p99 / base)) - 1e-12
    extreme = int(np.sum(enough & (shuffled >= observed)))
    return PooledChange(p99 / base, (extreme + 1) / (permutations + 1), len(runs), len(baseline))
