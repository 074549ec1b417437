"""The bisect search on simulated probes: the real search logic, a seeded random probe runner.

A simulated release fails with the bad signature at rate p from the first bad release on, and
(to keep the dominant-failure choice honest) every release shows an unrelated flaky failure now
and then. Each trial picks the first bad release at random; the search must name it.
"""

from __future__ import annotations

import random

import pytest

from harness import bisect, flake
from harness.bisect import BisectRefused, Criterion, Observation, Policy

RELEASES = tuple(
    [f"1.24.{i}" for i in range(8)]
    + [f"1.25.{i}" for i in range(6)]
    + [f"1.26.{i}" for i in range(7)]
)
NEW_SIGNATURE = (
    "panic: runtime error: argument of cgo function has Go pointer to unpinned Go pointer"
)
OLD_SIGNATURE = "panic: runtime error: cgo argument has Go pointer to unpinned Go pointer"


class SimulatedReleases:
    """Releases from `first_bad` on fail with NEW_SIGNATURE at rate `p`; before it they fail
    with OLD_SIGNATURE at rate `p` (the same bug, worded as the older runtime words it)."""

    def __init__(self, first_bad: str, p: float, rng: random.Random, noise: float = 0.02) -> None:
        self.first_bad = RELEASES.index(first_bad)
        self.p = p
        self.rng = rng
        self.noise = noise
        self.runs: dict[str, int] = {}

    def observe(self, version: str) -> Observation:
        self.runs[version] = self.runs.get(version, 0) + 1
        draw = self.rng.random()
        if draw < self.p:
            bad = RELEASES.index(version) >= self.first_bad
            return Observation("crash", NEW_SIGNATURE if bad else OLD_SIGNATURE)
        if draw < self.p + self.noise:
            return Observation("timeout", None)
        return Observation("pass")


@pytest.mark.parametrize("p", [0.1, 0.3, 1.0])
def test_names_the_first_bad_release_in_at_least_95_percent_of_seeded_trials(p: float) -> None:
    rng = random.Random(20261130 + int(p * 100))
    trials, right, refused = 200, 0, 0
    for _ in range(trials):
        first_bad = rng.choice(RELEASES[1:])
        runner = SimulatedReleases(first_bad, p, rng)
        try:
            result = bisect.bisect_outcome(RELEASES, runner)
        except BisectRefused:
            refused += 1
            continue
        right += result.first_bad == first_bad
        assert result.last_good == RELEASES[RELEASES.index(result.first_bad) - 1]
    assert right / trials >= 0.95, (p, right, refused)


@pytest.mark.parametrize("p", [0.1, 0.3, 1.0])
def test_a_probe_is_good_only_after_the_runs_the_flake_math_asks_for(p: float) -> None:
    runner = SimulatedReleases("1.25.3", p, random.Random(7))
    result = bisect.bisect_outcome(RELEASES, runner)
    confidence = bisect.probe_confidence(Policy(), len(RELEASES))
    assert 0.95 < confidence < 0.99  # 5 probes, each surer, so the whole search holds 95%
    expected = flake.runs_to_reproduce(result.bad_failures, result.bad_runs, confidence)
    assert result.clean_runs_for_good == expected
    assert result.criterion.signature == NEW_SIGNATURE  # the dominant failure, not the noise
    for probe in result.probes:
        if probe.verdict == "good":
            assert probe.runs == expected
        elif probe.role != "bad":
            assert probe.verdict == "bad" and probe.runs <= expected


def test_rarer_failures_make_probes_run_longer() -> None:
    counts = {}
    for p in (0.1, 1.0):
        runner = SimulatedReleases("1.25.3", p, random.Random(3), noise=0.0)
        counts[p] = bisect.bisect_outcome(RELEASES, runner).clean_runs_for_good
    assert counts[1.0] < 10 < counts[0.1]


def test_bad_release_that_never_fails_is_refused_with_what_was_shown() -> None:
    runner = SimulatedReleases("1.26.6", 0.0, random.Random(1), noise=0.0)
    with pytest.raises(BisectRefused, match=r"did not show any failure in 100 runs .*below 3\.0%"):
        bisect.bisect_outcome(RELEASES, runner)


def test_good_release_that_shows_the_failure_too_is_refused() -> None:
    runner = SimulatedReleases(RELEASES[0], 1.0, random.Random(1))
    with pytest.raises(BisectRefused, match="good release go1.24.0 shows it too"):
        bisect.bisect_outcome(RELEASES, runner)


def test_a_given_outcome_criterion_ignores_other_failures() -> None:
    runner = SimulatedReleases("1.25.2", 1.0, random.Random(1), noise=0.0)
    criterion = Criterion(outcome="crash", signature="argument of cgo function")
    result = bisect.bisect_outcome(RELEASES, runner, criterion)
    assert result.first_bad == "1.25.2"


class UnbuildableBetween:
    """1.25.x cannot build the fixture (one non-repeatable observation); bad from 1.26.0."""

    def observe(self, version: str) -> Observation:
        if version.startswith("1.25."):
            return Observation("build-error", repeatable=False)
        bad = version >= "1.26."
        return Observation("crash", NEW_SIGNATURE if bad else OLD_SIGNATURE)


def test_releases_that_cannot_run_are_skipped_and_reported_as_a_range() -> None:
    result = bisect.bisect_outcome(RELEASES, UnbuildableBetween())
    assert result.last_good == "1.24.7" and result.first_bad == "1.26.0"
    assert result.untestable == tuple(f"1.25.{i}" for i in range(6))
    assert {p.verdict for p in result.probes if p.version.startswith("1.25.")} == {"skip"}


class SlowerFrom:
    """A metric 30% higher from `first_bad` on, with 3% noise."""

    def __init__(self, first_bad: str, rng: random.Random) -> None:
        self.first_bad = RELEASES.index(first_bad)
        self.rng = rng

    def observe(self, version: str) -> Observation:
        base = 1000.0 * (1.3 if RELEASES.index(version) >= self.first_bad else 1.0)
        return Observation("pass", metrics={"gc_pause_p99_ns": base * self.rng.gauss(1, 0.03)})


def test_metric_regression_is_found_by_median_and_mann_whitney() -> None:
    criterion = Criterion(metric="gc_pause_p99_ns", threshold=0.10)
    result = bisect.bisect_metric(RELEASES, SlowerFrom("1.25.4", random.Random(5)), criterion)
    assert (result.last_good, result.first_bad) == ("1.25.3", "1.25.4")
    bad_probe = next(p for p in result.probes if p.version == "1.25.4")
    assert "(+3" in bad_probe.note and "p<0.001" in bad_probe.note


def test_metric_change_below_the_threshold_is_refused() -> None:
    criterion = Criterion(metric="gc_pause_p99_ns", threshold=0.50)
    with pytest.raises(BisectRefused, match="is not worse"):
        bisect.bisect_metric(RELEASES, SlowerFrom("1.25.4", random.Random(5)), criterion)


def test_dominant_failure_is_the_most_common_outcome_and_signature() -> None:
    seen = [
        Observation("crash", "a"),
        Observation("pass"),
        Observation("crash", "b"),
        Observation("crash", "b"),
    ]
    assert bisect.dominant_failure(seen) == Criterion("crash", "b", exact_signature=True)
    assert bisect.dominant_failure([Observation("pass")]) is None
