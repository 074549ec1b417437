"""Run: one fixture run on a backend, classified and measured into a run record.

The environment a fixture sees is an allow-list (DESIGN "Backends"): a fixed PATH, a scratch HOME
and TMPDIR, the GXM_* knobs, and the matrix's `env` — never the shell's environment.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

import psutil

from harness.backends import Backend
from harness.classify import classify, read_fixture_result
from harness.context import RunContext
from harness.hostcmd import shell_line
from harness.masking import mask_secrets
from harness.model import CellPlan, ExecResult, ExecSpec, Fixture, Toolchain
from harness.store.records import RunRecord

BASE_PATH = "/usr/local/bin:/usr/bin:/bin"
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


def fixture_env(ctx: RunContext, plan: CellPlan, files: RunFiles, i: int) -> dict[str, str]:
    """The complete environment of one fixture run."""
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
    env.update(dict(plan.settings.env))
    return env


def fixture_spec(
    ctx: RunContext, plan: CellPlan, fixture: Fixture, binary: Path, i: int
) -> ExecSpec:
    files = run_files(ctx, plan.cell.id, fixture.name, i)
    files.result.unlink(missing_ok=True)
    settings = plan.settings
    return ExecSpec(
        argv=(str(binary),),
        env=tuple(sorted(fixture_env(ctx, plan, files, i).items())),
        cwd=ctx.paths.work_dir / "scratch",
        stdout_path=files.stdout,
        stderr_path=files.stderr,
        timeout_s=settings.timeout_s,
        grace_s=settings.grace_s,
        memory_limit_bytes=settings.memory_limit_bytes,
        cpus=settings.cpus,
        pids_limit=settings.pids_limit,
        label=f"{ctx.paths.run_dir.name}/{plan.cell.id}/{fixture.name}#{i}",
        mounts=(
            (binary.parent, False),
            (files.result.parent, True),
            (ctx.paths.work_dir / "scratch", True),
        ),
    )


def reproduce_line(spec: ExecSpec) -> str:
    """A shell line that runs this fixture binary again with the same environment."""
    env = {k: v for k, v in mask_secrets(dict(spec.env)).items()}
    return shell_line(spec.argv, env, spec.cwd)


def read_tail(path: Path, limit: int = STDERR_TAIL_BYTES) -> str:
    """The last `limit` bytes of a log (crash output is at the end; a dump can be huge)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            return handle.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


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
    """Run fixture `i` once and return its run record (a `runs[]` entry of the cell document)."""
    spec = fixture_spec(ctx, plan, fixture, binary, i)
    ctx.reporter.detail(f"[shell] {reproduce_line(spec)}")
    load_avg = host_load_avg()
    result: ExecResult = backend.execute(spec, toolchain)
    stderr = read_tail(spec.stderr_path)
    classified = classify(result, stderr)
    report = read_fixture_result(Path(dict(spec.env)["GXM_RESULT"]))
    return RunRecord(
        i=i,
        outcome=classified.outcome,
        exit_code=result.exit_code,
        signal=result.signal,
        seconds=round(result.seconds, 3),
        signature=classified.signature,
        detail=classified.detail or result.infra_error,
        metrics=dict(report.metrics) if report.status == "ok" else {},
        checks=dict(report.checks) if report.status == "ok" else {},
        result_status=report.status,
        runtime_version=report.runtime_version,
        peak_rss_bytes=result.peak_rss_bytes,
        load_avg=tuple(load_avg),
        log=ctx.store.relative(spec.stderr_path),
        command=" ".join(shlex.quote(a) for a in spec.argv),
    )
