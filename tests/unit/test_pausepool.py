"""Pooled GC pauses: histograms of runs added up, quantiles, too few pauses, the p99 test."""

from __future__ import annotations

import importlib.util
import json
import math
import random
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from harness import pausepool
from harness.classify import read_fixture_result
from harness.model import Outcome
from harness.store.records import RunRecord

ROOT = Path(__file__).resolve().parents[2]
H = pausepool.PauseHistogram


def _power() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pause_power", ROOT / "benchmarks/pause_power.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def test_pool_adds_the_counts_of_equal_buckets() -> None:
    a = H(((1000.0, 2000.0), (4000.0, math.inf)), (98, 2))
    b = H(((1000.0, 2000.0), (2000.0, 4000.0)), (50, 50))
    pooled = pausepool.pool([a, b])
    assert pooled.bounds_ns == ((1000.0, 2000.0), (2000.0, 4000.0), (4000.0, math.inf))
    assert pooled.counts == (148, 50, 2)
    assert pooled.max_ns() == 4000.0  # open bucket: its finite lower bound


def test_quantiles_interpolate_inside_the_bucket() -> None:
    hist = H(((1000.0, 2000.0), (2000.0, 4000.0)), (50, 50))
    assert hist.quantile_ns(0.5) == pytest.approx(2000.0)
    assert hist.quantile_ns(0.75) == pytest.approx(2000.0 * math.sqrt(2))  # log-linear
    assert H((), ()).quantile_ns(0.99) is None


def test_too_few_pauses_gives_no_p99() -> None:
    few = [H(((1000.0, 2000.0),), (9,)) for _ in range(10)]  # 90 pauses in all
    pooled = pausepool.pooled_pauses(few)
    assert pooled.too_few and pooled.p99_ns is None and pooled.pauses == 90 and pooled.runs == 10
    assert pooled.p50_ns is not None
    enough = pausepool.pooled_pauses([*few, H(((1000.0, 2000.0),), (10,))])
    assert not enough.too_few and enough.p99_ns is not None
    assert pausepool.compare_p99(few, few).text == "-"


def test_histogram_json_round_trip_and_errors() -> None:
    doc = {"bounds_ns": [[None, 0], [64, 128], [4096, None]], "counts": [0, 3, 1]}
    assert H.from_json(doc).to_json() == doc
    for bad in (
        [],
        {"bounds_ns": [[64, 128]], "counts": []},
        {"bounds_ns": [[128, 64]], "counts": [1]},
        {"bounds_ns": [[64, 128]], "counts": [-1]},
        {"bounds_ns": [["a", 128]], "counts": [1]},
    ):
        with pytest.raises(ValueError):
            H.from_json(bad)


def _result(tmp_path: Path, histogram: object) -> Path:
    path = tmp_path / "result.json"
    doc = {"schema": "gxm.fixture/1", "metrics": {"gc_pauses": 4}, "checks": {}}
    doc["gc_pause_histogram"] = histogram
    path.write_text(json.dumps(doc))
    return path


def test_result_file_histogram_is_read_and_kept_in_the_run_record(tmp_path: Path) -> None:
    histogram = {"bounds_ns": [[4096, 5120], [3145728, 3670016]], "counts": [3, 1]}
    report = read_fixture_result(_result(tmp_path, histogram))
    assert report.ok and report.pause_histogram == histogram
    record = RunRecord(i=0, outcome=Outcome.PASS, gc_pause_histogram=report.pause_histogram)
    assert RunRecord.from_json(record.to_json()) == record
    assert pausepool.run_histograms([record]) == [H.from_json(histogram)]
    assert "gc_pause_histogram" not in RunRecord(i=1, outcome=Outcome.PASS).to_json()


def test_a_malformed_histogram_makes_the_result_malformed(tmp_path: Path) -> None:
    report = read_fixture_result(_result(tmp_path, {"bounds_ns": [[1, 2]], "counts": "x"}))
    assert report.status == "malformed" and "gc_pause_histogram" in (report.error or "")


def test_vectorised_and_plain_quantiles_agree() -> None:
    rng = random.Random(3)
    grid = [(float(2**i), float(2 ** (i + 1))) for i in range(8, 20)]
    hists = [H(tuple(grid), tuple(rng.randrange(0, 30) for _ in grid)) for _ in range(6)]
    import numpy as np

    rows = np.array([h.counts for h in hists])
    vector = pausepool._quantiles(grid, rows, 0.99)
    assert list(vector) == pytest.approx([h.quantile_ns(0.99) for h in hists])


def _recorded_runs() -> list[pausepool.PauseHistogram]:
    """Real runs of gc_small_objects at nightly bench settings (provenance in the file)."""
    doc = json.loads((ROOT / "tests/data/pauses/gc_small_objects-go1.22-nightly.json").read_text())
    return [H.from_json(run["gc_pause_histogram"]) for run in doc["runs"]]


def test_generated_runs_have_the_run_to_run_spread_they_were_made_with() -> None:
    """The generator's runs, fitted again, give back the between-runs spread they were made
    with, net of what sampling their pauses explains (the old resampler froze each real run's
    sampling noise into the spread and so overstated it)."""
    power = _power()
    shape = power.Shape.of(_recorded_runs())
    rng = np.random.default_rng(11)
    for sigma in (0.0, 0.3):
        spread = power.Spread(shape, pauses_per_run=300, sigma_between=sigma)
        refit = power.fit(power.generated_runs(spread, 200, 1.0, rng))
        assert refit.pauses_per_run == pytest.approx(300, abs=15)
        assert refit.sigma_between == pytest.approx(sigma, abs=0.1), refit.text()


def test_real_runs_p99_spread_is_mostly_their_few_pauses() -> None:
    """Recorded gc_small_objects runs (~42 pauses a run, load 6-8): how much a run's p99 differs
    from the next is what sampling so few pauses from their pooled shape explains."""
    spread = _power().fit(_recorded_runs())
    assert spread.sigma_sampling > 0.2 and spread.sigma_between < spread.sigma_sampling
    left = max(0.0, spread.sigma_observed**2 - spread.sigma_sampling**2)
    assert spread.sigma_between == pytest.approx(math.sqrt(left))


def test_fitting_a_cell_without_two_runs_with_pauses_says_so() -> None:
    """An unsupported cell has no passing bench runs: a one-line message, not a traceback."""
    power = _power()
    for runs in ([], [H(((1000.0, 2000.0),), (500,))]):
        with pytest.raises(SystemExit, match="needs at least 2"):
            power.fit(runs)


def _log_normal_shape(median_ns: float, sigma: float) -> object:
    power = _power()
    values = np.random.default_rng(5).lognormal(math.log(median_ns), sigma, 100_000)
    return power.Shape.of([power.counted(values, power.bucket_grid())])


def test_ten_percent_p99_change_found_and_control_left_alone_with_many_pauses() -> None:
    """Seeded trials on a quiet machine's kind of pauses (log-normal around 50 µs, log-spread
    0.5), 1000 pauses a run, run-to-run spread 0.03, counted into Go 1.22's real bucket grid."""
    power = _power()
    spread = power.Spread(_log_normal_shape(50_000, 0.5), pauses_per_run=1000, sigma_between=0.03)
    found, false_alarms = power.trials(spread, n_trials=10, runs=10, permutations=1000)
    assert found >= 9 and false_alarms <= 1


def test_at_nightly_pauses_per_run_a_doubled_p99_is_found_and_the_control_left_alone() -> None:
    """The recorded runs' own spread and pauses per run (the nightly profile's 1 s runs): a
    doubled p99 is found in every trial and the control never flagged (a 10% change is found in
    none: README, "What the pooled p99 test can tell apart")."""
    power = _power()
    assert power.trials(power.fit(_recorded_runs()), change=2.0, permutations=1000) == (10, 0)
