"""Tests for harness.stats: medians and their intervals, Wilson intervals, summaries, verdicts."""

from __future__ import annotations

import random

import pytest

from harness.model import Outcome
from harness.stats import median, median_ci95, summarize_runs, verdict, wilson_ci95


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


def _run(i: int, outcome: str, metrics: dict | None = None, signature: str | None = None) -> dict:
    return {"i": i, "outcome": outcome, "metrics": metrics or {}, "signature": signature}


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
        (["pass", "infra-error"], ["pass", "infra-error"], "unexpected"),
        ([], ["pass"], "unexpected"),
        ([Outcome.PASS], [Outcome.PASS], "expected"),
    ],
)
def test_verdict(outcomes: list, expected: list, result: str) -> None:
    assert verdict(outcomes, expected) == result
