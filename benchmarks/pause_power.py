"""Does the pooled p99 pause test find a 10% change at 10 runs a side, and leave a control alone?

Measured with real gxm runs here (`nox -s perf` runs this after overhead.py), at the nightly
profile's bench settings (benchmarks/pause_power.yaml: a GC benchmark on Go 1.22, gc_short_cycles
unless --fixture says otherwise, 10 measured runs of 1 s after a warm-up, local backend; runs
of --duration seconds instead), each pair of sides as two cells of ONE run so their runs are
interleaved and share the machine's load:

1. knobs: GOGC=200 against GOGC=50 (profile `knob`), GOMAXPROCS=1 against 2 (`procs`), and the
   control, GOGC=100 twice (`control`), through `pausepool.compare_p99` as `gxm report` shows it;
2. fit: from the control's baseline runs, what generated runs need: the pooled pause distribution
   (its shape, ms-long pauses of a descheduled GC included), the pauses per run, and the
   run-to-run spread of a run's log p99 with the part that sampling that many pauses explains
   taken out (`sigma_between`: the runs really differ, mostly by what else the machine does);
3. trials: seeded; every generated run draws its pauses from the shape, is scaled by its own
   random factor (sigma_between), the changed side by 1.10 more; counted into Go 1.22's real
   bucket grid (tests/data/pauses/go1.22-pause-buckets.json); the changed side and an unchanged
   one (the control) are each tested against an unchanged side. `--length N` also tries runs with
   N times the pauses (the machine's part of the spread kept: a conservative assumption; measured
   here, the machine's part for 30 s runs was a quarter to a half of that for 1 s runs).

    python benchmarks/pause_power.py                  # measure (about 2 min), fit, trial
    python benchmarks/pause_power.py --duration 30    # runs of 30 s (about 35 min)
    python benchmarks/pause_power.py RUN_DIR [--cell C] [--fixture F] [--against-cell C2]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from harness import pausepool  # noqa: E402
from harness.model import Outcome  # noqa: E402
from harness.store import RunStore  # noqa: E402

BUCKETS = ROOT / "tests" / "data" / "pauses" / "go1.22-pause-buckets.json"
MATRIX = ROOT / "benchmarks" / "pause_power.yaml"
FIXTURE = "gc_short_cycles"
BASELINE_CELL = "go1.22-default"
OTHER_CELL = "go1.22-default-panicnil_0"


@dataclass(frozen=True)
class Shape:
    """A pooled pause distribution: buckets [lower, upper) in ns and the share of pauses in each."""

    lower_ns: tuple[float, ...]
    upper_ns: tuple[float, ...]
    share: tuple[float, ...]

    @classmethod
    def of(cls, histograms: Sequence[pausepool.PauseHistogram]) -> Shape:
        pooled = pausepool.pool(histograms)
        lower = [max(lo, 1.0) for lo, _ in pooled.bounds_ns]
        upper = [hi if math.isfinite(hi) else max(lo, 1.0) for lo, hi in pooled.bounds_ns]
        return cls(tuple(lower), tuple(upper), tuple(c / pooled.total for c in pooled.counts))

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n pauses (ns): a bucket by its share, a value log-uniform inside it."""
        i = rng.choice(len(self.share), size=n, p=np.array(self.share))
        lo, hi = np.log(np.array(self.lower_ns)[i]), np.log(np.array(self.upper_ns)[i])
        return np.exp(rng.uniform(lo, hi))


@dataclass(frozen=True)
class Spread:
    """What generated runs reproduce of real ones; sigmas are standard deviations of log p99."""

    shape: Shape
    pauses_per_run: int
    sigma_observed: float = 0.0  # run to run, in the real runs
    sigma_sampling: float = 0.0  # drawing pauses_per_run pauses from the shape alone
    sigma_between: float = 0.0  # the rest: sqrt(observed² - sampling²), at least 0

    def text(self) -> str:
        return (f"{self.pauses_per_run} pauses/run; run-to-run sd of log p99 "
                f"{self.sigma_observed:.3f} = sampling {self.sigma_sampling:.3f} (+) between "
                f"runs {self.sigma_between:.3f}")  # fmt: skip


def bucket_grid() -> np.ndarray:
    """Go 1.22's pause bucket boundaries in ns (null = infinite)."""
    bounds = json.loads(BUCKETS.read_text())
    infinite = [-math.inf] + [math.inf] * (len(bounds) - 1)
    edges = [inf if b is None else b * 1e9 for inf, b in zip(infinite, bounds, strict=True)]
    return np.array(edges)


def counted(values_ns: np.ndarray, grid: np.ndarray) -> pausepool.PauseHistogram:
    """Pauses counted into the bucket grid, as the probe writes them."""
    index = np.searchsorted(grid, values_ns, side="right") - 1
    keys, counts = np.unique(index, return_counts=True)
    bounds = tuple((float(grid[k]), float(grid[k + 1])) for k in keys)
    return pausepool.PauseHistogram(bounds, tuple(int(c) for c in counts))


def _log_p99(hist: pausepool.PauseHistogram) -> float:
    return math.log(hist.quantile_ns(0.99) or 1.0)


def fit(
    histograms: Sequence[pausepool.PauseHistogram], *, sims: int = 400, seed: int = 0
) -> Spread:
    """The spread of real runs: the sampling part is what runs drawn from the pooled shape alone
    show (simulated `sims` times), the between-runs part the variance left over. Fewer than two
    runs with pauses (a cell where the fixture is unsupported, say): SystemExit with a message."""
    with_pauses = sum(1 for h in histograms if h.total)
    if with_pauses < 2:
        raise SystemExit(f"pause_power: {with_pauses} passing measured run(s) with pauses; "
                         "fitting a run-to-run spread needs at least 2")  # fmt: skip
    shape = Shape.of(histograms)
    pauses = round(statistics.median(h.total for h in histograms))
    rng, grid = np.random.default_rng(seed), bucket_grid()
    observed = statistics.variance([_log_p99(h) for h in histograms])
    sampling = statistics.variance(
        [_log_p99(counted(shape.draw(rng, pauses), grid)) for _ in range(sims)]
    )
    return Spread(shape, pauses, math.sqrt(observed), math.sqrt(sampling),
                  math.sqrt(max(0.0, observed - sampling)))  # fmt: skip


def generated_runs(
    spread: Spread, runs: int, scale: float, rng: np.random.Generator, *, length: int = 1
) -> list[pausepool.PauseHistogram]:
    """Runs of `length` times the real pauses per run, each scaled by its own log-normal factor
    (sigma_between) and by `scale`."""
    grid = bucket_grid()
    made = []
    for _ in range(runs):
        factor = scale * math.exp(rng.normal(0.0, spread.sigma_between))
        made.append(counted(spread.shape.draw(rng, spread.pauses_per_run * length) * factor, grid))
    return made


def trials(
    spread: Spread,
    *,
    n_trials: int = 10,
    runs: int = 10,
    change: float = 1.10,
    length: int = 1,
    permutations: int = pausepool.PERMUTATIONS,
) -> tuple[int, int]:
    """(changed sides found significant, controls found significant) over seeded trials."""
    found = false_alarms = 0
    for seed in range(n_trials):
        rng = np.random.default_rng(seed)
        base, moved, same = (generated_runs(spread, runs, s, rng, length=length)
                             for s in (1.0, change, 1.0))  # fmt: skip
        test = pausepool.compare_p99(moved, base, permutations=permutations, seed=seed)
        control = pausepool.compare_p99(same, base, permutations=permutations, seed=seed)
        found, false_alarms = found + test.significant, false_alarms + control.significant
    return found, false_alarms


@dataclass(frozen=True)
class CellRuns:
    """The pause histograms of a fixture's passing measured runs in one cell, and the 1-minute
    load average gxm recorded at their start."""

    cell: str
    histograms: list[pausepool.PauseHistogram]
    load_1m: list[float]

    @classmethod
    def read(cls, run_dir: Path, cell: str, fixture: str) -> CellRuns:
        doc = RunStore.open(run_dir).read_cell(cell)
        entry = doc.fixtures.get(fixture) if doc else None
        if entry is None:
            raise SystemExit(f"pause_power: {run_dir} has no fixture {fixture} in cell {cell}")
        runs = [r for r in entry.runs if r.outcome is Outcome.PASS and not r.warmup]
        loads = [r.load_avg[0] for r in runs if r.load_avg]
        return cls(cell, pausepool.run_histograms(runs), loads)

    def text(self) -> str:
        pooled = pausepool.pooled_pauses(self.histograms)
        p99 = "too few pauses" if pooled.p99_ns is None else f"{pooled.p99_ns / 1e6:.2f} ms"
        load = f"{min(self.load_1m):.1f}-{max(self.load_1m):.1f}" if self.load_1m else "?"
        return (f"{self.cell}: {pooled.runs} runs, {pooled.pauses} pauses, p50 "
                f"{(pooled.p50_ns or 0) / 1e3:.1f} µs, p99 {p99}, load average {load}")  # fmt: skip


def compare_cells(run_dir: Path, fixture: str, cell: str, baseline: str) -> None:
    """Both cells' pooled pauses and the pooled p99 test, as `gxm report` shows it."""
    other, base = CellRuns.read(run_dir, cell, fixture), CellRuns.read(run_dir, baseline, fixture)
    print(f"  {base.text()}\n  {other.text()}")
    change = pausepool.compare_p99(other.histograms, base.histograms)
    print(f"  pooled p99 of {cell} against {baseline}: {change.text}")


def matrix_for(duration_s: float | None, out: Path) -> Path:
    """pause_power.yaml, or a copy of it in `out` whose runs last `duration_s` (timeout 4x that,
    at least the original)."""
    if duration_s is None:
        return MATRIX
    doc = yaml.safe_load(MATRIX.read_text())
    doc["defaults"]["duration"] = f"{duration_s:g}s"
    doc["defaults"]["timeout"] = f"{max(60.0, 4 * duration_s):g}s"
    copy = out / f"pause_power-{duration_s:g}s.yaml"
    copy.write_text(yaml.safe_dump(doc, sort_keys=False))
    return copy


def measure(profile: str, fixture: str, matrix: Path, out: Path) -> Path:
    """A real gxm run of one fixture in a profile of `matrix`; its run directory."""
    before = set(out.iterdir())
    subprocess.run(
        [sys.executable, "-m", "harness", "run", "--matrix", str(matrix), "--profile", profile,
         "--fixtures", fixture, "--backend", "local", "--out", str(out), "--seed", "1"],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    (run_dir,) = {p for p in set(out.iterdir()) - before if p.is_dir()}
    return run_dir


def report_trials(real: CellRuns, args: argparse.Namespace) -> None:
    spread = fit(real.histograms)
    print(f"fitted on {real.cell} {args.fixture}: {spread.text()}")
    for length in [1, *(args.length or [])]:
        for change in args.change or [1.10]:
            found, alarms = trials(spread, n_trials=args.trials, change=change, length=length)
            print(f"  ~{spread.pauses_per_run * length} pauses/run, 10 runs a side: p99 x{change:g}"
                  f" significant in {found}/{args.trials} trials; unchanged control significant"
                  f" in {alarms}/{args.trials}")  # fmt: skip


def _measured(args: argparse.Namespace, out: Path) -> Path:
    matrix = matrix_for(args.duration, out)
    labels = {"knob": "GOGC=200 vs GOGC=50", "procs": "GOMAXPROCS=1 vs 2",
              "control": "GOGC=100 twice (control)"}  # fmt: skip
    for profile, label in labels.items():
        run_dir = measure(profile, args.fixture, matrix, out)
        print(f"{profile}: {label}, run {run_dir.name}")
        compare_cells(run_dir, args.fixture, OTHER_CELL, BASELINE_CELL)
    return run_dir


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, nargs="?",
                        help="fit a gxm run (default: measure with pause_power.yaml)")  # fmt: skip
    parser.add_argument("--cell", default=BASELINE_CELL, help="cell id (default: %(default)s)")
    parser.add_argument("--fixture", default=FIXTURE, help="bench fixture (default: %(default)s)")
    parser.add_argument("--against-cell", help="also compare --cell's pooled p99 with this cell's")
    parser.add_argument("--trials", type=int, default=10, help="seeded trials (default: 10)")
    parser.add_argument("--length", type=int, action="append",
                        help="also try runs N times the pauses (repeatable)")  # fmt: skip
    parser.add_argument("--change", type=float, action="append",
                        help="p99 factor of the changed side (repeatable; 1.10)")  # fmt: skip
    parser.add_argument(
        "--duration",
        type=float,
        metavar="SECONDS",
        help="measure with runs this long (default: pause_power.yaml's 1 s)",
    )
    parser.add_argument("--keep", type=Path, help="measure into this directory and keep it")
    args = parser.parse_args()
    if args.run_dir is None:
        out = args.keep or Path(tempfile.mkdtemp(prefix="gxm-pause-power-"))
        out.mkdir(parents=True, exist_ok=True)
        try:
            args.run_dir = _measured(args, out)
            report_trials(CellRuns.read(args.run_dir, args.cell, args.fixture), args)
        finally:
            if args.keep is None:
                shutil.rmtree(out, ignore_errors=True)
        return 0
    if args.against_cell:
        compare_cells(args.run_dir, args.fixture, args.cell, args.against_cell)
    report_trials(CellRuns.read(args.run_dir, args.cell, args.fixture), args)
    print(f"load average now: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit as unusable:  # bad input: its one-line message, exit status 2
        if isinstance(unusable.code, str):
            print(unusable.code, file=sys.stderr)
            sys.exit(2)
        raise
