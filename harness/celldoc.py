"""The cell document of one cell as the pipeline knows it: its state during a run (`CellState`)
rendered as the stored record (`cell_result`), fixture by fixture, with summaries and verdicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness import axes, stats
from harness.build import BuildResult
from harness.masking import mask_secrets
from harness.model import CellPlan, Fixture, Outcome, Toolchain
from harness.store import RunStore
from harness.store.records import BuildRecord, CellInfo, CellResult, FixtureResult, RunRecord


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
    build_span: tuple[str, str] | None = None  # wall clock when its build started and ended


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
        started, ended = state.build_span or (None, None)
        record = BuildRecord(
            build.status,
            round(build.seconds, 3),
            log_file,
            build.commands,
            build.detail,
            started,
            ended,
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


def build_status(state: CellState) -> str:
    """The cell's build status for a progress line (`?` before it was built)."""
    return state.build.status if state.build else "?"
