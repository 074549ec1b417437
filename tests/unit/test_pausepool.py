"""Pooled GC pauses: histograms of runs added up, quantiles, too few pauses, the p99 test."""

from __future__ import annotations

import importlib.util
import json
import math
import random
import sys
from pathlib import Path
from types import ModuleType

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


def test_ten_percent_p99_change_found_and_control_left_alone() -> None:
    """Seeded trials on log-normal runs (1000 pauses a run, within-run log-spread 0.5, run-to-run
    0.03: a quiet machine) counted into Go 1.22's real bucket grid."""
    power = _power()
    spread = power.Spread(
        pauses_per_run=1000, median_ns=50_000, sigma_within=0.5, sigma_between=0.03
    )
    found, false_alarms = power.trials(spread, n_trials=10, runs=10, permutations=1000)
    assert found >= 9 and false_alarms <= 1
