"""plan.py: which runs a selection asks for, and in which (seeded, interleaved) order."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.model import Cell, CellPlan, Fixture, Settings
from harness.plan import (
    RunTask,
    estimated_cost_s,
    fixture_selection,
    parse_shard,
    plan_tasks,
    shard_plans,
)

FIXTURES = {
    "stress_a": Fixture("stress_a", "stress", "p", Path("/m"), "./cmd/stress_a"),
    "bench_b": Fixture("bench_b", "bench", "p", Path("/m"), "./cmd/bench_b"),
    "arena_c": Fixture(
        "arena_c", "stress", "p", Path("/m"), "./cmd/arena_c", requires_experiments=("arenas",)
    ),
}
SETTINGS = Settings(repeats_stress=3, repeats_bench=2)


def plans() -> list[CellPlan]:
    names = tuple(FIXTURES)
    return [
        CellPlan(Cell("1.22", ""), SETTINGS, names),
        CellPlan(Cell("1.22", "arenas"), SETTINGS, names),
    ]


def test_counts_follow_repeats_per_kind_and_requirements() -> None:
    tasks = plan_tasks(plans(), FIXTURES, seed=1)
    by_cell = {
        cell: [t for t in tasks if t.cell_id == cell]
        for cell in ("go1.22-default", "go1.22-arenas")
    }
    assert len(by_cell["go1.22-default"]) == 3 + 2  # arena_c needs arenas
    assert len(by_cell["go1.22-arenas"]) == 3 + 2 + 3


def test_order_is_seeded_and_interleaves_cells() -> None:
    first = plan_tasks(plans(), FIXTURES, seed=7)
    assert first == plan_tasks(plans(), FIXTURES, seed=7)
    assert first != plan_tasks(plans(), FIXTURES, seed=8)
    cells_in_order = [t.cell_id for t in first]
    switches = sum(a != b for a, b in zip(cells_in_order, cells_in_order[1:], strict=False))
    assert switches > 1


def test_resume_keeps_remaining_order_and_drops_done() -> None:
    full = plan_tasks(plans(), FIXTURES, seed=3)
    done = full[:4]
    rest = plan_tasks(plans(), FIXTURES, seed=3, already_done=done)
    assert rest == full[4:]


def test_repeats_override_applies_to_every_kind() -> None:
    tasks = plan_tasks(plans()[:1], FIXTURES, seed=1, repeats_override=5)
    assert sorted({t.i for t in tasks}) == [0, 1, 2, 3, 4]
    assert RunTask("go1.22-default", "bench_b", 4) in tasks


def test_fixture_excluded_by_requirement_is_reported_with_reason() -> None:
    runnable, excluded = fixture_selection(plans()[0], FIXTURES)
    assert [f.name for f in runnable] == ["stress_a", "bench_b"]
    assert excluded[0].fixture == "arena_c" and "arenas" in excluded[0].reason


def many_plans(count: int) -> list[CellPlan]:
    versions = [f"1.{minor}" for minor in range(21, 28)]
    experiments = ["", "arenas", "cgocheck2", "greenteagc", "nogreenteagc"]
    cells = [Cell(v, e) for v in versions for e in experiments][:count]
    return [CellPlan(c, SETTINGS, tuple(FIXTURES)) for c in cells]


def test_shards_partition_the_cells_exactly() -> None:
    plans = many_plans(35)
    shards = [shard_plans(plans, FIXTURES, i, 4) for i in range(1, 5)]
    ids = [p.cell.id for shard in shards for p in shard]
    assert sorted(ids) == sorted(p.cell.id for p in plans)
    assert len(ids) == len(set(ids))


def test_shards_are_balanced_by_expected_cost() -> None:
    plans = many_plans(35)
    costs = [
        sum(estimated_cost_s(p, FIXTURES) for p in shard_plans(plans, FIXTURES, i, 3))
        for i in range(1, 4)
    ]
    assert max(costs) - min(costs) <= max(estimated_cost_s(p, FIXTURES) for p in plans)


def test_shard_split_does_not_depend_on_input_order() -> None:
    plans = many_plans(12)
    forward = [p.cell.id for p in shard_plans(plans, FIXTURES, 2, 3)]
    backward = [p.cell.id for p in shard_plans(plans[::-1], FIXTURES, 2, 3)]
    assert sorted(forward) == sorted(backward)


@pytest.mark.parametrize("text", ["0/3", "4/3", "1-3", "a/b", "3"])
def test_bad_shard_text_is_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_shard(text)


def test_shard_text_parses() -> None:
    assert parse_shard("2/3") == (2, 3)
