"""plan.py: which runs a selection asks for, and in which (seeded, interleaved) order."""

from __future__ import annotations

from pathlib import Path

from harness.matrix import CellPlan
from harness.model import Cell, Fixture, Settings
from harness.plan import RunTask, fixture_selection, plan_tasks

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
