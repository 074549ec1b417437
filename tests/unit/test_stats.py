"""Tests for harness.stats: medians and their intervals, Wilson intervals, summaries, verdicts."""

from __future__ import annotations

import random
from typing import Any

import pytest

from harness.model import Outcome
from harness.stats import (
    compare_rates,
    compare_samples,
    fisher_p,
    mann_whitney_p,
    median,
    median_ci95,
    metric_samples,
    min_p_value,
    relative_spread,
    run_load_avgs,
    run_others_cpus,
    spread_warnings,
    summarize_runs,
    verdict,
    wilson_ci95,
)
from harness.store.records import RunRecord


@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    [
        (0, 10, 0.0, 0.2775),  # published Wilson bounds (z = 1.96)
        (10, 10, 0.7225, 1.0),
        (3, 10, 0.1078, 0.6032),
        (1, 3, 0.0615, 0.7923),
    ],
)
def test_wilson_ci95_known_values(k: int, n: int, lo: float, hi: float) -> None:
    assert wilson_ci95(k, n) == pytest.approx((lo, hi), abs=1e-4)


def test_wilson_ci95_edges() -> None:
    assert wilson_ci95(0, 0) == (0.0, 1.0)
    assert wilson_ci95(0, 10)[0] == 0.0 and wilson_ci95(10, 10)[1] == 1.0
    with pytest.raises(ValueError):
        wilson_ci95(4, 3)


def test_median() -> None:
    assert median([3, 1, 2]) == 2
    assert median([4, 1, 3, 2]) == 2.5
    with pytest.raises(ValueError):
        median([])


def test_median_ci95_small_samples_fall_back_to_range() -> None:
    assert median_ci95([5]) == (5, 5)
    assert median_ci95([9, 1, 5, 3, 7]) == (1, 9)


def test_median_ci95_uses_binomial_ranks() -> None:
    # Standard table: n=9 → ranks (2, 8); n=20 → ranks (6, 15).
    assert median_ci95(range(1, 10)) == (2, 8)
    assert median_ci95(range(1, 21)) == (6, 15)


def test_median_ci95_covers_true_median_about_95_percent() -> None:
    rng = random.Random(20261127)
    true_median = 0.6931471805599453  # of Exp(1)
    trials = 2000
    covered = 0
    for _ in range(trials):
        lo, hi = median_ci95([rng.expovariate(1.0) for _ in range(15)])
        covered += lo <= true_median <= hi
    assert 0.93 <= covered / trials <= 0.99


def _run(
    i: int, outcome: str, metrics: dict | None = None, signature: str | None = None, **extra: Any
) -> RunRecord:
    doc = {"i": i, "outcome": outcome, "metrics": metrics or {}, "signature": signature}
    return RunRecord.from_json(doc | extra)


def test_summarize_runs_counts_crash_rate_and_signature() -> None:
    segv = "fatal error: unexpected signal during runtime execution [signal SIGSEGV]"
    runs = [
        _run(0, "pass", {"gc_pause_p99_ns": 200_000, "gc_cpu_fraction": 0.05}),
        _run(1, "crash", {"gc_pause_p99_ns": 9_999_999}, segv),
        _run(2, "pass", {"gc_pause_p99_ns": 240_000, "gc_cpu_fraction": 0.07, "flag": True}),
        _run(3, "timeout"),
        _run(4, "corrupt"),
        _run(5, "oom"),
        _run(6, "infra-error"),
        _run(7, "crash", None, segv),
        _run(8, "crash", None, "panic: runtime error: index out of range [N] with length N"),
    ]
    summary = summarize_runs(runs, "stress")
    assert summary["n"] == 9
    assert list(summary["outcomes"].items()) == [
        ("pass", 2),
        ("crash", 3),
        ("corrupt", 1),
        ("timeout", 1),
        ("oom", 1),
        ("infra-error", 1),
    ]
    rate = summary["crash_rate"]
    assert (rate["k"], rate["n"]) == (6, 8)  # infra-error is not a trial
    assert rate["ci95"] == pytest.approx(list(wilson_ci95(6, 8)))
    p99 = summary["metrics"]["gc_pause_p99_ns"]
    assert p99 == {"median": 220_000, "ci95": [200_000, 240_000], "n": 2}  # crashed run ignored
    assert "flag" not in summary["metrics"]
    assert summary["top_signature"] == segv


def test_summarize_runs_without_runs() -> None:
    summary = summarize_runs([], "bench")
    assert summary["n"] == 0 and summary["outcomes"] == {} and summary["metrics"] == {}
    assert summary["crash_rate"] == {"k": 0, "n": 0, "rate": None, "ci95": None}
    assert summary["top_signature"] is None
    with pytest.raises(ValueError):
        summarize_runs([], "benchmark")


@pytest.mark.parametrize(
    ("outcomes", "expected", "result"),
    [
        (["pass", "pass", "pass"], ["pass"], "expected"),
        (["pass", "crash", "pass"], ["pass"], "unexpected"),
        (["crash", "crash"], ["pass", "crash"], "expected"),
        (["unsupported"], ["pass"], "unexpected"),
        (["unsupported"], ["pass", "unsupported"], "expected"),
        (["build-error"], ["pass"], "unexpected"),
        # an engine failure is never blamed on the fixture: not known, not unexpected
        (["pass", "infra-error"], ["pass"], "inconclusive"),
        (["infra-error"], ["pass"], "inconclusive"),
        (["crash", "infra-error"], ["pass"], "unexpected"),
        ([], ["pass"], "unexpected"),
        ([Outcome.PASS], [Outcome.PASS], "expected"),
    ],
)
def test_verdict(outcomes: list, expected: list, result: str) -> None:
    assert verdict(outcomes, expected) == result


# --- comparisons against a baseline -------------------------------------------------------------


def _sample(rng: random.Random, centre: float, n: int = 10, cv: float = 0.10) -> list[float]:
    """n values around `centre` with a 10% coefficient of variation, like a GC metric."""
    return [rng.gauss(centre, centre * cv) for _ in range(n)]


def test_a_25_percent_shift_at_n10_is_significant() -> None:
    for seed in range(10):
        rng = random.Random(seed)
        baseline, shifted = _sample(rng, 1000.0), _sample(rng, 1250.0)
        change = compare_samples(shifted, baseline)
        assert change.significant, (seed, change)
        assert change.delta_text.startswith("+") and change.delta_text.endswith("%")
        assert 15 <= int(change.delta_text[1:-1]) <= 35


def test_two_samples_of_one_distribution_are_tilde_in_at_least_9_of_10_trials() -> None:
    verdicts = []
    for seed in range(10):
        rng = random.Random(1000 + seed)
        verdicts.append(compare_samples(_sample(rng, 1000.0), _sample(rng, 1000.0)).delta_text)
    assert verdicts.count("~") >= 9, verdicts


def test_too_few_runs_can_never_be_significant() -> None:
    assert min_p_value(3, 3) == pytest.approx(0.1)
    assert min_p_value(4, 4) == pytest.approx(2 / 70)
    change = compare_samples([10.0, 11.0, 12.0], [100.0, 101.0, 102.0])
    assert change.p_value == pytest.approx(0.1)
    assert not change.testable and not change.significant and change.delta_text == "?"
    assert compare_samples([], [1.0]).delta_text == "-"


def test_change_text_carries_its_evidence() -> None:
    change = compare_samples([125.0, 126.0, 127.0, 128.0], [100.0, 101.0, 102.0, 103.0])
    assert change.significant and change.ratio == pytest.approx(126.5 / 101.5)
    assert change.delta_text == "+25%"
    assert change.detail_text == "+25% (p=0.029 n=4+4)"


def test_mann_whitney_of_identical_values_is_not_significant() -> None:
    assert mann_whitney_p([5.0] * 6, [5.0] * 6) == 1.0
    with pytest.raises(ValueError):
        mann_whitney_p([], [1.0])


def test_fisher_exact_known_value_and_rate_change() -> None:
    assert fisher_p(3, 10, 0, 10) == pytest.approx(0.2105, abs=1e-4)
    assert fisher_p(10, 10, 0, 10) < 0.001
    assert compare_rates(3, 10, 0, 10).text == "~ 3/10 vs 0/10 (p=0.211)"
    assert compare_rates(10, 10, 0, 10).text == "10/10 vs 0/10 (p<0.001)"
    assert compare_rates(1, 3, 0, 0).p_value is None
    with pytest.raises(ValueError):
        fisher_p(4, 3, 0, 3)


def test_relative_spread_ignores_one_outlier() -> None:
    assert relative_spread([100.0, 100.0, 100.0, 100.0, 10_000.0]) == 0.0
    assert relative_spread([90.0, 100.0, 110.0]) == pytest.approx(0.14826)
    assert relative_spread([1.0]) is None and relative_spread([0.0, 0.0]) is None


def test_spread_warnings_say_why() -> None:
    steady = [100.0, 101.0, 99.0, 100.0, 100.5, 99.5]
    assert spread_warnings(steady, [0.5] * 6, cpus=4) == []
    kinds = {w.kind: w.text for w in spread_warnings([100.0, 150.0, 60.0], [6.3], cpus=2)}
    assert kinds["few-runs"] == "only 3 runs (want ≥5)"
    assert kinds["spread"].startswith("spread ±")
    assert kinds["load"] == "noisy machine: load average up to 6.3 on 2 CPUs"


def test_the_cpu_others_used_decides_a_noisy_machine_where_runs_measured_it() -> None:
    steady = [100.0, 101.0, 99.0, 100.0, 100.5, 99.5]
    assert spread_warnings(steady, [2.4] * 6, cpus=2, others_cpus=[0.02] * 6) == []
    [warning] = spread_warnings(steady, [0.1] * 6, cpus=2, others_cpus=[0.02] * 5 + [0.3])
    assert (warning.kind, warning.text) == (
        "load",
        "noisy machine: other processes took up to 0.30 CPUs during a run",
    )
    runs = [
        _run(-1, "pass", warmup=True, seconds=1.0, others_cpu_s=0.9),
        _run(0, "pass", seconds=2.0, others_cpu_s=0.1),
        _run(1, "pass", seconds=1.0, others_cpu_s=0.0),
    ]
    assert run_others_cpus(runs) == [0.05, 0.0]
    assert RunRecord.from_json(runs[1].to_json()).others_cpu_s == 0.1
    assert run_others_cpus([*runs, _run(2, "pass", seconds=1.0)]) == []  # one did not measure


def test_warmups_are_run_but_never_counted() -> None:
    runs = [
        _run(-1, "pass", {"m": 999}, warmup=True, load_avg=[9, 9, 9]),
        _run(0, "pass", {"m": 10}, load_avg=[1.5, 1.0, 0.5]),
        _run(1, "pass", {"m": 12}),
    ]
    summary = summarize_runs(runs, "bench")
    assert summary["n"] == 2 and summary["outcomes"] == {"pass": 2}
    assert summary["metrics"]["m"] == {"median": 11, "ci95": [10, 12], "n": 2}
    assert summary["warmup"] == {"pass": 1}
    assert metric_samples(runs, "m") == [10.0, 12.0]
    assert run_load_avgs(runs) == [1.5]
    assert "warmup" not in summarize_runs(runs[1:], "bench")
