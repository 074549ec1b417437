"""The stored records: what one run directory holds, as frozen dataclasses (part of the store).

`RunRecord` (one fixture run), `FixtureResult` (one fixture of one cell), `CellResult` (one cell
document) and `RunDocument` (the run record) each have `to_json` / `from_json`. `to_json` gives the
document body in the key order gxm has always written; `from_json` reads older and newer files
tolerantly: a missing key takes its default, an unknown key is ignored. Schema strings and file
paths are not known here: `harness.store` adds and checks the schema and owns the layout.

To add a field: give it a default, write it in `to_json` and read it with `.get` in `from_json`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.model import Outcome

Json = dict[str, Any]


def _outcome(value: object) -> Outcome:
    try:
        return Outcome(str(value))
    except ValueError:
        raise ValueError(f"unknown outcome {value!r}") from None


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _number_or_none(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _tuple(value: object) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, (list, tuple)) else ()


@dataclass(frozen=True)
class RunRecord:
    """One run of one fixture (a `runs[]` entry of a cell document). Warm-ups are recorded with
    `warmup=True` and never counted."""

    i: int
    outcome: Outcome
    exit_code: int | None = None
    signal: int | None = None
    seconds: float = 0.0
    signature: str | None = None
    detail: str | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    checks: Mapping[str, Any] = field(default_factory=dict)
    result_status: str | None = None
    runtime_version: str | None = None
    peak_rss_bytes: int | None = None
    load_avg: tuple[float, ...] = ()
    log: str | None = None
    command: str | None = None
    warmup: bool = False
    log_bytes_dropped: int = 0  # output over the matrix's log_limit, cut from the log's middle
    tests: Mapping[str, str] = field(default_factory=dict)  # test -> pass|fail|skip|crash|timeout
    benchmarks: tuple[str, ...] = ()  # `Benchmark…` result lines as the binary printed them
    metric_sources: Mapping[str, str] = field(default_factory=dict)  # metric -> where it came from
    gc_pause_histogram: Mapping[str, Any] | None = None  # optional: the run's pauses, pooled
    # A crash inside C (harness.symbolize): the faulting C frames from the binary (innermost
    # first), the text file beside the logs, and the tool that read a core (None: no core read).
    c_frames: tuple[Mapping[str, Any], ...] = ()
    c_backtrace: str | None = None
    c_backtrace_tool: str | None = None
    # wall clock around the process (ISO 8601 UTC with milliseconds): when it started and ended,
    # so concurrent runs can be told apart from runs that ran alone (optional: older files lack it)
    started: str | None = None
    ended: str | None = None
    # a bench run's: CPU seconds the rest of the host used while it ran (local backend; optional)
    others_cpu_s: float | None = None

    @property
    def is_infra_error(self) -> bool:
        return self.outcome is Outcome.INFRA_ERROR

    def to_json(self) -> Json:
        doc: Json = {
            "i": self.i,
            "outcome": self.outcome.value,
            "exit_code": self.exit_code,
            "signal": self.signal,
            "seconds": self.seconds,
            "signature": self.signature,
            "detail": self.detail,
            "metrics": dict(self.metrics),
            "checks": dict(self.checks),
            "result_status": self.result_status,
            "runtime_version": self.runtime_version,
            "peak_rss_bytes": self.peak_rss_bytes,
            "load_avg": list(self.load_avg),
            "log": self.log,
            "command": self.command,
        }
        if self.warmup:
            doc["warmup"] = True
        if self.log_bytes_dropped:
            doc["log_bytes_dropped"] = self.log_bytes_dropped
        if self.tests:
            doc["tests"] = dict(self.tests)
        if self.benchmarks:
            doc["benchmarks"] = list(self.benchmarks)
        if self.metric_sources:
            doc["metric_sources"] = dict(self.metric_sources)
        if self.gc_pause_histogram is not None:
            doc["gc_pause_histogram"] = dict(self.gc_pause_histogram)
        if self.c_backtrace:
            doc["c_frames"] = [dict(frame) for frame in self.c_frames]
            doc["c_backtrace"] = self.c_backtrace
            doc["c_backtrace_tool"] = self.c_backtrace_tool
        if self.started is not None:
            doc["started"] = self.started
            doc["ended"] = self.ended
        if self.others_cpu_s is not None:
            doc["others_cpu_s"] = self.others_cpu_s
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> RunRecord:
        return cls(
            i=int(doc["i"]),
            outcome=_outcome(doc.get("outcome")),
            exit_code=doc.get("exit_code"),
            signal=doc.get("signal"),
            seconds=float(doc.get("seconds") or 0.0),
            signature=doc.get("signature"),
            detail=doc.get("detail"),
            metrics=dict(doc.get("metrics") or {}),
            checks=dict(doc.get("checks") or {}),
            result_status=doc.get("result_status"),
            runtime_version=doc.get("runtime_version"),
            peak_rss_bytes=doc.get("peak_rss_bytes"),
            load_avg=tuple(float(x) for x in _tuple(doc.get("load_avg"))),
            log=doc.get("log"),
            command=doc.get("command"),
            warmup=bool(doc.get("warmup", False)),
            log_bytes_dropped=int(doc.get("log_bytes_dropped") or 0),
            tests={str(k): str(v) for k, v in (doc.get("tests") or {}).items()},
            benchmarks=tuple(str(line) for line in _tuple(doc.get("benchmarks"))),
            metric_sources={str(k): str(v) for k, v in (doc.get("metric_sources") or {}).items()},
            gc_pause_histogram=doc.get("gc_pause_histogram"),
            c_frames=tuple(dict(f) for f in _tuple(doc.get("c_frames")) if isinstance(f, Mapping)),
            c_backtrace=doc.get("c_backtrace"),
            c_backtrace_tool=doc.get("c_backtrace_tool"),
            started=_text_or_none(doc.get("started")),
            ended=_text_or_none(doc.get("ended")),
            others_cpu_s=_number_or_none(doc.get("others_cpu_s")),
        )


@dataclass(frozen=True)
class FixtureResult:
    """One fixture of one cell: what was expected, every run, their summary and the verdict.

    `status` is `ran`, or the outcome that stands for the whole fixture when it could not run
    (`unsupported`, `build-error`, `infra-error`); `reason` says why."""

    kind: str
    pattern: str = ""
    expected: tuple[str, ...] = ()
    status: str = "ran"
    reason: str | None = None
    runs: tuple[RunRecord, ...] = ()
    summary: Mapping[str, Any] = field(default_factory=dict)
    verdict: str = "expected"

    def to_json(self) -> Json:
        return {
            "kind": self.kind,
            "pattern": self.pattern,
            "expected": list(self.expected),
            "status": self.status,
            "reason": self.reason,
            "runs": [run.to_json() for run in self.runs],
            "summary": dict(self.summary),
            "verdict": self.verdict,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> FixtureResult:
        return cls(
            kind=str(doc.get("kind", "stress")),
            pattern=str(doc.get("pattern", "")),
            expected=tuple(str(e) for e in _tuple(doc.get("expected"))),
            status=str(doc.get("status") or "ran"),
            reason=doc.get("reason"),
            runs=tuple(RunRecord.from_json(r) for r in _tuple(doc.get("runs"))),
            summary=dict(doc.get("summary") or {}),
            verdict=str(doc.get("verdict", "expected")),
        )


@dataclass(frozen=True)
class CellInfo:
    """The `cell` section of a cell document: the cell, what it resolved to, and its settings."""

    id: str
    go: str
    go_resolved: str | None = None
    goexperiment: str = ""
    effective_experiments: tuple[str, ...] = ()
    experiment_status: str | None = None
    runtime_version: str | None = None
    backend: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    # godebug, buildmode, cgo, baseline (+ godebug_run, godebug_overridden): written only for a
    # cell with an axis besides go and goexperiment, so other cells' documents are unchanged
    axes: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> Json:
        return {
            "id": self.id,
            "go": self.go,
            "go_resolved": self.go_resolved,
            "goexperiment": self.goexperiment,
            **dict(self.axes),
            "effective_experiments": list(self.effective_experiments),
            "experiment_status": self.experiment_status,
            "runtime_version": self.runtime_version,
            "backend": self.backend,
            "settings": dict(self.settings),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> CellInfo:
        return cls(
            id=str(doc["id"]),
            go=str(doc.get("go", "")),
            go_resolved=doc.get("go_resolved"),
            goexperiment=str(doc.get("goexperiment") or ""),
            effective_experiments=tuple(str(e) for e in _tuple(doc.get("effective_experiments"))),
            experiment_status=doc.get("experiment_status"),
            runtime_version=doc.get("runtime_version"),
            backend=doc.get("backend"),
            settings=dict(doc.get("settings") or {}),
            axes={key: doc[key] for key in CELL_AXIS_KEYS if key in doc},
        )


CELL_AXIS_KEYS = ("godebug", "buildmode", "cgo", "baseline", "godebug_run", "godebug_overridden")


@dataclass(frozen=True)
class BuildRecord:
    """The `build` section of a cell document. `status` is ok | build-error | unsupported |
    infra-error; `log` is relative to the run directory."""

    status: str
    seconds: float = 0.0
    log: str | None = None
    commands: tuple[str, ...] = ()
    detail: str | None = None
    started: str | None = None  # wall clock around the build, as a run's (optional)
    ended: str | None = None

    def to_json(self) -> Json:
        doc: Json = {
            "status": self.status,
            "seconds": self.seconds,
            "log": self.log,
            "commands": list(self.commands),
            "detail": self.detail,
        }
        if self.started is not None:
            doc.update(started=self.started, ended=self.ended)
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> BuildRecord:
        return cls(
            status=str(doc.get("status", Outcome.INFRA_ERROR.value)),
            seconds=float(doc.get("seconds") or 0.0),
            log=doc.get("log"),
            commands=tuple(str(c) for c in _tuple(doc.get("commands"))),
            detail=doc.get("detail"),
            started=_text_or_none(doc.get("started")),
            ended=_text_or_none(doc.get("ended")),
        )


@dataclass(frozen=True)
class CellResult:
    """One cell document: the cell, its build, and every fixture it selected."""

    cell: CellInfo
    build: BuildRecord
    fixtures: Mapping[str, FixtureResult] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.cell.id

    def has_infra_error(self) -> bool:
        """True when the build or any run ended in infra-error (redone on resume)."""
        if self.build.status == Outcome.INFRA_ERROR.value:
            return True
        return any(r.is_infra_error for f in self.fixtures.values() for r in f.runs)

    def to_json(self) -> Json:
        return {
            "cell": self.cell.to_json(),
            "build": self.build.to_json(),
            "fixtures": {name: result.to_json() for name, result in self.fixtures.items()},
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> CellResult:
        fixtures = doc.get("fixtures") or {}
        return cls(
            cell=CellInfo.from_json(doc["cell"]),
            build=BuildRecord.from_json(doc.get("build") or {}),
            fixtures={name: FixtureResult.from_json(f) for name, f in fixtures.items()},
        )


@dataclass(frozen=True)
class MatrixRef:
    """Which matrix file (and profile) a run used; the hash lets merge refuse foreign shards."""

    path: str | None = None
    sha256: str | None = None
    profile: str | None = None

    def to_json(self) -> Json:
        return {"path": self.path, "sha256": self.sha256, "profile": self.profile}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> MatrixRef:
        return cls(doc.get("path"), doc.get("sha256"), doc.get("profile"))


@dataclass(frozen=True)
class RunDocument:
    """The run record (run.json): what was asked for, where, when, and how it ended.

    `status` is `running` while the run goes on, then `complete`, `interrupted` or `failed`.

    `shards` is only present in a merged run: one summary per shard run it combines."""

    run_id: str
    started: str | None = None
    ended: str | None = None
    status: str = "running"
    host: Mapping[str, Any] = field(default_factory=dict)
    backend: str | None = None
    matrix: MatrixRef = field(default_factory=MatrixRef)
    seed: int | None = None
    cells: tuple[str, ...] = ()
    fixtures: tuple[str, ...] | None = None
    repeats: int | None = None
    command: tuple[str, ...] = ()
    gxm_version: str | None = None
    shards: tuple[Mapping[str, Any], ...] | None = None
    # each `--resume` of this run: {"command": [...], "at": time}; `command` and `started` stay
    # those of the first start, which a reproduction needs
    resumed: tuple[Mapping[str, Any], ...] = ()
    jobs: int | None = None  # runs at a time (bench runs alone); absent from older files

    def shard_summary(self) -> Json:
        """What a merged run records about this run as one of its shards."""
        return {
            "run_id": self.run_id,
            "cells": list(self.cells),
            "host": dict(self.host),
            "backend": self.backend,
            "status": self.status,
        }

    def to_json(self) -> Json:
        doc: Json = {
            "run_id": self.run_id,
            "started": self.started,
            "ended": self.ended,
            "status": self.status,
            "host": dict(self.host),
            "backend": self.backend,
            "matrix": self.matrix.to_json(),
            "seed": self.seed,
            "cells": list(self.cells),
            "fixtures": list(self.fixtures) if self.fixtures is not None else None,
            "repeats": self.repeats,
            "command": list(self.command),
            "gxm_version": self.gxm_version,
        }
        if self.shards is not None:
            doc["shards"] = [dict(s) for s in self.shards]
        if self.resumed:
            doc["resumed"] = [dict(r) for r in self.resumed]
        if self.jobs is not None:
            doc["jobs"] = self.jobs
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], default_id: str = "") -> RunDocument:
        fixtures = doc.get("fixtures")
        shards = doc.get("shards")
        seed = doc.get("seed")
        repeats = doc.get("repeats")
        return cls(
            run_id=str(doc.get("run_id") or default_id),
            started=doc.get("started"),
            ended=doc.get("ended"),
            status=str(doc.get("status", "running")),
            host=dict(doc.get("host") or {}),
            backend=doc.get("backend"),
            matrix=MatrixRef.from_json(doc.get("matrix") or {}),
            seed=int(seed) if seed is not None else None,
            cells=tuple(str(c) for c in _tuple(doc.get("cells"))),
            fixtures=tuple(str(f) for f in fixtures) if isinstance(fixtures, list) else None,
            repeats=int(repeats) if repeats is not None else None,
            command=tuple(str(c) for c in _tuple(doc.get("command"))),
            gxm_version=doc.get("gxm_version"),
            shards=tuple(dict(s) for s in shards) if isinstance(shards, list) else None,
            resumed=tuple(dict(r) for r in _tuple(doc.get("resumed")) if isinstance(r, dict)),
            jobs=jobs if isinstance(jobs := doc.get("jobs"), int) else None,
        )
