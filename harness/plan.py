"""Plan: which fixture runs a matrix selection asks for, in a seeded, interleaved order.

Runs of different cells are interleaved in a random order drawn from the recorded seed, so a
slow drift of the machine spreads over every cell instead of biasing one.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from harness.fixtures import fixture_applies
from harness.model import CellPlan, Fixture


@dataclass(frozen=True, order=True)
class RunTask:
    """One run of one fixture in one cell; `i` counts from 0 within (cell, fixture)."""

    cell_id: str
    fixture: str
    i: int

    @property
    def warmup(self) -> bool:
        """Warm-up runs have negative numbers (see `warmup_tasks`)."""
        return self.i < 0


@dataclass(frozen=True)
class Exclusion:
    """A fixture a cell will not run, and why (it is recorded as `unsupported`)."""

    cell_id: str
    fixture: str
    reason: str


def fixture_selection(
    plan: CellPlan, fixtures: Mapping[str, Fixture]
) -> tuple[list[Fixture], list[Exclusion]]:
    """Split a cell's selected fixtures into those that run and those its requirements exclude."""
    runnable: list[Fixture] = []
    excluded: list[Exclusion] = []
    for name in plan.fixtures:
        fixture = fixtures[name]
        reason = fixture_applies(fixture, plan.cell)
        if reason is None:
            runnable.append(fixture)
        else:
            excluded.append(Exclusion(plan.cell.id, name, reason))
    return runnable, excluded


def plan_tasks(
    plans: Sequence[CellPlan],
    fixtures: Mapping[str, Fixture],
    seed: int,
    *,
    repeats_override: int | None = None,
    already_done: Iterable[RunTask] = (),
) -> list[RunTask]:
    """Every run the selection asks for, minus `already_done`, shuffled by `seed`.

    The shuffle happens before `already_done` is removed, so a resumed run keeps the order the
    original run would have used for what is left.
    """
    tasks: list[RunTask] = []
    for plan in sorted(plans, key=lambda p: p.cell.id):
        runnable, _ = fixture_selection(plan, fixtures)
        for fixture in runnable:
            count = repeats_override or plan.settings.repeats_for(fixture.kind)
            tasks.extend(RunTask(plan.cell.id, fixture.name, i) for i in range(count))
    random.Random(seed).shuffle(tasks)
    done = set(already_done)
    return [task for task in tasks if task not in done]


def warmup_tasks(
    plans: Sequence[CellPlan],
    fixtures: Mapping[str, Fixture],
    *,
    already_done: Iterable[RunTask] = (),
) -> list[RunTask]:
    """The warm-up runs of bench fixtures (`bench_warmup` per cell), minus `already_done`.

    A warm-up is numbered `i = -1, -2, …` so it never collides with a measured run (and its log
    and resume bookkeeping stay apart); it runs before the measured runs and is never counted.
    """
    done = set(already_done)
    tasks = [
        RunTask(plan.cell.id, fixture.name, -(w + 1))
        for plan in sorted(plans, key=lambda p: p.cell.id)
        for fixture in fixture_selection(plan, fixtures)[0]
        if fixture.kind == "bench"
        for w in range(plan.settings.bench_warmup)
    ]
    return [task for task in tasks if task not in done]


BUILD_COST_S = 20.0  # a cold `go build` of the fixture module, roughly, on 2 cores
RUN_OVERHEAD_S = 0.5  # process start, result file, classification


def estimated_cost_s(plan: CellPlan, fixtures: Mapping[str, Fixture]) -> float:
    """What one cell is expected to cost: its build plus every run at its configured duration."""
    runnable, _ = fixture_selection(plan, fixtures)
    runs = sum(plan.settings.repeats_for(f.kind) for f in runnable)
    return BUILD_COST_S + runs * (plan.settings.duration_s + RUN_OVERHEAD_S)


def parse_shard(text: str) -> tuple[int, int]:
    """`2/3` → (2, 3): shard 2 of 3, counted from 1. ValueError with a readable message."""
    index_text, sep, count_text = text.partition("/")
    if not sep or not index_text.isdigit() or not count_text.isdigit():
        raise ValueError(f"--shard takes I/N (e.g. 2/3), got {text!r}")
    index, count = int(index_text), int(count_text)
    if not 1 <= index <= count:
        raise ValueError(f"--shard {text}: I must be between 1 and N")
    return index, count


def shard_plans(
    plans: Sequence[CellPlan], fixtures: Mapping[str, Fixture], index: int, count: int
) -> list[CellPlan]:
    """The cells of shard `index` of `count` (from 1): a split balanced by expected cost.

    Longest-processing-time-first over cells sorted by (cost, id), ties to the lowest shard: the
    same matrix gives the same split on every machine, and every cell lands in exactly one shard.
    """
    loads = [0.0] * count
    members: list[list[CellPlan]] = [[] for _ in range(count)]
    ordered = sorted(plans, key=lambda p: (-estimated_cost_s(p, fixtures), p.cell.id))
    for plan in ordered:
        target = min(range(count), key=lambda k: (loads[k], k))
        loads[target] += estimated_cost_s(plan, fixtures)
        members[target].append(plan)
    chosen = {p.cell.id for p in members[index - 1]}
    return [p for p in plans if p.cell.id in chosen]
