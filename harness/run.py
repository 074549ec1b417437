"""Run: one fixture run on a backend, classified and measured into a run record.

The environment a fixture sees is an allow-list: a fixed PATH, a scratch HOME
and TMPDIR, the GXM_* knobs, and the matrix's `env` — never the shell's environment.
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psutil

from harness import axes, benchfmt, gctrace, gotest, symbolize
from harness.atomic import write_text_atomic
from harness.backends import Backend
from harness.classify import cgo_fault, classify, read_fixture_result
from harness.context import RunContext
from harness.hostcmd import shell_line
from harness.masking import mask_file, mask_json, mask_secrets, secret_values
from harness.model import (
    CellPlan,
    Classified,
    ExecResult,
    ExecSpec,
    Fixture,
    Outcome,
    Toolchain,
    module_path,
)
from harness.store import utc_timestamp_ms
from harness.store.records import RunRecord

BASE_PATH = "/usr/local/bin:/usr/bin:/bin"
STDERR_HEAD_BYTES = 64 * 1024
STDERR_TAIL_BYTES = 256 * 1024


@dataclass(frozen=True)
class RunFiles:
    stdout: Path
    stderr: Path
    result: Path


def log_stem(fixture_name: str, i: int) -> str:
    """`mysdk/worker`, 3 → `mysdk__worker.3`: one flat file name per run."""
    return f"{fixture_name.replace('/', '__')}.{i}"


def run_files(ctx: RunContext, cell_id: str, fixture_name: str, i: int) -> RunFiles:
    stem = log_stem(fixture_name, i)
    store = ctx.store
    scratch = ctx.paths.work_dir / "results" / cell_id
    scratch.mkdir(parents=True, exist_ok=True)
    return RunFiles(
        store.log_path(cell_id, f"{stem}.stdout"),
        store.log_path(cell_id, f"{stem}.stderr"),
        scratch / f"{stem}.json",
    )


def run_cwd(ctx: RunContext, cell_id: str, fixture_name: str, i: int) -> Path:
    """The run's own working directory in the scratch space: where its core file lands (the
    kernel writes a plain-file core_pattern relative to the crashing process's cwd)."""
    return ctx.paths.work_dir / "scratch" / "runs" / cell_id / log_stem(fixture_name, i)


def fixture_env(
    ctx: RunContext,
    plan: CellPlan,
    files: RunFiles,
    i: int,
    fixture: Fixture | None = None,
    *,
    cores: bool = False,
) -> dict[str, str]:
    """The complete environment of one fixture run. With `cores`, GOTRACEBACK=crash (unless the
    matrix sets GOTRACEBACK) so Go re-raises a fatal signal and the kernel writes a core. An
    external entry's `env` goes over the matrix's, and GODEBUG=gctrace=1 is merged into the
    user's own GODEBUG (their programs carry no gxm probe)."""
    scratch = ctx.paths.work_dir / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": BASE_PATH,
        "HOME": str(scratch),
        "TMPDIR": str(scratch),
        "LANG": "C.UTF-8",
        "GXM_RESULT": str(files.result),
        "GXM_DURATION": f"{plan.settings.duration_s:g}",
        "GXM_SEED": str(ctx.seed * 1000 + i),
    }
    if cores:
        env["GOTRACEBACK"] = "crash"
    env.update(dict(plan.settings.env))
    spec = fixture.spec if fixture is not None else None
    env.update(dict(spec.env) if spec is not None else {})
    godebug = axes.run_godebug(env.get("GODEBUG"), plan.cell.godebug)
    if godebug is not None:
        env["GODEBUG"] = godebug.value  # the axis wins over the matrix env (recorded per cell)
    return gctrace.with_gctrace(env) if spec is not None and spec.gctrace else env


def run_timeout_s(plan: CellPlan, fixture: Fixture) -> float:
    """The per-run timeout: the external entry's own, else the matrix's."""
    spec = fixture.spec
    return spec.timeout_s if spec is not None and spec.timeout_s else plan.settings.timeout_s


def fixture_argv(plan: CellPlan, fixture: Fixture, binary: Path) -> tuple[str, ...]:
    """A main program runs bare; a test binary gets the entry's `go test` flags."""
    if fixture.spec is None or not fixture.is_test:
        return (str(binary),)
    return (str(binary), *gotest.test_flags(fixture.spec, run_timeout_s(plan, fixture)))


def fixture_spec(
    ctx: RunContext,
    plan: CellPlan,
    fixture: Fixture,
    binary: Path,
    i: int,
    *,
    cores: bool = False,
    cpuset: tuple[int, ...] = (),
) -> ExecSpec:
    """The ExecSpec of one fixture run; `cores` lets a crash leave a core in the run's cwd (core
    dumps are forbidden otherwise, whatever limit gxm inherited). A test binary runs in its
    package's source directory instead (tests read testdata/; read-only in containers), never
    with core dumps, and with go's own -test.timeout firing before gxm's."""
    files = run_files(ctx, plan.cell.id, fixture.name, i)
    files.result.unlink(missing_ok=True)
    settings = plan.settings
    timeout_s = run_timeout_s(plan, fixture)
    if fixture.is_test:
        cwd, own = fixture.package_dir, (fixture.module_dir, False)
        timeout_s += gotest.GO_TIMEOUT_MARGIN_S
        cores = False
    else:
        cwd = run_cwd(ctx, plan.cell.id, fixture.name, i)
        shutil.rmtree(cwd, ignore_errors=True)
        cwd.mkdir(parents=True)
        own = (cwd, True)  # its own mount, so a container's user owns it and can write a core
    return ExecSpec(
        argv=fixture_argv(plan, fixture, binary),
        env=tuple(sorted(fixture_env(ctx, plan, files, i, fixture, cores=cores).items())),
        cwd=cwd,
        stdout_path=files.stdout,
        stderr_path=files.stderr,
        timeout_s=timeout_s,
        grace_s=settings.grace_s,
        memory_limit_bytes=settings.memory_limit_bytes,
        log_limit_bytes=settings.log_limit_bytes,
        cpus=settings.cpus,
        pids_limit=settings.pids_limit,
        label=f"{ctx.paths.run_dir.name}/{plan.cell.id}/{fixture.name}#{i}",
        mounts=(
            (binary.parent, False),
            (files.result.parent, True),
            (ctx.paths.work_dir / "scratch", True),
            own,
        ),
        core_dumps=cores,
        cpuset=cpuset,
    )


def reproduce_line(spec: ExecSpec) -> str:
    """A shell line that runs this fixture binary again with the same environment (pinned with
    `taskset -c` to the same CPUs when the run was)."""
    env = {k: v for k, v in mask_secrets(dict(spec.env)).items()}
    pin = ("taskset", "-c", ",".join(str(cpu) for cpu in spec.cpuset)) if spec.cpuset else ()
    return shell_line((*pin, *spec.argv), env, spec.cwd)


def read_head_and_tail(
    path: Path, head_bytes: int = STDERR_HEAD_BYTES, tail_bytes: int = STDERR_TAIL_BYTES
) -> str:
    """The first `head_bytes` and the last `tail_bytes` of a log, whole when it is no longer.

    A crash's first line (`fatal error: …`) is at the top of its output and a goroutine dump can
    follow it for megabytes; a fixture's own output can precede the crash for as long. The
    signature search reads both ends; the cut is a line of its own so no line is glued to another.
    """
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(0)
            if size <= head_bytes + tail_bytes:
                return handle.read().decode(errors="replace")
            head = handle.read(head_bytes)
            handle.seek(size - tail_bytes)
            tail = handle.read()
    except FileNotFoundError:
        return ""
    cut = f"\n[gxm: {size - head_bytes - tail_bytes} bytes not read]\n"
    return head.decode(errors="replace") + cut + tail.decode(errors="replace")


def host_load_avg() -> list[float]:
    """The 1, 5 and 15-minute load averages of the host now ([] where psutil cannot tell): recorded
    before each run so reports can say when the machine was too busy to trust a timing."""
    try:
        return [round(x, 2) for x in psutil.getloadavg()]
    except (OSError, AttributeError):
        return []


def execute_fixture_run(
    ctx: RunContext,
    backend: Backend,
    toolchain: Toolchain,
    plan: CellPlan,
    fixture: Fixture,
    binary: Path,
    i: int,
    cpuset: tuple[int, ...] = (),
    on_exit: Callable[[], None] | None = None,
) -> RunRecord:
    """Run fixture `i` once (pinned to `cpuset` when given) and return its run record (results
    schema 1, `runs[]` entry), with the wall clock when its process started and ended;
    `on_exit()` is called as soon as the process has ended, before its results are read.

    A crash in C gets its C function named (harness.symbolize) while the binary is still there;
    whatever core the run left is read, then removed with the run's directory.
    """
    support = symbolize.core_support(backend.name)
    cores = plan.settings.c_backtrace and support.available and not fixture.is_test
    spec = fixture_spec(ctx, plan, fixture, binary, i, cores=cores, cpuset=cpuset)
    ctx.reporter.detail(f"[shell] {reproduce_line(spec)}")
    load_avg = host_load_avg()
    started = utc_timestamp_ms(ctx.clock.now())
    result: ExecResult = backend.execute(spec, toolchain)
    ended = utc_timestamp_ms(ctx.clock.now())
    if on_exit is not None:
        on_exit()
    stderr = read_head_and_tail(spec.stderr_path)
    report = read_fixture_result(Path(dict(spec.env)["GXM_RESULT"]))
    record = RunRecord(
        i=i,
        outcome=Outcome.INFRA_ERROR,  # replaced below by the classified outcome
        exit_code=result.exit_code,
        signal=result.signal,
        seconds=round(result.seconds, 3),
        metrics=dict(report.metrics) if report.status == "ok" else {},
        checks=dict(report.checks) if report.status == "ok" else {},
        result_status=report.status,
        runtime_version=report.runtime_version,
        peak_rss_bytes=result.peak_rss_bytes,
        log_bytes_dropped=result.log_bytes_dropped,
        load_avg=tuple(load_avg),
        log=ctx.store.relative(spec.stderr_path),
        command=" ".join(shlex.quote(a) for a in spec.argv),
        gc_pause_histogram=report.pause_histogram if report.status == "ok" else None,
        started=started,
        ended=ended,
        # a bench run runs alone: what else the host did meanwhile is the machine's own noise
        others_cpu_s=result.others_cpu_s if fixture.kind == "bench" else None,
    )
    if fixture.is_test:  # its cwd is the user's package directory: nothing there is removed
        record = _test_record(ctx, toolchain, fixture, spec, result, stderr, record)
    else:
        record = _program_record(
            ctx, backend, toolchain, plan, spec, binary, result, stderr, record
        )
        if fixture.external and not record.metrics:
            record = _with_gctrace(record, spec)
    return _masked(record, spec, plan)


def _masked(record: RunRecord, spec: ExecSpec, plan: CellPlan) -> RunRecord:
    """The record and the run's logs with every secret the matrix env holds masked: a fixture
    may echo them back in its output, its checks, its signature or its detail."""
    known = secret_values(dict(plan.settings.env))
    for path in {spec.stdout_path, spec.stderr_path}:
        mask_file(path, known)
    return replace(
        record,
        signature=mask_json(record.signature, known),
        detail=mask_json(record.detail, known),
        checks=mask_json(dict(record.checks), known),
    )


def _program_record(
    ctx: RunContext,
    backend: Backend,
    toolchain: Toolchain,
    plan: CellPlan,
    spec: ExecSpec,
    binary: Path,
    result: ExecResult,
    stderr: str,
    record: RunRecord,
) -> RunRecord:
    """A program's run classified; a crash in C gets its C code named; the run's directory (and
    any core in it) is removed."""
    support = symbolize.core_support(backend.name)
    try:
        classified = classify(result, stderr)
        native: dict[str, Any] = {}
        if classified.outcome is Outcome.CRASH:
            note = None if spec.core_dumps else _no_core_reason(plan, support)
            classified, native = _native_crash(
                ctx, backend, toolchain, spec, binary, stderr, classified, note
            )
    finally:
        _remove_run_dir(ctx, spec, keep_core=plan.settings.keep_core)
    return replace(
        record,
        outcome=classified.outcome,
        signature=classified.signature,
        detail=classified.detail or result.infra_error,
        **native,
    )


def _with_gctrace(record: RunRecord, spec: ExecSpec) -> RunRecord:
    """GC figures from the runtime's gctrace lines for a program that reported none itself."""
    metrics = gctrace.file_metrics(spec.stderr_path)
    sources = {name: gctrace.SOURCE for name in metrics}
    return replace(record, metrics={**metrics, **record.metrics}, metric_sources=sources)


def _test_record(
    ctx: RunContext,
    toolchain: Toolchain,
    fixture: Fixture,
    spec: ExecSpec,
    result: ExecResult,
    stderr: str,
    record: RunRecord,
) -> RunRecord:
    """A test binary's run: per-test results from test2json, benchmark lines as metrics."""
    events_path = spec.stdout_path.with_suffix(".test2json")
    import_path = relative_import_path(fixture)
    events = gotest.convert(toolchain, ctx.paths.cache, spec.stdout_path, events_path, import_path)
    test_run = gotest.test_results(gotest.parse_events(events))
    classified = gotest.classify_test_run(result, stderr, test_run)
    results = benchfmt.parse_output(test_run.output)
    record = replace(
        record,
        outcome=classified.outcome,
        signature=classified.signature,
        detail=classified.detail or result.infra_error,
        tests=gotest.per_test_outcomes(test_run, classified.outcome),
        benchmarks=tuple(r.line() for r in results),
        metrics=benchfmt.results_metrics(results),
        metric_sources={},
    )
    return _with_gctrace(record, spec)


def relative_import_path(fixture: Fixture) -> str:
    """The import path of a fixture's package (`example.com/sdk/cmd/x`)."""
    module = module_path(fixture.module_dir)
    return module if fixture.package == "." else f"{module}/{fixture.package.removeprefix('./')}"


def _no_core_reason(plan: CellPlan, support: symbolize.CoreSupport) -> str:
    if not plan.settings.c_backtrace:
        return "c_backtrace is off in the matrix"
    return support.reason


def _native_crash(
    ctx: RunContext,
    backend: Backend,
    toolchain: Toolchain,
    spec: ExecSpec,
    binary: Path,
    stderr: str,
    classified: Classified,
    core_note: str | None,
) -> tuple[Classified, dict[str, Any]]:
    """For a crash that arrived during cgo execution: the signature naming the C function and
    the run record's `c_frames`, `c_backtrace` (the text file beside the logs) and
    `c_backtrace_tool` (None when no core was read)."""
    fault = cgo_fault(stderr)
    if fault is None:
        return classified, {}
    cores = symbolize.find_cores(spec.cwd)
    core = cores[0] if cores else None
    if core is None and core_note is None:
        core_note = "the run left no core file"
    native = symbolize.inspect_cgo_crash(backend, toolchain, spec, binary, fault, core, core_note)
    text_path = ctx.store.log_path(spec.cwd.parent.name, f"{spec.cwd.name}.c-backtrace.txt")
    write_text_atomic(text_path, native.text(binary))
    if native.signature:
        classified = replace(classified, signature=native.signature)
    return classified, {
        "c_frames": tuple(frame.to_json() for frame in native.frames),
        "c_backtrace": ctx.store.relative(text_path),
        "c_backtrace_tool": native.backtrace_tool if native.backtrace else None,
    }


def _remove_run_dir(ctx: RunContext, spec: ExecSpec, *, keep_core: bool) -> None:
    """Remove the run's working directory and any core in it (moved beside the logs when the
    matrix says keep_core)."""
    for core in symbolize.find_cores(spec.cwd):
        if keep_core:
            shutil.move(core, ctx.store.log_path(spec.cwd.parent.name, f"{spec.cwd.name}.core"))
    shutil.rmtree(spec.cwd, ignore_errors=True)
