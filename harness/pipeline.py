"""The whole pipeline for a selection of cells: provision → build → run → classify → store.

Cell documents are rewritten (atomically) after every run, so an interrupted run leaves whole files
and `--resume` continues with exactly the runs that are missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from harness import __version__, axes, stats, toolchains
from harness.backends import Backend
from harness.build import BuildResult
from harness.build import build_cell as build_cell_of
from harness.context import RunContext
from harness.errors import GxmError
from harness.masking import mask_secrets
from harness.model import Cell, CellPlan, Fixture, Outcome, Toolchain
from harness.plan import RunTask, fixture_selection, plan_tasks, warmup_tasks
from harness.run import execute_fixture_run
from harness.store import RunStore, host_info
from harness.store.records import (
    BuildRecord,
    CellInfo,
    CellResult,
    FixtureResult,
    MatrixRef,
    RunDocument,
    RunRecord,
)

BUILD_WORKERS = 2


@dataclass
class CellState:
    """Everything known about one cell during a run; rendered by `cell_result`."""

    plan: CellPlan
    go_resolved: str | None = None
    toolchain: Toolchain | None = None
    build: BuildResult | None = None
    runs: dict[str, list[RunRecord]] = field(default_factory=dict)
    excluded: dict[str, str] = field(default_factory=dict)
    unavailable: str = "toolchain unavailable"  # why there is no toolchain, when there is none


def fixture_result(state: CellState, fixture: Fixture) -> FixtureResult:
    """One entry of a cell document's `fixtures`."""
    cell = state.plan.cell
    expected = [o.value for o in fixture.expected_outcomes(cell.goexperiment, cell.axes)]
    runs = sorted(state.runs.get(fixture.name, []), key=lambda r: r.i)
    status, reason = _fixture_status(state, fixture)
    if status != "ran":
        expected = (
            expected + [Outcome.UNSUPPORTED.value]
            if status == Outcome.UNSUPPORTED.value
            else expected
        )
        outcomes = [status]
    else:
        outcomes = [run.outcome.value for run in runs]
    return FixtureResult(
        kind=fixture.kind,
        pattern=fixture.pattern,
        expected=tuple(expected),
        status=status,
        reason=reason,
        runs=tuple(runs),
        summary=stats.summarize_runs(runs, fixture.kind),
        verdict=stats.verdict(outcomes, expected) if outcomes else "expected",
    )


def _fixture_status(state: CellState, fixture: Fixture) -> tuple[str, str | None]:
    """`ran`, or the outcome that stands for the whole fixture when it could not run."""
    if fixture.name in state.excluded:
        return Outcome.UNSUPPORTED.value, state.excluded[fixture.name]
    build = state.build
    if build is None:
        return Outcome.INFRA_ERROR.value, f"the cell was not built ({state.unavailable})"
    if build.status != "ok":
        return build.status, build.detail
    failure = build.failures.get(fixture.name)
    if failure is not None:  # this package alone could not be built in this cell
        return failure.outcome.value, failure.detail
    return "ran", None


def cell_result(
    state: CellState, fixtures: Mapping[str, Fixture], backend_name: str, store: RunStore
) -> CellResult:
    """The cell document of one cell as it stands now."""
    cell = state.plan.cell
    build = state.build
    info = CellInfo(
        id=cell.id,
        go=cell.go,
        go_resolved=state.go_resolved,
        goexperiment=cell.goexperiment,
        effective_experiments=build.effective_experiments if build else (),
        experiment_status=build.experiment_status if build else None,
        runtime_version=build.runtime_version if build else None,
        backend=backend_name,
        settings=_settings_document(state.plan),
        axes=_axes_document(state.plan),
    )
    if build is None:
        record = BuildRecord(Outcome.INFRA_ERROR.value, detail=state.unavailable)
    else:
        log_file = store.relative(build.log) if build.log is not None else None
        record = BuildRecord(
            build.status, round(build.seconds, 3), log_file, build.commands, build.detail
        )
    results = {name: fixture_result(state, fixtures[name]) for name in state.plan.fixtures}
    return CellResult(info, record, results)


def _axes_document(plan: CellPlan) -> dict[str, Any]:
    """The extra axes of a cell, only when one is not at its default (documents of other cells
    read exactly as before); `godebug_run` is the GODEBUG its runs saw, `godebug_overridden` the
    matrix env settings the axis replaced."""
    cell = plan.cell
    if not cell.axes:
        return {}
    document: dict[str, Any] = {
        "godebug": cell.godebug,
        "buildmode": cell.buildmode,
        "cgo": "on" if cell.cgo_enabled else "off",
        "baseline": cell.baseline.id,
    }
    merged = axes.run_godebug(dict(plan.settings.env).get("GODEBUG"), cell.godebug)
    if merged is not None and cell.godebug:
        document["godebug_run"] = merged.value
        document["godebug_overridden"] = list(merged.overridden)
    return document


def _settings_document(plan: CellPlan) -> dict[str, Any]:
    s = plan.settings
    return {
        "repeats": {"stress": s.repeats_stress, "bench": s.repeats_bench, "claim": s.repeats_claim},
        "bench_warmup": s.bench_warmup,
        "duration_s": s.duration_s,
        "timeout_s": s.timeout_s,
        "memory_limit_bytes": s.memory_limit_bytes,
        "cpus": s.cpus,
        "env": mask_secrets(dict(s.env)),
    }


def _status(state: CellState) -> str:
    return state.build.status if state.build else "?"


class Pipeline:
    """Runs a selection of cells into one run directory."""

    def __init__(
        self,
        ctx: RunContext,
        backend: Backend,
        plans: Sequence[CellPlan],
        fixtures: Mapping[str, Fixture],
        *,
        repeats: int | None = None,
    ) -> None:
        self.ctx = ctx
        self.backend = backend
        self.fixtures = fixtures
        self.repeats = repeats
        self.states = {plan.cell.id: CellState(plan) for plan in plans}

    def write_cell(self, cell_id: str) -> None:
        store = self.ctx.store
        store.write_cell(cell_result(self.states[cell_id], self.fixtures, self.backend.name, store))

    def restore(self, previous: Mapping[str, CellResult]) -> list[RunTask]:
        """Take back the runs a previous, interrupted attempt recorded; return them as done."""
        done: list[RunTask] = []
        for cell_id, result in previous.items():
            if cell_id not in self.states:
                continue
            for name, entry in result.fixtures.items():
                runs = [r for r in entry.runs if not r.is_infra_error]
                self.states[cell_id].runs[name] = runs
                done.extend(RunTask(cell_id, name, r.i) for r in runs)
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

    def build_all(self) -> None:
        """Build every cell, BUILD_WORKERS at a time; each cell document is written as it ends.

        Cells that differ only in GODEBUG (a run setting) share one build. On Ctrl-C the pool is
        abandoned without waiting: the backend's exit kills the builds, and the worker threads
        end as soon as their `go build` is gone.
        """
        groups: dict[Cell, list[CellState]] = {}
        for state in self.states.values():
            if state.toolchain is not None:
                groups.setdefault(state.plan.cell.build_cell, []).append(state)
        pool = ThreadPoolExecutor(max_workers=BUILD_WORKERS, thread_name_prefix="gxm-build")
        try:
            with self.ctx.reporter.progress("builds", len(groups)) as advance:
                futures = {pool.submit(self._build_group, key, g): g for key, g in groups.items()}
                for future, members in futures.items():
                    future.result()
                    for state in members:
                        self.write_cell(state.plan.cell.id)
                    advance(", ".join(f"{s.plan.cell.id}: {_status(s)}" for s in members))
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        for state in self.states.values():
            if state.toolchain is None:
                self.write_cell(state.plan.cell.id)

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
        build = build_cell_of(self.ctx, self.backend, toolchain, plan, runnable)
        for state in building:
            state.build = build
            state.excluded.update(
                {
                    name: why
                    for name, why in build.unsupported.items()
                    if name in state.plan.fixtures
                }
            )

    def run_all(self, done: Sequence[RunTask]) -> None:
        """Every planned run, interleaved in the seeded order."""
        plans = [  # without the fixtures the build could not make (cgo-only, with cgo off)
            replace(s.plan, fixtures=tuple(f for f in s.plan.fixtures if f not in s.excluded))
            for s in self.states.values()
            if s.build is not None and s.build.status == "ok"
        ]
        tasks = warmup_tasks(plans, self.fixtures, already_done=done) + plan_tasks(
            plans, self.fixtures, self.ctx.seed, repeats_override=self.repeats, already_done=done
        )
        tasks = [t for t in tasks if t.fixture in self._built(t.cell_id)]
        with self.ctx.reporter.progress("runs", len(tasks)) as advance:
            for task in tasks:
                record = self.run_task(task)
                number = f"warm-up {-task.i}" if task.warmup else f"#{task.i}"
                label = f"{task.cell_id} {task.fixture} {number}: {record.outcome}"
                if record.signature:
                    label += f" ({record.signature[:60]})"
                advance(label)

    def _built(self, cell_id: str) -> dict[str, Path]:
        build = self.states[cell_id].build
        return build.binaries if build is not None else {}

    def run_task(self, task: RunTask) -> RunRecord:
        """Run one planned run of a built cell, record it and rewrite the cell document."""
        state = self.states[task.cell_id]
        assert state.toolchain is not None and state.build is not None
        record = execute_fixture_run(
            self.ctx,
            self.backend,
            state.toolchain,
            state.plan,
            self.fixtures[task.fixture],
            state.build.binaries[task.fixture],
            task.i,
        )
        if task.warmup:
            record = replace(record, warmup=True)  # run, recorded, never counted
        state.runs.setdefault(task.fixture, []).append(record)
        self.write_cell(task.cell_id)
        return record


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
    )


def execute_run(
    ctx: RunContext,
    backend: Backend,
    plans: Sequence[CellPlan],
    fixtures: Mapping[str, Fixture],
    request: RunRequest,
    previous: Mapping[str, CellResult] | None = None,
    run_stage: Callable[[Pipeline, Sequence[RunTask]], None] | None = None,
) -> str:
    """Run the whole selection into ctx.paths.run_dir; return the final run status.

    `run_stage` replaces the planned runs after the builds (default `Pipeline.run_all`): `gxm cell
    --until-fail` repeats one fixture until it fails instead.

    The run record says `running` while work goes on, then `complete`, `interrupted` (Ctrl-C:
    re-raised after the record is written) or `failed` (an unexpected harness error, re-raised).
    """
    store = ctx.store
    started = request.started or ctx.clock.now().isoformat(timespec="seconds")
    store.write_run(run_document(ctx, request, "running", started, None))
    pipeline = Pipeline(ctx, backend, plans, fixtures, repeats=request.repeats)
    status = "failed"
    try:
        done = pipeline.restore(previous or {})
        pipeline.provision()
        pipeline.build_all()
        (run_stage or Pipeline.run_all)(pipeline, done)
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        ended = ctx.clock.now().isoformat(timespec="seconds")
        store.write_run(run_document(ctx, request, status, started, ended))
    return status
