"""Bisect: the first Go release where a fixture's outcome (or a metric) changed.

The search is pure: it asks a `ProbeRunner` for one observation (one fixture run) of a release at
a time and decides from those, so it is tested with simulated probes exactly as it runs on real
ones (`harness.bisect_run` is the real runner). Releases are ordered from the good one to the bad
one; the answer is the adjacent pair (last good, first bad), or a range when releases between them
could not run the fixture at all (they are skipped, as `git bisect skip` does).

What "bad" means (`Criterion`):
- an outcome: by default the bad release's dominant failure, matched by outcome and signature;
  the bad release runs until it has failed `target_failures` times (or its budget ends: then the
  bisect is refused). From k matching failures in n runs, flake math gives the runs a probe needs:
  a probe is bad at its first matching run, and good only after that many clean runs;
- a metric: the median of a metric is worse than the good release's by at least `threshold`
  (a fraction) with a Mann–Whitney U p below 0.05, over `metric_runs` runs each.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from harness import flake, stats
from harness.errors import UsageError
from harness.report.pauses import format_metric

# Outcomes that make a run (or a release that cannot run the fixture) a failure.
FAILURES = frozenset({*stats.FAILURE_OUTCOMES, "fail", "build-error", "unsupported"})


class BisectRefused(UsageError):
    """The endpoints do not support a bisect (bad does not fail, good fails too, no change)."""


@dataclass(frozen=True)
class Observation:
    """One run of the fixture on one release. `repeatable` is False when the release could not run
    it at all (build-error, unsupported): that single observation stands for every run."""

    outcome: str
    signature: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    repeatable: bool = True


class ProbeRunner(Protocol):
    def observe(self, version: str) -> Observation:
        """Run the fixture once on Go `version` (building it first if needed)."""
        ...


@dataclass(frozen=True)
class Criterion:
    """What makes a run bad: an outcome (and a signature), or a metric worse by `threshold`."""

    outcome: str | None = None
    signature: str | None = None  # exact when `exact_signature`, else a substring
    exact_signature: bool = False
    metric: str | None = None
    threshold: float = 0.10
    higher_is_better: bool = False

    def matches(self, obs: Observation) -> bool:
        """Whether one run is bad by an outcome criterion (always False for a metric one)."""
        if self.metric is not None:
            return False
        if self.outcome is not None and obs.outcome != self.outcome:
            return False
        if self.outcome is None and obs.outcome not in FAILURES:
            return False
        if self.signature is None:
            return True
        if self.exact_signature:
            return obs.signature == self.signature
        return self.signature in (obs.signature or "")

    def describe(self) -> str:
        if self.metric is not None:
            direction = "lower" if self.higher_is_better else "higher"
            return f"{self.metric} {direction} by ≥{self.threshold * 100:.0f}% (p < 0.05)"
        what = self.outcome or "any failure"
        if self.signature:
            what += f" with signature {'' if self.exact_signature else '~ '}{self.signature!r}"
        return what


@dataclass(frozen=True)
class Policy:
    """How much running a bisect may do, and how sure it must be."""

    confidence: float = flake.CONFIDENCE
    target_failures: int = 5  # failures the bad release must show before its rate is trusted
    budget_runs: int = 100  # runs of the bad release looking for them
    metric_runs: int = 10  # runs per release in metric mode
    max_probe_runs: int = 2000  # a cap on clean runs per probe, however rare the failure


@dataclass(frozen=True)
class Probe:
    """What one release gave: `role` good/bad (an endpoint) or probe; `verdict` good/bad/skip."""

    version: str
    role: str
    verdict: str
    runs: int
    matching: int
    outcomes: tuple[tuple[str, int], ...]
    note: str = ""


@dataclass(frozen=True)
class BisectResult:
    releases: tuple[str, ...]
    criterion: Criterion
    probes: tuple[Probe, ...]
    last_good: str
    first_bad: str
    untestable: tuple[str, ...]  # releases between last_good and first_bad that could not run
    bad_failures: int  # matching failures at the bad release ...
    bad_runs: int  # ... in this many runs
    clean_runs_for_good: int | None  # outcome mode: clean runs that make a probe good

    @property
    def runs_total(self) -> int:
        return sum(p.runs for p in self.probes)


ProbeListener = Callable[[Probe], None]


def dominant_failure(observations: Sequence[Observation]) -> Criterion | None:
    """The most common failing (outcome, signature); on a tie the one seen first."""
    failures = [(o.outcome, o.signature) for o in observations if o.outcome in FAILURES]
    if not failures:
        return None
    (outcome, signature), _ = Counter(failures).most_common(1)[0]
    return Criterion(outcome=outcome, signature=signature, exact_signature=signature is not None)


def _counts(observations: Sequence[Observation]) -> tuple[tuple[str, int], ...]:
    return tuple(Counter(o.outcome for o in observations).most_common())


class _Search:
    """One bisect: the endpoints, then a binary search over what lies between."""

    def __init__(
        self,
        releases: Sequence[str],
        runner: ProbeRunner,
        policy: Policy,
        listener: ProbeListener | None,
    ) -> None:
        if len(releases) < 2:
            raise UsageError("a bisect needs a good and a different bad release")
        self.releases = tuple(releases)
        self.runner = runner
        self.policy = policy
        self.listener = listener
        self.probes: list[Probe] = []

    def record(self, probe: Probe) -> Probe:
        self.probes.append(probe)
        if self.listener is not None:
            self.listener(probe)
        return probe

    def search(self, is_bad: Callable[[str], Probe]) -> tuple[int, int, list[int]]:
        """Binary search for the boundary; releases that cannot run are skipped."""
        lo, hi = 0, len(self.releases) - 1
        skipped: set[int] = set()
        while True:
            candidates = [i for i in range(lo + 1, hi) if i not in skipped]
            if not candidates:
                return lo, hi, sorted(i for i in skipped if lo < i < hi)
            middle = (lo + hi) // 2
            index = min(candidates, key=lambda i: (abs(i - middle), i))
            verdict = self.record(is_bad(self.releases[index])).verdict
            if verdict == "bad":
                hi = index
            elif verdict == "good":
                lo = index
            else:
                skipped.add(index)


def _result(
    search: _Search,
    criterion: Criterion,
    bounds: tuple[int, int, list[int]],
    bad_side: tuple[int, int, int | None],
) -> BisectResult:
    """The search's verdict: `bounds` are (last good, first bad, skipped) indices into its
    releases; `bad_side` is (failures, runs) at the bad release and the clean runs a good needs."""
    lo, hi, skipped = bounds
    failures, runs, clean_runs = bad_side
    releases = search.releases
    return BisectResult(
        releases,
        criterion,
        tuple(search.probes),
        releases[lo],
        releases[hi],
        tuple(releases[i] for i in skipped),
        failures,
        runs,
        clean_runs,
    )


def _outcome_probe(
    search: _Search, version: str, criterion: Criterion, max_runs: int, role: str
) -> Probe:
    """Run `version` until a matching failure (bad) or `max_runs` clean runs (good)."""
    seen: list[Observation] = []
    while len(seen) < max_runs:
        obs = search.runner.observe(version)
        seen.append(obs)
        if criterion.matches(obs):
            return Probe(version, role, "bad", len(seen), 1, _counts(seen))
        if not obs.repeatable:
            note = f"could not run the fixture: {obs.outcome}"
            return Probe(version, role, "skip", len(seen), 0, _counts(seen), note)
    bound = flake.percent(flake.rate_upper_bound(len(seen), search.policy.confidence))
    note = f"{len(seen)} runs without it: its rate here is below {bound} (95% confidence)"
    return Probe(version, role, "good", len(seen), 0, _counts(seen), note)


def _sample_bad(search: _Search, given: Criterion | None) -> tuple[Criterion, int, int]:
    """Run the bad release until it fails `target_failures` times; the criterion and k, n."""
    policy, version = search.policy, search.releases[-1]

    def failed(obs: Observation) -> bool:
        return given.matches(obs) if given else obs.outcome in FAILURES

    seen: list[Observation] = []
    while len(seen) < policy.budget_runs:
        seen.append(search.runner.observe(version))
        if not seen[-1].repeatable or sum(map(failed, seen)) >= policy.target_failures:
            break
    criterion = given or dominant_failure(seen)
    k = sum(criterion.matches(o) for o in seen) if criterion else 0
    k_rate, n_rate = k, len(seen)
    if criterion is not None and criterion.matches(seen[-1]) and k >= policy.target_failures:
        # Stopped by the failure it was waiting for: counting that run biases the rate up
        # (inverse sampling); the runs before it are an unbiased sample.
        k_rate, n_rate = k - 1, len(seen) - 1
    search.record(Probe(version, "bad", "bad" if k else "good", len(seen), k, _counts(seen)))
    if criterion is None or k == 0:
        wanted = given.describe() if given else "any failure"
        bound = flake.percent(flake.rate_upper_bound(len(seen), policy.confidence))
        raise BisectRefused(
            f"the bad release go{version} did not show {wanted} in {len(seen)} runs (its rate "
            f"there is below {bound}, 95% confidence); nothing to bisect: raise --budget, or "
            "check --bad and the fixture"
        )
    return criterion, k_rate, n_rate


def probe_confidence(policy: Policy, releases: int) -> float:
    """The confidence each probe's clean runs must reach so the whole search keeps
    `policy.confidence`: a bisect of R releases decides about log2(R) probes, and a wrong "good"
    at any of them names the wrong release (Šidák: c_probe = c ** (1 / probes))."""
    probes = max(1, math.ceil(math.log2(max(2, releases - 1))))
    return float(policy.confidence ** (1 / probes))


def bisect_outcome(
    releases: Sequence[str],
    runner: ProbeRunner,
    criterion: Criterion | None = None,
    policy: Policy = Policy(),
    listener: ProbeListener | None = None,
) -> BisectResult:
    """The first release (in `releases` order, good first) whose runs show the bad outcome."""
    search = _Search(releases, runner, policy, listener)
    criterion, k, n = _sample_bad(search, criterion)
    needed = flake.runs_to_reproduce(k, n, probe_confidence(policy, len(releases)))
    needed = needed or policy.max_probe_runs
    needed = min(needed, policy.max_probe_runs)
    good = search.record(_outcome_probe(search, releases[0], criterion, needed, "good"))
    if good.verdict != "good":
        shown = "shows it too" if good.verdict == "bad" else good.note
        raise BisectRefused(
            f"the good release go{releases[0]} {shown} ({criterion.describe()}); "
            "choose an older --good"
        )
    lo, hi, skipped = search.search(
        lambda version: _outcome_probe(search, version, criterion, needed, "probe")
    )
    return _result(search, criterion, (lo, hi, skipped), (k, n, needed))


def _metric_samples(search: _Search, version: str, metric: str) -> tuple[list[float], list[str]]:
    values: list[float] = []
    outcomes: list[str] = []
    for _ in range(search.policy.metric_runs):
        obs = search.runner.observe(version)
        outcomes.append(obs.outcome)
        value = obs.metrics.get(metric)
        if obs.outcome == "pass" and isinstance(value, (int, float)):
            values.append(float(value))
        if not obs.repeatable:
            break
    return values, outcomes


def metric_change_text(metric: str, change: stats.MetricChange) -> str:
    """`median 15.7ms vs 8.39ms (+88%, p=0.195)`: a probe's metric against the good release's."""
    ratio = change.ratio
    delta = "?" if ratio is None else f"{(ratio - 1) * 100:+.0f}%"
    p = "-" if change.p_value is None else stats.p_text(change.p_value)
    now, then = format_metric(metric, change.median), format_metric(metric, change.baseline_median)
    return f"median {now} vs {then} ({delta}, {p}, n={change.n}+{change.n_baseline})"


def metric_worse(criterion: Criterion, change: stats.MetricChange) -> bool:
    """Significant (p < 0.05) and worse than the baseline by at least the threshold."""
    if not change.significant or change.ratio is None:
        return False
    if criterion.higher_is_better:
        return change.ratio <= 1 - criterion.threshold
    return change.ratio >= 1 + criterion.threshold


def bisect_metric(
    releases: Sequence[str],
    runner: ProbeRunner,
    criterion: Criterion,
    policy: Policy = Policy(),
    listener: ProbeListener | None = None,
) -> BisectResult:
    """The first release whose metric is worse than the good release's (see `metric_worse`)."""
    assert criterion.metric is not None
    metric = criterion.metric
    search = _Search(releases, runner, policy, listener)
    good_values, outcomes = _metric_samples(search, releases[0], metric)
    counts = tuple(Counter(outcomes).most_common())
    n_good = len(outcomes)
    search.record(Probe(releases[0], "good", "good", n_good, 0, counts, f"n={len(good_values)}"))
    if not good_values:
        raise BisectRefused(f"the good release go{releases[0]} gave no {metric} from a passing run")

    def probe(version: str, role: str) -> Probe:
        values, seen = _metric_samples(search, version, metric)
        counts = tuple(Counter(seen).most_common())
        if not values:
            return Probe(version, role, "skip", len(seen), 0, counts, f"no {metric} (no pass)")
        change = stats.compare_samples(values, good_values)
        verdict = "bad" if metric_worse(criterion, change) else "good"
        return Probe(
            version, role, verdict, len(seen), 0, counts, metric_change_text(metric, change)
        )

    bad = search.record(probe(releases[-1], "bad"))
    if bad.verdict != "bad":
        raise BisectRefused(
            f"the bad release go{releases[-1]} is not worse: {bad.note or bad.verdict} "
            f"(wanted {criterion.describe()}); nothing to bisect"
        )
    lo, hi, skipped = search.search(lambda version: probe(version, "probe"))
    return _result(search, criterion, (lo, hi, skipped), (0, 0, None))
