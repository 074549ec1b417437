"""Selecting and describing the runs a claim rule looks at (used by `claims.rules`).

`CellFilter` picks cells of a run (Go version condition, experiment), `collect` gathers the runs
of some fixtures there (warm-ups and runs that say nothing about the cell left out), and
`RunCondition` tests them (`all` / `any` run with an outcome, signature, check values). The
`*_text` helpers write the evidence lines a claims report shows.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.model import experiment_id, go_version_key, has_extra_axes
from harness.stats import FAILURE_OUTCOMES, NOT_A_TRIAL, median, wilson_ci95
from harness.store import RunData
from harness.store.records import CellInfo, RunRecord

_GO_SPEC = re.compile(r"^(>=|<=|>|<|==)?\s*(1\.\d+)$")


@dataclass(frozen=True)
class CellFilter:
    """Which cells a rule looks at. `go`: `1.22`, `>=1.22`, `<1.22` (compared on the minor
    version); `experiment`: an exact experiment id (`default`, `arenas+cgocheck2`); `with` /
    `without`: an experiment the cell's GOEXPERIMENT does / does not list. Unset = any."""

    go: str | None = None
    experiment: str | None = None
    with_experiment: str | None = None
    without_experiment: str | None = None

    def matches(self, cell: CellInfo) -> bool:
        if has_extra_axes(
            cell.axes
        ):  # a sanitizer, GODEBUG or cgo-off cell is not experiment evidence
            return False
        goexperiment = cell.goexperiment
        requested = [e for e in goexperiment.split(",") if e]
        if self.experiment is not None and experiment_id(goexperiment) != self.experiment:
            return False
        if self.with_experiment is not None and self.with_experiment not in requested:
            return False
        if self.without_experiment is not None and self.without_experiment in requested:
            return False
        return self.go is None or go_matches(self.go, cell.go)


def go_matches(spec: str, version: str) -> bool:
    """Whether Go `version` (`1.22`, `1.22.10`) satisfies `spec` (`1.22`, `>=1.22`, `<1.22`)."""
    match = _GO_SPEC.match(spec.strip())
    if not match:
        raise ValueError(f"not a Go version condition: {spec!r}")
    try:
        have = go_version_key(version)[:2]
    except ValueError:
        return False
    want = go_version_key(match[2])[:2]
    op = match[1] or "=="
    return {
        "==": have == want,
        ">=": have >= want,
        "<=": have <= want,
        ">": have > want,
        "<": have < want,
    }[op]


@dataclass(frozen=True)
class FixtureRuns:
    """The runs of one fixture in one cell that count (no warm-ups, no infra errors), and the
    fixture's status there (`ran`, `unsupported`, `build-error`, …)."""

    cell_id: str
    go: str
    fixture: str
    status: str
    runs: tuple[RunRecord, ...]


def collect(run: RunData, fixtures: Sequence[str], cells: CellFilter) -> list[FixtureRuns]:
    """Every (cell, fixture) of the run that the filter and fixture list select."""
    found = []
    for doc in run.results:
        if not cells.matches(doc.cell):
            continue
        for name in fixtures:
            entry = doc.fixtures.get(name)
            if entry is None:
                continue
            runs = tuple(
                r for r in entry.runs if not r.warmup and r.outcome.value not in NOT_A_TRIAL
            )
            found.append(FixtureRuns(doc.id, doc.cell.go, name, entry.status, runs))
    return found


def cells_text(cell_ids: Iterable[str]) -> str:
    """`arenas: go1.21, go1.22; default: go1.22` — cell ids grouped by experiment."""
    groups: dict[str, list[str]] = {}
    for cell_id in sorted(set(cell_ids), key=_cell_sort_key):
        go, _, experiment = cell_id.partition("-")
        groups.setdefault(experiment or "?", []).append(go)
    return "; ".join(f"{exp}: {', '.join(gos)}" for exp, gos in groups.items()) or "no cells"


def _cell_sort_key(cell_id: str) -> tuple[Any, ...]:
    go = cell_id.partition("-")[0].removeprefix("go")
    try:
        return (go_version_key(go), cell_id)
    except ValueError:
        return ((9, 9, 9), cell_id)


def outcome_counts(items: Iterable[FixtureRuns]) -> str:
    """`crash 10/10` / `pass 7/10, corrupt 3/10`: outcome counts over all runs of `items`."""
    counts = Counter(r.outcome.value for item in items for r in item.runs)
    total = sum(counts.values())
    return ", ".join(f"{o} {c}/{total}" for o, c in counts.most_common()) or "no runs"


def not_run_text(items: Iterable[FixtureRuns]) -> str | None:
    """`unsupported in 4 cells` for (cell, fixture) pairs that did not run, or None."""
    counts = Counter(item.status for item in items if item.status != "ran")
    if not counts:
        return None
    return "not run: " + ", ".join(f"{s} in {c} cell(s)" for s, c in counts.most_common())


def pct(k: int, n: int) -> str:
    """`3/10 (30%, 95% CI 11–60%)`."""
    if n == 0:
        return "0/0"
    low, high = wilson_ci95(k, n)
    return f"{k}/{n} ({100 * k / n:.0f}%, 95% CI {100 * low:.0f}–{100 * high:.0f}%)"


# --- conditions over runs (outcomes rules) -----------------------------------------------------


@dataclass(frozen=True)
class RunCondition:
    """A test over runs: `quantifier` `all` (there are runs and every one matches) or `any`.

    A run matches when its outcome is one of `outcomes` (any when empty), its signature contains
    `signature` (a regular expression, searched), and every `checks` entry holds: text values
    are regular expressions the check's value must match in full, other values must be equal.
    `cells` overrides the rule's cells (a control may look elsewhere).
    """

    quantifier: str
    fixtures: tuple[str, ...]
    outcomes: tuple[str, ...] = ()
    signature: str | None = None
    checks: tuple[tuple[str, Any], ...] = ()
    cells: CellFilter | None = None

    def run_matches(self, run: RunRecord) -> bool:
        if self.outcomes and run.outcome.value not in self.outcomes:
            return False
        if self.signature and not re.search(self.signature, run.signature or ""):
            return False
        checks = run.checks
        return all(k in checks and _check_value_matches(v, checks[k]) for k, v in self.checks)

    def describe(self) -> str:
        what = [f"outcome {'|'.join(self.outcomes)}"] if self.outcomes else []
        if self.signature:
            what.append(f"signature ~ /{self.signature}/")
        what += [f"{k}={v!r}" for k, v in self.checks]
        who = "every run" if self.quantifier == "all" else "some run"
        return f"{who} of {', '.join(self.fixtures)}: {', '.join(what) or 'any outcome'}"


def _check_value_matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, str):
        return re.fullmatch(expected, str(actual)) is not None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return bool(expected == actual)


def condition_holds(
    condition: RunCondition, run: RunData, default_cells: CellFilter
) -> tuple[bool, str, list[FixtureRuns]]:
    """(holds, `every run of …: … → held (35/35)`, the runs looked at)."""
    items = collect(run, condition.fixtures, condition.cells or default_cells)
    runs = [r for item in items for r in item.runs]
    matching = sum(1 for r in runs if condition.run_matches(r))
    every = bool(runs) and matching == len(runs)
    holds = every if condition.quantifier == "all" else matching > 0
    text = f"{condition.describe()} → {'held' if holds else 'not held'} ({matching}/{len(runs)})"
    return holds, text, items


@dataclass(frozen=True)
class Side:
    """One side of a comparison: fixtures in cells; failures counted only when their signature
    matches `signature` (when set)."""

    fixtures: tuple[str, ...]
    cells: CellFilter = field(default_factory=CellFilter)
    signature: str | None = None

    def failed(self, run: RunRecord) -> bool:
        if run.outcome.value not in FAILURE_OUTCOMES:
            return False
        return not self.signature or bool(re.search(self.signature, str(run.signature)))


def iter_runs(items: Iterable[FixtureRuns]) -> Iterator[RunRecord]:
    for item in items:
        yield from item.runs


def median_of(values: Sequence[float]) -> float | None:
    return median(values) if values else None


def metric_text(name: str, value: float | None) -> str:
    """A metric value for people: `1.31ms`, `42.0MiB`, `34.7%`, `-` for no value."""
    if value is None:
        return "-"
    if name.endswith("_ns"):
        for unit, size in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
            if value >= size:
                return f"{value / size:.3g}{unit}"
        return f"{value:.0f}ns"
    if name.endswith("_bytes"):
        return f"{value / (1 << 20):.1f}MiB"
    if name.endswith("_fraction"):
        return f"{100 * value:.1f}%"
    return f"{value:g}"
