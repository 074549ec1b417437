"""Does a pooled p99 pause test find a 10% change at 10 runs a side, and leave a control alone?

1. `fit` measures, on real runs of a bench fixture in one cell (passing, measured runs with a
   pause histogram), the numbers a generator needs: pauses per run, the log-spread of pauses
   within a run, the run-to-run log-spread of a run's median pause, and the median pause.
2. `synthetic_runs` makes runs from them: each run gets a random scale (the run-to-run spread),
   each pause is log-normal around it, and pauses are counted into Go 1.22's real
   runtime/metrics bucket grid (tests/data/pauses/go1.22-pause-buckets.json).
3. `trials` runs seeded trials: a side multiplied by 1.10 against an unchanged one, and two
   unchanged sides (the control), each through `pausepool.compare_p99`.

    python benchmarks/pause_power.py RUN_DIR [--fixture gc_small_objects] [--cell go1.22-default]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from harness import pausepool  # noqa: E402

BUCKETS = ROOT / "tests" / "data" / "pauses" / "go1.22-pause-buckets.json"


@dataclass(frozen=True)
class Spread:
    """What the generator reproduces (pause times in ns)."""

    pauses_per_run: int
    median_ns: float
    sigma_within: float  # log-spread of pauses inside one run
    sigma_between: float  # run-to-run log-spread of a run's median pause


def fit(histograms: list[pausepool.PauseHistogram]) -> Spread:
    """Spread of real runs: z(0.9) - z(0.1) = 2.563 standard deviations of a normal."""
    within = [
        math.log(h.quantile_ns(0.9) or 1) - math.log(h.quantile_ns(0.1) or 1) for h in histograms
    ]
    medians = [math.log(h.quantile_ns(0.5) or 1) for h in histograms]
    return Spread(
        pauses_per_run=round(statistics.median(h.total for h in histograms)),
        median_ns=float(pausepool.pool(histograms).quantile_ns(0.5) or 0),
        sigma_within=statistics.median(within) / 2.563,
        sigma_between=statistics.stdev(medians),
    )


def bucket_grid() -> list[float]:
    """Go 1.22's pause bucket boundaries in ns (null = infinite)."""
    bounds = json.loads(BUCKETS.read_text())
    return [
        (-math.inf if i == 0 else math.inf) if b is None else b * 1e9 for i, b in enumerate(bounds)
    ]


def synthetic_runs(
    spread: Spread, runs: int, scale: float, rng: random.Random, grid: list[float]
) -> list[pausepool.PauseHistogram]:
    made = []
    for _ in range(runs):
        run_mu = math.log(spread.median_ns * scale) + rng.gauss(0, spread.sigma_between)
        counts: dict[int, int] = {}
        for _ in range(spread.pauses_per_run):
            i = bisect_right(grid, math.exp(rng.gauss(run_mu, spread.sigma_within))) - 1
            counts[i] = counts.get(i, 0) + 1
        keys = sorted(counts)
        bounds = tuple((grid[i], grid[i + 1]) for i in keys)
        made.append(pausepool.PauseHistogram(bounds, tuple(counts[i] for i in keys)))
    return made


def resampled_runs(
    real: list[pausepool.PauseHistogram],
    runs: int,
    scale: float,
    rng: random.Random,
    grid: list[float],
    length: int = 1,
) -> list[pausepool.PauseHistogram]:
    """Runs made from the real ones: each picks a real run at random and draws `length` times its
    number of pauses from it with replacement (a value log-uniform inside the pause's bucket),
    times `scale`, counted into the bucket grid. The run-to-run spread and the shape of the pauses
    (here: a few µs, and ms-long pauses when the loaded machine descheduled the GC) stay the real
    ones; `length` > 1 stands for runs that many times longer."""
    made = []
    for _ in range(runs):
        source = real[rng.randrange(len(real))]
        buckets = [
            b for b, c in zip(source.bounds_ns, source.counts, strict=True) for _ in range(c)
        ]
        counts: dict[int, int] = {}
        for _ in range(len(buckets) * length):
            lo, hi = rng.choice(buckets)
            value = math.exp(rng.uniform(math.log(max(lo, 1.0)), math.log(hi))) * scale
            i = bisect_right(grid, value) - 1
            counts[i] = counts.get(i, 0) + 1
        keys = sorted(counts)
        bounds = tuple((grid[i], grid[i + 1]) for i in keys)
        made.append(pausepool.PauseHistogram(bounds, tuple(counts[i] for i in keys)))
    return made


def trials(spread: Spread | list[pausepool.PauseHistogram], *, n_trials: int = 10,
           runs: int = 10, change: float = 1.10, length: int = 1,
           permutations: int = pausepool.PERMUTATIONS) -> tuple[int, int]:  # fmt: skip
    """(changed sides found significant, controls found significant) over seeded trials, on
    log-normal runs of a fitted `Spread` or on real runs resampled."""
    grid, found, false_alarms = bucket_grid(), 0, 0

    def make(scale: float, rng: random.Random) -> list[pausepool.PauseHistogram]:
        if isinstance(spread, Spread):
            return synthetic_runs(spread, runs, scale, rng, grid)
        return resampled_runs(spread, runs, scale, rng, grid, length)

    for seed in range(n_trials):
        rng = random.Random(seed)
        base, moved, same = make(1.0, rng), make(change, rng), make(1.0, rng)
        found += pausepool.compare_p99(
            moved, base, permutations=permutations, seed=seed
        ).significant
        control = pausepool.compare_p99(same, base, permutations=permutations, seed=seed)
        false_alarms += control.significant
    return found, false_alarms


def _real_histograms(run_dir: Path, cell: str, fixture: str) -> list[pausepool.PauseHistogram]:
    doc = json.loads((run_dir / "cells" / f"{cell}.json").read_text())
    runs = doc["fixtures"][fixture]["runs"]
    return pausepool.run_histograms(r for r in runs if r["outcome"] == "pass")


def _compare(
    real: list[pausepool.PauseHistogram],
    other: list[pausepool.PauseHistogram],
    args: argparse.Namespace,
) -> int:
    """Pooled pauses of two runs of the same cell and fixture, and the pooled p99 test."""
    for name, hists in ((args.run_dir.name, real), (args.against.name, other)):
        pooled = pausepool.pooled_pauses(hists)
        p99 = "too few pauses" if pooled.p99_ns is None else f"{pooled.p99_ns:.0f} ns"
        print(f"{name}: {pooled.runs} runs, {pooled.pauses} pauses, p50 {pooled.p50_ns:.0f} ns,"
              f" p99 {p99}, max {pooled.max_ns:.0f} ns")  # fmt: skip
    print(f"pooled p99 of the first against the second: {pausepool.compare_p99(real, other).text}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a gxm run directory with bench runs")
    parser.add_argument("--cell", default="go1.22-default", help="cell id (default: %(default)s)")
    parser.add_argument("--fixture", default="gc_small_objects", help="bench fixture")
    parser.add_argument("--trials", type=int, default=10, help="seeded trials (default: 10)")
    parser.add_argument("--length", type=int, action="append",
                        help="also try runs this many times longer (repeatable)")  # fmt: skip
    parser.add_argument("--against", type=Path,
                        help="compare RUN_DIR's pooled pauses with this run's")  # fmt: skip
    args = parser.parse_args()
    real = _real_histograms(args.run_dir, args.cell, args.fixture)
    if args.against:
        return _compare(real, _real_histograms(args.against, args.cell, args.fixture), args)
    print(f"{len(real)} real runs of {args.fixture} in {args.cell} ({args.run_dir.name}):")
    print(f"  log-normal fit: {fit(real)}")
    for length in [1, *(args.length or [])]:
        found, false_alarms = trials(real, n_trials=args.trials, length=length)
        pauses = statistics.median(h.total for h in real) * length
        print(f"real runs resampled, ~{pauses:.0f} pauses/run, 10 runs a side: 10% higher p99"
              f" significant in {found}/{args.trials} trials; unchanged control significant in"
              f" {false_alarms}/{args.trials}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
