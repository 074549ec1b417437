"""The whole pipeline for a selection of cells: provision → build → run → classify → store.

Builds and runs are scheduled by `harness.schedule` (runs overlap other cells' builds, `jobs` at a
time; bench runs alone). Each run's record goes to the run's journal as it ends and into its cell
document at a bounded rate, so an interrupted run (Ctrl-C, or even SIGKILL) leaves whole files
and `--resume` continues with exactly the runs that are missing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from harness import __version__, axes, schedule, toolchains
from harness.backends import Backend
from harness.build import BuildResult
from harness.build import build_cell as build_cell_of
from harness.celldoc import CellState, build_status, cell_result
from harness.context import Advance, RunContext
from harness.errors import GxmError
from harness.model import Cell, CellPlan, Fixture, Outcome
from harness.plan import RunTask, fixture_selection, plan_tasks, warmup_tasks
from harness.run import execute_fixture_run
from harness.store import host_info, utc_timestamp_ms
from harness.store.journal import JournalEntry, RunJournal
from harness.store.records import CellResult, MatrixRef, RunDocument, RunRecord

# while runs go on, one lagging cell document is rewritten at most this often (whatever the
# number of cells: a rewrite costs as much as the cell has runs)
CELL_WRITE_INTERVAL_S = 5.0


class Pipeline:
    """Runs a selection of cells into one run directory.

    With a `journal`, each run record is appended to it as the run ends; a cell document is
    rewritten when the cell's last planned run ends, and otherwise the stalest lagging one every
    CELL_WRITE_INTERVAL_S at most (and every lagging one by `close`); without a journal (a bisect),
    after every run.
    """

    def __init__(
        self,
        ctx: RunContext,
        backend: Backend,
        plans: Sequence[CellPlan],
        fixtures: Mapping[str, Fixture],
        *,
        repeats: int | None = None,
        jobs: int = 1,
        journal: RunJournal | None = None,
        before_alone: Callable[[], None] = lambda: None,
        before_shared: Callable[[], None] = lambda: None,
    ) -> None:
        self.ctx = ctx
        self.before_alone = before_alone  # called before each run that runs alone (bench)
        self.before_shared = before_shared  # ... and before each other scheduled run
        self.backend = backend
        self.fixtures = fixtures
        self.repeats = repeats
        self.jobs = jobs
        self.journal = journal
        self.states = {plan.cell.id: CellState(plan) for plan in plans}
        self._dirty: set[str] = set()  # cells with runs no cell document holds yet
        self._unfolded: set[str] = set()  # cells whose journal records no document holds yet
        self._written_at: dict[str, float] = {}
        self._lag_written_s = ctx.clock.monotonic()  # when the interval last rewrote a document
        self._runs_left: dict[str, int] = {}

    def write_cell(self, cell_id: str) -> None:
        store = self.ctx.store
        store.write_cell(cell_result(self.states[cell_id], self.fixtures, self.backend.name, store))
        self._dirty.discard(cell_id)
        self._unfolded.discard(cell_id)
        self._written_at[cell_id] = self.ctx.clock.monotonic()

    def restore(
        self, previous: Mapping[str, CellResult], journal: Sequence[JournalEntry] = ()
    ) -> list[RunTask]:
        """Take back the runs a previous, interrupted attempt recorded (in its cell documents,
        and in its journal, which is newer); return them as done. Infra errors are redone."""
        found: dict[tuple[str, str, int], RunRecord] = {}
        for cell_id, result in previous.items():
            for name, entry in result.fixtures.items():
                found.update({(cell_id, name, r.i): r for r in entry.runs})
        for line in journal:
            found[(line.cell_id, line.fixture, line.record.i)] = line.record
        self._unfolded = {line.cell_id for line in journal if line.cell_id in self.states}
        done: list[RunTask] = []
        for (cell_id, name, i), record in found.items():
            if cell_id in self.states and not record.is_infra_error:
                self.states[cell_id].runs.setdefault(name, []).append(record)
                done.append(RunTask(cell_id, name, i))
        return done

    def provision(self) -> None:
        """Resolve and fetch every Go version the selection needs (once per version)."""
        versions = sorted({s.plan.cell.go for s in self.states.values()})
        with self.ctx.reporter.progress("toolchains", len(versions)) as advance:
            for spec in versions:
                why = ""
                try:
                    toolchain = toolchains.provision(spec, self.ctx.paths.cache)
                    why = f"{self.backend.name} backend could not prepare go{toolchain.version}"
                    self.backend.prepare(toolchain)
                except GxmError as exc:
                    self.ctx.reporter.info(f"go {spec}: {exc}")
                    toolchain, why = None, f"{why or 'toolchain unavailable'}: {exc}"
                for state in self.states.values():
                    if state.plan.cell.go != spec:
                        continue
                    if toolchain is None:
                        state.unavailable = why
                    else:
                        state.toolchain, state.go_resolved = toolchain, toolchain.version
                advance(f"go {spec} → {toolchain.version if toolchain else 'unavailable'}")

    def go_versions(self) -> list[str]:
        """The Go versions the run's toolchains resolved to (`1.22.10`), after `provision`."""
        return sorted({s.go_resolved for s in self.states.values() if s.go_resolved})

    def build_all(self) -> None:
        """Build every cell (harness.schedule: BUILD_WORKERS at a time); each cell document is
        written as its build ends. Cells that differ only in GODEBUG share one build."""
        self._schedule([])

    def run_all(self, done: Sequence[RunTask]) -> None:
        """Build every cell and run every planned run: `jobs` stress and claim runs at a time, in
        the seeded order, as soon as their cell is built; bench runs alone at the end."""
        tasks = warmup_tasks(self._plans(), self.fixtures, already_done=done) + plan_tasks(
            self._plans(),
            self.fixtures,
            self.ctx.seed,
            repeats_override=self.repeats,
            already_done=done,
        )
        self._schedule(tasks)

    def _plans(self) -> list[CellPlan]:
        return [s.plan for s in self.states.values() if s.toolchain is not None]

    def _schedule(self, tasks: Sequence[RunTask]) -> None:
        """Carry out the builds still to do and `tasks` (in plan order) on the schedule."""
        for state in self.states.values():
            if state.toolchain is None:
                self.write_cell(state.plan.cell.id)
        groups: dict[Cell, list[CellState]] = {}
        for state in self.states.values():
            if state.toolchain is not None and state.build is None:
                groups.setdefault(state.plan.cell.build_cell, []).append(state)
        builds = [
            schedule.Job(key, frozenset(s.plan.cell.id for s in g), is_build=True)
            for key, g in groups.items()
        ]
        runs = [
            schedule.Job(task, frozenset({task.cell_id}), alone=self._is_bench(task), order=number)
            for number, task in enumerate(tasks)
        ]
        built = [cell for cell, s in self.states.items() if s.build is not None]
        board = schedule.Board.of(
            builds, runs, jobs=self.jobs, workers=schedule.build_workers(), built=built
        )
        board.drop(lambda job: self._may_run(job.key))
        self._runs_left = dict(Counter(task.cell_id for task in tasks))
        with self.ctx.reporter.progress("builds and runs", len(builds) + len(runs)) as advance:

            def work(job: schedule.Job, release: schedule.Release) -> RunRecord | None:
                if job.is_build:
                    self._build_group(job.key, groups[job.key])
                    return None
                (self.before_alone if job.alone else self.before_shared)()
                return self._execute(job.key, pinned=job.alone, on_exit=release)

            def finish(job: schedule.Job, record: RunRecord | None) -> None:
                if record is None:
                    self._built_group(board, groups[job.key], advance)
                else:
                    self.record(job.key, record)
                    advance(_run_label(job.key, record))

            schedule.run_schedule(
                board, work, finish, end_everything=lambda: self.backend.__exit__(None, None, None)
            )

    def _is_bench(self, task: RunTask) -> bool:
        return self.fixtures[task.fixture].kind == "bench"

    def _may_run(self, task: RunTask) -> bool:
        """Whether a planned run can still happen: its cell not built yet, or its fixture built."""
        state = self.states[task.cell_id]
        return state.build is None or task.fixture in self._built(task.cell_id)

    def _built_group(
        self, board: schedule.Board, members: list[CellState], advance: Advance
    ) -> None:
        """A build ended: its cells' documents are written, runs it could not build dropped."""
        dropped = board.drop(lambda job: self._may_run(job.key))
        for state in members:
            cell_id = state.plan.cell.id
            self._runs_left[cell_id] = self._runs_left.get(cell_id, 0) - dropped.get(cell_id, 0)
            self.write_cell(cell_id)
        label = ", ".join(f"{s.plan.cell.id}: {build_status(s)}" for s in members)
        skipped = sum(dropped.values())
        advance(f"build {label}" + (f" ({skipped} runs not run)" if skipped else ""), 1 + skipped)

    def _build_group(self, build_cell: Cell, members: list[CellState]) -> None:
        """One build for cells that differ only in GODEBUG; a GODEBUG the toolchain does not
        know makes its cell `unsupported` before anything is built."""
        toolchain = members[0].toolchain
        assert toolchain is not None
        building: list[CellState] = []
        for state in members:
            _, excluded = fixture_selection(state.plan, self.fixtures)
            state.excluded = {e.fixture: e.reason for e in excluded}
            refused = axes.unsupported_godebug_reason(toolchain, state.plan.cell.godebug)
            if refused:
                state.build = BuildResult(Outcome.UNSUPPORTED.value, 0.0, None, detail=refused)
            else:
                building.append(state)
        if not building:
            return
        names = tuple(dict.fromkeys(n for s in building for n in s.plan.fixtures))
        plan = replace(building[0].plan, cell=build_cell, fixtures=names)
        runnable, _ = fixture_selection(plan, self.fixtures)
        started = utc_timestamp_ms(self.ctx.clock.now())
        build = build_cell_of(self.ctx, self.backend, toolchain, plan, runnable)
        ended = utc_timestamp_ms(self.ctx.clock.now())
        for state in building:
            state.build, state.build_span = build, (started, ended)
            state.excluded.update(
                {
                    name: why
                    for name, why in build.unsupported.items()
                    if name in state.plan.fixtures
                }
            )

    def _built(self, cell_id: str) -> dict[str, Path]:
        build = self.states[cell_id].build
        return build.binaries if build is not None else {}

    def _execute(
        self, task: RunTask, *, pinned: bool = False, on_exit: Callable[[], None] | None = None
    ) -> RunRecord:
        """Run one planned run of a built cell (on a worker thread: records nothing); `pinned`:
        on CPUs of its own (harness.schedule.bench_cpuset); `on_exit` is called once its process
        has ended."""
        state = self.states[task.cell_id]
        assert state.toolchain is not None and state.build is not None
        cpus = self.backend.pinnable_cpus() if pinned else ()
        record = execute_fixture_run(
            self.ctx,
            self.backend,
            state.toolchain,
            state.plan,
            self.fixtures[task.fixture],
            state.build.binaries[task.fixture],
            task.i,
            schedule.bench_cpuset(state.plan.settings.cpus, cpus) if cpus else (),
            on_exit=on_exit,
        )
        return replace(record, warmup=True) if task.warmup else record  # warm-ups never count

    def run_task(self, task: RunTask) -> RunRecord:
        """Run one planned run of a built cell now and record it."""
        record = self._execute(task)
        self.record(task, record)
        return record

    def record(self, task: RunTask, record: RunRecord) -> None:
        """Keep a run's record: in the journal at once, in its cell document when due."""
        cell_id = task.cell_id
        self.states[cell_id].runs.setdefault(task.fixture, []).append(record)
        if self.journal is None:
            self.write_cell(cell_id)
            return
        self.journal.append(cell_id, task.fixture, record)
        self._dirty.add(cell_id)
        left = self._runs_left.get(cell_id)  # None: a run outside the plan (--until-fail)
        if left is not None:
            self._runs_left[cell_id] = left = left - 1
        if left is not None and left <= 0:
            self.write_cell(cell_id)
            return
        now_s = self.ctx.clock.monotonic()
        if now_s - self._lag_written_s >= CELL_WRITE_INTERVAL_S:
            self.write_cell(min(self._dirty, key=lambda c: (self._written_at.get(c, 0.0), c)))
            self._lag_written_s = now_s

    def close(self) -> None:
        """Write every cell document that lags behind its runs; then the journal goes, unless
        it holds runs of a cell this attempt never wrote (a resume interrupted before that
        cell's build): the next resume needs them."""
        for cell_id in sorted(self._dirty):
            self.write_cell(cell_id)
        if self.journal is not None:
            if self._unfolded:
                self.journal.close()
            else:
                self.journal.remove()


def _run_label(task: RunTask, record: RunRecord) -> str:
    number = f"warm-up {-task.i}" if task.warmup else f"#{task.i}"
    label = f"{task.cell_id} {task.fixture} {number}: {record.outcome}"
    return label + (f" ({record.signature[:60]})" if record.signature else "")


@dataclass(frozen=True)
class RunRequest:
    """What `gxm run` / `gxm cell` asked for, recorded in the run record so a run can be resumed."""

    matrix_path: str
    matrix_sha256: str
    profile: str | None
    cells: tuple[str, ...]
    fixtures: tuple[str, ...] | None
    repeats: int | None
    seed: int
    command: tuple[str, ...]
    # a resumed run keeps when and how it was first started; each resume is listed after it
    started: str | None = None
    resumed: tuple[Mapping[str, Any], ...] = ()
    jobs: int = 1  # runs at a time (harness.schedule)

    def resumed_from(self, recorded: RunDocument, now: datetime) -> RunRequest:
        """This request as a resume of `recorded`: its first command and start are kept, this
        resume is added to the list."""
        this = {"command": list(self.command), "at": now.isoformat(timespec="seconds")}
        return replace(
            self,
            command=recorded.command or self.command,
            started=recorded.started,
            resumed=(*recorded.resumed, this),
        )


def run_document(
    ctx: RunContext, request: RunRequest, status: str, started: str, ended: str | None
) -> RunDocument:
    """The run record of this run as it stands now."""
    return RunDocument(
        run_id=ctx.paths.run_dir.name,
        started=started,
        ended=ended,
        status=status,
        host=host_info(),
        backend=ctx.backend_name,
        matrix=MatrixRef(request.matrix_path, request.matrix_sha256, request.profile),
        seed=request.seed,
        cells=request.cells,
        fixtures=request.fixtures,
        repeats=request.repeats,
        command=request.command,
        gxm_version=__version__,
        resumed=request.resumed,
        jobs=request.jobs,
    )


def execute_run(
    ctx: RunContext,
    backend: Backend,
    plans: Sequence[CellPlan],
    fixtures: Mapping[str, Fixture],
    request: RunRequest,
    previous: Mapping[str, CellResult] | None = None,
    run_stage: Callable[[Pipeline, Sequence[RunTask]], None] | None = None,
    before_alone: Callable[[], None] = lambda: None,
    after_provision: Callable[[Sequence[str]], None] = lambda versions: None,
    before_shared: Callable[[], None] = lambda: None,
) -> str:
    """Run the whole selection into ctx.paths.run_dir; return the final run status.

    `run_stage` replaces the planned runs, after the builds (default: `Pipeline.run_all`, builds and
    runs together): `gxm cell --until-fail` repeats one fixture until it fails instead.
    `before_alone` is called before each run that runs alone (bench runs): gxm's own background
    work ends there; `before_shared` before each other scheduled run (stress, claim), which
    leave room beside them. `after_provision` gets the Go versions the run resolved, before any
    build.

    The run record says `running` while work goes on, then `complete`, `interrupted` (Ctrl-C:
    re-raised after the record is written) or `failed` (an unexpected harness error, re-raised).
    """
    store = ctx.store
    started = request.started or ctx.clock.now().isoformat(timespec="seconds")
    store.write_run(run_document(ctx, request, "running", started, None))
    journal = store.journal()
    pipeline = Pipeline(
        ctx,
        backend,
        plans,
        fixtures,
        repeats=request.repeats,
        jobs=request.jobs,
        journal=journal,
        before_alone=before_alone,
        before_shared=before_shared,
    )
    status = "failed"
    try:
        done = pipeline.restore(previous or {}, journal.entries())
        pipeline.provision()
        after_provision(pipeline.go_versions())
        if run_stage is None:
            pipeline.run_all(done)
        else:
            pipeline.build_all()
            run_stage(pipeline, done)
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        try:
            pipeline.close()
        finally:
            ended = ctx.clock.now().isoformat(timespec="seconds")
            store.write_run(run_document(ctx, request, status, started, ended))
    return status
