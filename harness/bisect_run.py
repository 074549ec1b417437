"""`gxm bisect` on real releases: probes are cells of one run directory, built and run by the
pipeline; the search itself is `harness.bisect`.

Each probed release becomes a cell (`go1.26.0-default`, the other axes and the settings of the
matrix cell it was taken from), built once and run as often as the search asks. Its document is
written after every run like any cell's, and `bisect.json` after every decided probe, so an
interrupted bisect leaves what it learned and `gxm report` works on the directory.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from harness import bisect, flake
from harness.backends import Backend
from harness.bisect import BisectResult, Criterion, Observation, Policy, Probe
from harness.context import RunContext
from harness.errors import InfraError
from harness.model import Cell, CellPlan, Fixture, Settings, go_version_key
from harness.pipeline import Pipeline, RunRequest, run_document
from harness.plan import RunTask
from harness.store.bisect_record import BisectRecord, ProbeRecord
from harness.store.records import RunRecord


@dataclass(frozen=True)
class BisectRequest:
    """What `gxm bisect` was asked: the fixture, the cell it varies the Go version of, the two
    ends, what counts as bad, and how hard to try."""

    fixture: Fixture
    template: Cell  # every axis but `go` is kept for each probe
    settings: Settings
    good: str
    bad: str
    releases: tuple[str, ...]  # from good to bad, both included
    criterion: Criterion | None  # None: the bad release's dominant failure
    policy: Policy
    run: RunRequest  # recorded in the run document (its `cells` are filled in as probes start)


def observation_metrics(record: RunRecord) -> dict[str, float]:
    """The numeric metrics of a run record, plus `ns_per_op` (wall_ns / ops) where both exist."""
    metrics = {
        name: float(value)
        for name, value in record.metrics.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    }
    if "ns_per_op" not in metrics and metrics.get("ops") and "wall_ns" in metrics:
        metrics["ns_per_op"] = metrics["wall_ns"] / metrics["ops"]
    return metrics


class PipelineProbes:
    """The `ProbeRunner` of real releases: one pipeline (one cell) per release, built once."""

    def __init__(
        self,
        ctx: RunContext,
        backend: Backend,
        request: BisectRequest,
        on_new_cell: Callable[[list[str]], None],
    ) -> None:
        self.ctx = ctx
        self.backend = backend
        self.request = request
        self.on_new_cell = on_new_cell
        self.cell_ids: list[str] = []
        self._pipelines: dict[str, Pipeline] = {}
        self._next_run: dict[str, int] = {}

    def cell_for(self, version: str) -> Cell:
        return replace(self.request.template, go=version)

    def _pipeline(self, version: str) -> Pipeline:
        if version not in self._pipelines:
            fixture = self.request.fixture
            plan = CellPlan(self.cell_for(version), self.request.settings, (fixture.name,))
            pipeline = Pipeline(self.ctx, self.backend, [plan], {fixture.name: fixture})
            self.cell_ids.append(plan.cell.id)
            self.on_new_cell(list(self.cell_ids))
            pipeline.provision()
            pipeline.build_all()
            self._pipelines[version] = pipeline
        return self._pipelines[version]

    def observe(self, version: str) -> Observation:
        pipeline = self._pipeline(version)
        cell_id = self.cell_for(version).id
        state = pipeline.states[cell_id]
        name = self.request.fixture.name
        if state.toolchain is None or state.build is None:
            raise InfraError(f"go{version} could not be provisioned; the bisect cannot go on")
        build = state.build
        if build.status == "infra-error":
            raise InfraError(f"{cell_id}: the build hit an infrastructure error: {build.detail}")
        if build.status != "ok" or name not in build.binaries:
            outcome = build.status if build.status != "ok" else "unsupported"
            return Observation(outcome, None, {}, repeatable=False)
        i = self._next_run.get(version, 0)
        self._next_run[version] = i + 1
        record = pipeline.run_task(RunTask(cell_id, name, i))
        if record.is_infra_error:
            raise InfraError(f"{cell_id} {name} run {i}: infra-error: {record.detail}")
        return Observation(str(record.outcome), record.signature, observation_metrics(record))


def criterion_document(criterion: Criterion | None) -> dict[str, Any] | None:
    if criterion is None:
        return None
    fields = ("outcome", "signature", "exact_signature", "metric", "threshold", "higher_is_better")
    return {name: getattr(criterion, name) for name in fields} | {"text": criterion.describe()}


def probe_record(probe: Probe, cell_id: str) -> ProbeRecord:
    return ProbeRecord(
        probe.version,
        cell_id,
        probe.role,
        probe.verdict,
        probe.runs,
        probe.matching,
        dict(probe.outcomes),
        probe.note,
    )


def repeat_command(request: BisectRequest, result: BisectResult) -> list[str]:
    """The `gxm bisect` that re-checks just the verdict: last good against first bad, same seed."""
    argv = list(request.run.command)
    out: list[str] = []
    skip = False
    for word in argv:
        if skip:
            skip = False
            continue
        if word in ("--good", "--bad", "--seed"):
            skip = True
            continue
        if word.startswith(("--good=", "--bad=", "--seed=")):
            continue
        out.append(word)
    return out + [
        "--good",
        result.last_good,
        "--bad",
        result.first_bad,
        "--seed",
        str(request.run.seed),
    ]


class BisectRecorder:
    """Keeps the run document and the bisect record of the bisect's run directory up to date."""

    def __init__(self, ctx: RunContext, request: BisectRequest, started: str) -> None:
        self.ctx = ctx
        self.request = request
        self.started = started
        self.cells: list[str] = []
        self.probes: list[ProbeRecord] = []

    def write_run(self, status: str, ended: str | None = None) -> None:
        ordered = sorted(self.cells, key=lambda cid: go_version_key(cid.split("-")[0]))
        run = replace(self.request.run, cells=tuple(ordered))
        self.ctx.store.write_run(run_document(self.ctx, run, status, self.started, ended))

    def new_cells(self, cells: list[str]) -> None:
        self.cells = cells
        self.write_run("running")

    def probe(self, probe: Probe) -> None:
        cell_id = replace(self.request.template, go=probe.version).id
        self.probes.append(probe_record(probe, cell_id))
        self.write_bisect("running")
        runs = ", ".join(f"{o} {n}" for o, n in probe.outcomes)
        note = f" — {probe.note}" if probe.note else ""
        plural = "run" if probe.runs == 1 else "runs"
        self.ctx.reporter.info(
            f"bisect: go{probe.version} ({probe.role}) is {probe.verdict} after {probe.runs} "
            f"{plural} ({runs}){note}"
        )

    def write_bisect(
        self, status: str, result: BisectResult | None = None, message: str | None = None
    ) -> None:
        request = self.request
        record = BisectRecord(
            status=status,
            fixture=request.fixture.name,
            good=request.good,
            bad=request.bad,
            releases=request.releases,
            goexperiment=request.template.goexperiment,
            axes=request.template.axes,
            criterion=criterion_document(request.criterion),
            policy=_policy_document(request.policy),
            probes=tuple(self.probes),
            message=message,
        )
        if result is not None:
            record = with_result(record, request, result)
        self.ctx.store.write_bisect(record)


def _policy_document(policy: Policy) -> dict[str, Any]:
    return {
        "confidence": policy.confidence,
        "target_failures": policy.target_failures,
        "budget_runs": policy.budget_runs,
        "metric_runs": policy.metric_runs,
        "max_probe_runs": policy.max_probe_runs,
    }


def with_result(record: BisectRecord, request: BisectRequest, result: BisectResult) -> BisectRecord:
    """The record with the answer: the pair of releases, the criterion used, the flake math."""
    record = replace(
        record,
        criterion=criterion_document(result.criterion),
        last_good=result.last_good,
        first_bad=result.first_bad,
        untestable=result.untestable,
        runs_total=result.runs_total,
        repeat_command=shlex.join(repeat_command(request, result)),
    )
    if result.criterion.metric is not None:
        return record
    k, n = result.bad_failures, result.bad_runs
    return replace(
        record,
        bad_rate={"k": k, "n": n, "conservative_rate": flake.conservative_rate(k, n)},
        clean_runs_for_good=result.clean_runs_for_good,
        probe_confidence=bisect.probe_confidence(request.policy, len(request.releases)),
    )


def execute_bisect(ctx: RunContext, backend: Backend, request: BisectRequest) -> BisectResult:
    """Run the bisect into ctx.paths.run_dir; its run document and bisect record say how it ended.

    A refused bisect (BisectRefused) and an infrastructure failure are re-raised after both files
    record them; Ctrl-C leaves them marked `interrupted`.
    """
    started = ctx.clock.now().isoformat(timespec="seconds")
    recorder = BisectRecorder(ctx, request, started)
    recorder.write_run("running")
    recorder.write_bisect("running")
    runner = PipelineProbes(ctx, backend, request, recorder.new_cells)
    status, bisect_status, message = "failed", "failed", None
    result: BisectResult | None = None
    try:
        result = _search(request, runner, recorder.probe)
        status = bisect_status = "complete"
    except bisect.BisectRefused as exc:
        status, bisect_status, message = "complete", "refused", str(exc)
        raise
    except KeyboardInterrupt:
        status = bisect_status = "interrupted"
        raise
    except Exception as exc:
        message = str(exc)
        raise
    finally:
        recorder.write_bisect(bisect_status, result, message)
        recorder.write_run(status, ctx.clock.now().isoformat(timespec="seconds"))
    return result


def _search(
    request: BisectRequest, runner: PipelineProbes, listener: Callable[[Probe], None]
) -> BisectResult:
    criterion = request.criterion
    if criterion is not None and criterion.metric is not None:
        return bisect.bisect_metric(request.releases, runner, criterion, request.policy, listener)
    return bisect.bisect_outcome(request.releases, runner, criterion, request.policy, listener)
