"""Run: one fixture run on a backend, classified and measured into a run record.

The environment a fixture sees is an allow-list: a fixed PATH, a scratch HOME
and TMPDIR, the GXM_* knobs, and the matrix's `env` — never the shell's environment.
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psutil

from harness import axes, symbolize
from harness.atomic import write_text_atomic
from harness.backends import Backend
from harness.classify import cgo_fault, classify, read_fixture_result
from harness.context import RunContext
from harness.hostcmd import shell_line
from harness.masking import mask_file, mask_json, mask_secrets, secret_values
from harness.model import CellPlan, Classified, ExecResult, ExecSpec, Fixture, Outcome, Toolchain
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
    ctx: RunContext, plan: CellPlan, files: RunFiles, i: int, *, cores: bool = False
) -> dict[str, str]:
    """The complete environment of one fixture run. With `cores`, GOTRACEBACK=crash (unless the
    matrix sets GOTRACEBACK) so Go re-raises a fatal signal and the kernel writes a core."""
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
    godebug = axes.run_godebug(env.get("GODEBUG"), plan.cell.godebug)
    if godebug is not None:
        env["GODEBUG"] = godebug.value  # the axis wins over the matrix env (recorded per cell)
    return env


def fixture_spec(
    ctx: RunContext, plan: CellPlan, fixture: Fixture, binary: Path, i: int, *, cores: bool = False
) -> ExecSpec:
    """The ExecSpec of one fixture run; `cores` lets a crash leave a core in the run's cwd (core
    dumps are forbidden otherwise, whatever limit gxm inherited)."""
    files = run_files(ctx, plan.cell.id, fixture.name, i)
    files.result.unlink(missing_ok=True)
    cwd = run_cwd(ctx, plan.cell.id, fixture.name, i)
    shutil.rmtree(cwd, ignore_errors=True)
    cwd.mkdir(parents=True)
    settings = plan.settings
    return ExecSpec(
        argv=(str(binary),),
        env=tuple(sorted(fixture_env(ctx, plan, files, i, cores=cores).items())),
        cwd=cwd,
        stdout_path=files.stdout,
        stderr_path=files.stderr,
        timeout_s=settings.timeout_s,
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
            (cwd, True),  # its own mount, so a container's user owns it and can write a core
        ),
        core_dumps=cores,
    )


def reproduce_line(spec: ExecSpec) -> str:
    """A shell line that runs this fixture binary again with the same environment."""
    env = {k: v for k, v in mask_secrets(dict(spec.env)).items()}
    return shell_line(spec.argv, env, spec.cwd)


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
) -> RunRecord:
    """Run fixture `i` once and return its run record (results schema 1, `runs[]` entry).

    A crash in C gets its C function named (harness.symbolize) while the binary is still there;
    whatever core the run left is read, then removed with the run's directory.
    """
    support = symbolize.core_support(backend.name)
    cores = plan.settings.c_backtrace and support.available
    spec = fixture_spec(ctx, plan, fixture, binary, i, cores=cores)
    ctx.reporter.detail(f"[shell] {reproduce_line(spec)}")
    load_avg = host_load_avg()
    result: ExecResult = backend.execute(spec, toolchain)
    stderr = read_head_and_tail(spec.stderr_path)
    try:
        classified = classify(result, stderr)
        native: dict[str, Any] = {}
        if classified.outcome is Outcome.CRASH:
            note = None if cores else _no_core_reason(plan, support)
            classified, native = _native_crash(
                ctx, backend, toolchain, spec, binary, stderr, classified, note
            )
    finally:
        _remove_run_dir(ctx, spec, keep_core=plan.settings.keep_core)
    report = read_fixture_result(Path(dict(spec.env)["GXM_RESULT"]))
    known = secret_values(dict(plan.settings.env))  # a fixture may echo them back
    for path in {spec.stdout_path, spec.stderr_path}:
        mask_file(path, known)
    return RunRecord(
        i=i,
        outcome=classified.outcome,
        exit_code=result.exit_code,
        signal=result.signal,
        seconds=round(result.seconds, 3),
        signature=mask_json(classified.signature, known),
        detail=mask_json(classified.detail or result.infra_error, known),
        metrics=dict(report.metrics) if report.status == "ok" else {},
        checks=mask_json(dict(report.checks), known) if report.status == "ok" else {},
        result_status=report.status,
        runtime_version=report.runtime_version,
        peak_rss_bytes=result.peak_rss_bytes,
        log_bytes_dropped=result.log_bytes_dropped,
        load_avg=tuple(load_avg),
        log=ctx.store.relative(spec.stderr_path),
        command=" ".join(shlex.quote(a) for a in spec.argv),
        gc_pause_histogram=report.pause_histogram if report.status == "ok" else None,
        **native,
    )


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
