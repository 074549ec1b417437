"""Plan: which fixture runs a matrix selection asks for, in a seeded, interleaved order.

Runs of different cells are interleaved in a random order drawn from the recorded seed (DESIGN
"Statistics"), so a slow drift of the machine spreads over every cell instead of biasing one.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from harness.fixtures import fixture_applies
from harness.matrix import CellPlan
from harness.model import Fixture


@dataclass(frozen=True, order=True)
class RunTask:
    """One run of one fixture in one cell; `i` counts from 0 within (cell, fixture)."""

    cell_id: str
    fixture: str
    i: int


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
