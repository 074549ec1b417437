"""Flake math: runs to reproduce a k/n failure, and what clean runs prove."""

from __future__ import annotations

import random

import pytest

from harness import flake


def test_runs_to_see_a_failure_follow_from_the_rate() -> None:
    assert flake.runs_to_see(1.0) == 1
    assert flake.runs_to_see(0.5) == 5  # 0.5^5 = 3.1% < 5% <= 0.5^4
    assert flake.runs_to_see(0.1) == 29  # 0.9^29 = 4.7%
    assert flake.runs_to_see(0.0) is None


def test_runs_to_reproduce_use_the_lower_wilson_bound_not_the_point_estimate() -> None:
    # 3 of 30 is a 10% point estimate (29 runs); the lower bound 3.5% asks for 86.
    assert flake.conservative_rate(3, 30) == pytest.approx(0.0346, abs=1e-4)
    assert flake.runs_to_reproduce(3, 30) == 86
    assert flake.runs_to_reproduce(30, 300) < flake.runs_to_reproduce(3, 30)
    assert flake.runs_to_reproduce(0, 50) is None
    assert flake.runs_to_reproduce(3, 3) == 6


def test_clean_runs_bound_the_rate_the_other_way() -> None:
    assert flake.rate_upper_bound(0) == 1.0
    assert flake.rate_upper_bound(59) == pytest.approx(0.0495, abs=1e-4)  # rule of three ~ 3/n
    bound = flake.rate_upper_bound(59)
    assert flake.runs_to_see(bound * 1.0001) == 59  # the two are inverses
    assert flake.clean_runs_text(200) == (
        "no failure in 200 runs: the failure rate is below 1.5% (95% confidence)"
    )


def test_the_runs_it_asks_for_see_a_failure_in_at_least_95_percent_of_seeded_trials() -> None:
    """The promise itself, checked: at the true rate, the recommended runs see the failure."""
    rng = random.Random(11)
    for p in (0.05, 0.1, 0.3):
        seen = trials = 0
        for _ in range(400):
            k = sum(rng.random() < p for _ in range(40))
            needed = flake.runs_to_reproduce(k, 40)
            if needed is None:  # no failure in 40 runs: nothing to reproduce
                continue
            trials += 1
            seen += any(rng.random() < p for _ in range(needed))
        assert seen / trials >= 0.95, p


def test_percent_keeps_two_significant_digits() -> None:
    assert flake.percent(0.0149) == "1.5%"
    assert flake.percent(0.25) == "25%"
    assert flake.percent(0.00012) == "0.012%"


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        flake.runs_to_see(1.5)
    with pytest.raises(ValueError):
        flake.rate_upper_bound(10, confidence=1.0)
