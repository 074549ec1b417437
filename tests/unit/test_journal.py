"""The run journal (store/journal.py) and the pipeline's bookkeeping on it: a run is recorded in
the journal at once and in its cell document at a bounded rate, and a resume takes back exactly
what either holds, the journal winning."""

from __future__ import annotations

import json
import types
from pathlib import Path

from harness.build import BuildResult
from harness.context import Clock, Paths, Reporter, RunContext
from harness.model import Cell, CellPlan, Fixture, Outcome, Settings, Toolchain
from harness.pipeline import CELL_WRITE_INTERVAL_S, Pipeline
from harness.plan import RunTask
from harness.store import RunStore
from harness.store.records import RunRecord

FIXTURES = {"stress_a": Fixture("stress_a", "stress", "p", Path("/m"), "./cmd/stress_a")}
CELL = "go1.22-default"


def record(i: int, outcome: Outcome = Outcome.PASS) -> RunRecord:
    return RunRecord(i, outcome, 0, None, 0.5, started="2026-11-30T07:00:00.000Z")


def test_journal_reads_back_what_was_appended(tmp_path: Path) -> None:
    journal = RunStore.create(tmp_path, "r1").journal()
    journal.append(CELL, "stress_a", record(0))
    journal.append(CELL, "stress_a", record(1, Outcome.CRASH))
    journal.close()
    entries = journal.entries()
    assert [(e.cell_id, e.fixture, e.record) for e in entries] == [
        (CELL, "stress_a", record(0)),
        (CELL, "stress_a", record(1, Outcome.CRASH)),
    ]
    header = json.loads(journal.path.read_text().splitlines()[0])
    assert header == {"schema": "gxm.journal/1"}


def test_a_line_cut_short_is_skipped_and_the_next_writer_starts_a_new_line(
    tmp_path: Path,
) -> None:
    journal = RunStore.create(tmp_path, "r1").journal()
    journal.append(CELL, "stress_a", record(0))
    journal.close()
    with open(journal.path, "a") as handle:  # a writer killed in the middle of its line
        handle.write('{"cell": "go1.22-default", "fixture": "stress_a", "run": {"i": 1, "outc')
    assert [e.record.i for e in journal.entries()] == [0]
    again = RunStore(journal.path.parent).journal()
    again.append(CELL, "stress_a", record(2))
    again.close()
    assert [e.record.i for e in again.entries()] == [0, 2]


def test_a_journal_of_another_schema_is_ignored(tmp_path: Path) -> None:
    journal = RunStore.create(tmp_path, "r1").journal()
    journal.path.write_text('{"schema": "gxm.journal/9"}\n{"cell": "x", "fixture": "y"}\n')
    assert journal.entries() == []


class FakeClock(Clock):
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.now_s = 1000.0
        self.monotonic = lambda: self.now_s


def pipeline(
    tmp_path: Path, clock: Clock, experiments: tuple[str, ...] = ("",)
) -> tuple[Pipeline, RunStore]:
    """A pipeline whose cells (go1.22 x `experiments`) are built, each with 4 planned runs."""
    store = RunStore.create(tmp_path / "results", "r1")
    paths = Paths(tmp_path, tmp_path / "results", tmp_path / "cache", store.run_dir, tmp_path)
    ctx = RunContext(paths, Reporter(), clock, 1, "local")
    plans = [
        CellPlan(Cell("1.22", e), Settings(repeats_stress=4), ("stress_a",)) for e in experiments
    ]
    backend = types.SimpleNamespace(name="local")  # only its name goes into the cell document
    made = Pipeline(ctx, backend, plans, FIXTURES, journal=store.journal())  # type: ignore[arg-type]
    for cell_id, state in made.states.items():
        state.toolchain = Toolchain("1.22.10", tmp_path / "go", "0" * 64)
        state.build = BuildResult("ok", 1.0, None, binaries={"stress_a": tmp_path / "stress_a"})
        made._runs_left[cell_id] = 4
        made.write_cell(cell_id)
    return made, store


def stored_runs(store: RunStore, cell_id: str = CELL) -> list[int]:
    cell = store.read_cell(cell_id)
    assert cell is not None
    return sorted(r.i for r in cell.fixtures["stress_a"].runs)


def test_runs_go_to_the_journal_at_once_and_to_the_cell_document_at_a_bounded_rate(
    tmp_path: Path,
) -> None:
    """The old pipeline rewrote the whole cell document after every run (quadratic in runs)."""
    clock = FakeClock()
    made, store = pipeline(tmp_path, clock)
    made.record(RunTask(CELL, "stress_a", 0), record(0))
    made.record(RunTask(CELL, "stress_a", 1), record(1))
    assert stored_runs(store) == []  # not rewritten per run ...
    assert [e.record.i for e in store.journal().entries()] == [0, 1]  # ... yet nothing is lost
    clock.now_s += CELL_WRITE_INTERVAL_S
    made.record(RunTask(CELL, "stress_a", 2), record(2))
    assert stored_runs(store) == [0, 1, 2]  # the interval passed
    made.record(RunTask(CELL, "stress_a", 3), record(3))
    assert stored_runs(store) == [0, 1, 2, 3]  # the cell's last run
    made.close()
    assert not store.journal().path.exists()  # every record is in a cell document now


def test_the_interval_rewrites_one_lagging_document_whatever_the_number_of_cells(
    tmp_path: Path,
) -> None:
    """Runs of many cells interleave: a per-cell interval would still rewrite nearly one
    document per run. One document (the stalest) per interval, whatever the cells."""
    clock = FakeClock()
    arenas = "go1.22-arenas"
    made, store = pipeline(tmp_path, clock, ("", "arenas"))
    clock.now_s += CELL_WRITE_INTERVAL_S
    made.record(RunTask(arenas, "stress_a", 0), record(0))  # the interval passed: written
    made.record(RunTask(CELL, "stress_a", 0), record(0))  # within the next interval: lags
    made.record(RunTask(arenas, "stress_a", 1), record(1))
    assert (stored_runs(store, arenas), stored_runs(store)) == ([0], [])
    clock.now_s += CELL_WRITE_INTERVAL_S
    made.record(RunTask(arenas, "stress_a", 2), record(2))  # one rewrite: the stalest cell's
    assert (stored_runs(store, arenas), stored_runs(store)) == ([0], [0])
    made.close()
    assert (stored_runs(store, arenas), stored_runs(store)) == ([0, 1, 2], [0])


def test_resume_takes_back_the_journal_over_the_cell_documents_and_redoes_infra_errors(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    made, store = pipeline(tmp_path, clock)
    made.record(RunTask(CELL, "stress_a", 0), record(0, Outcome.INFRA_ERROR))
    clock.now_s += CELL_WRITE_INTERVAL_S
    made.record(RunTask(CELL, "stress_a", 1), record(1))  # written: 0 (infra), 1
    made.record(RunTask(CELL, "stress_a", 2), record(2))  # journal only (as after a SIGKILL)
    made.journal.close()  # type: ignore[union-attr]
    previous = store.cell_results()
    assert stored_runs(store) == [0, 1]
    again, _ = pipeline(tmp_path / "again", FakeClock())
    done = again.restore(previous, store.journal().entries())
    assert sorted(t.i for t in done) == [1, 2]  # run 0 was an infra-error: redone
    assert sorted(r.i for r in again.states[CELL].runs["stress_a"]) == [1, 2]


def test_a_run_record_keeps_its_start_and_end_and_older_records_read_without_them() -> None:
    timed = RunRecord(
        3, Outcome.PASS, started="2026-11-30T07:00:00.000Z", ended="2026-11-30T07:00:01.250Z"
    )
    doc = timed.to_json()
    assert (doc["started"], doc["ended"]) == (
        "2026-11-30T07:00:00.000Z",
        "2026-11-30T07:00:01.250Z",
    )
    assert RunRecord.from_json(doc) == timed
    old = {"i": 0, "outcome": "pass"}
    assert (
        RunRecord.from_json(old).started is None
        and "started" not in RunRecord.from_json(old).to_json()
    )
