"""Build: one `go build` per Go module per cell, producing every fixture binary of the cell.

The build runs on the backend (host or container) with the allow-listed Go environment, and the
effective experiment set is read back from the built binary (`go version FILE`), never assumed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness import goenv
from harness.backends import Backend
from harness.classify import effective_experiments
from harness.context import RunContext
from harness.errors import GxmError
from harness.hostcmd import shell_line
from harness.model import CellPlan, ExecSpec, Fixture, Outcome, Toolchain


@dataclass(frozen=True)
class BuildResult:
    """What building one cell gave. `status` is ok | build-error | unsupported | infra-error."""

    status: str
    seconds: float
    log: Path | None
    commands: tuple[str, ...] = ()
    binaries: dict[str, Path] = field(default_factory=dict)  # fixture name -> binary
    runtime_version: str | None = None
    effective_experiments: tuple[str, ...] = ()
    experiment_status: str = "default"
    detail: str | None = None


def gocache_dir(cache: Path, toolchain: Toolchain) -> Path:
    """One GOCACHE per Go version, shared by every run (and by the docker backend's volume name)."""
    return cache / "gocache" / f"go{toolchain.version}"


def build_spec(
    ctx: RunContext,
    toolchain: Toolchain,
    plan: CellPlan,
    module_dir: Path,
    packages: Sequence[str],
    out_dir: Path,
    log: Path,
) -> ExecSpec:
    """The `go build -o OUT/ pkg…` invocation for one module of one cell."""
    gocache = gocache_dir(ctx.paths.cache, toolchain)
    env = goenv.go_env(toolchain, plan.cell.goexperiment, gocache, {})
    argv = (str(toolchain.go), "build", "-o", f"{out_dir}/", *packages)
    return ExecSpec(
        argv=argv,
        env=tuple(sorted(env.items())),
        cwd=module_dir,
        stdout_path=log.with_suffix(".stdout.log"),
        stderr_path=log,
        timeout_s=plan.settings.build_timeout_s,
        grace_s=plan.settings.grace_s,
        memory_limit_bytes=plan.settings.build_memory_limit_bytes,
        cpus=plan.settings.cpus,
        label=f"{ctx.paths.run_dir.name}/{plan.cell.id}/build",
        mounts=((module_dir, False), (out_dir, True), (gocache, True), (toolchain.goroot, False)),
    )


def build_cell(
    ctx: RunContext,
    backend: Backend,
    toolchain: Toolchain,
    plan: CellPlan,
    fixtures: Sequence[Fixture],
) -> BuildResult:
    """Build every fixture of `plan`'s cell; never raises for the cell's own failure."""
    cell_id = plan.cell.id
    if plan.cell.goexperiment and not goenv.experiment_supported(toolchain, plan.cell.goexperiment):
        return BuildResult(
            Outcome.UNSUPPORTED.value,
            0.0,
            None,
            experiment_status="unsupported",
            detail=f"go{toolchain.version} does not know GOEXPERIMENT={plan.cell.goexperiment}",
        )
    log_dir = ctx.store.log_dir(cell_id)
    modules: dict[Path, list[Fixture]] = {}
    for fixture in fixtures:
        modules.setdefault(fixture.module_dir, []).append(fixture)
    binaries: dict[str, Path] = {}
    commands: list[str] = []
    seconds = 0.0
    log = log_dir / "build.log"
    for index, (module_dir, members) in enumerate(sorted(modules.items())):
        out_dir = ctx.paths.work_dir / "bin" / cell_id / str(index)
        out_dir.mkdir(parents=True, exist_ok=True)
        log = log_dir / ("build.log" if index == 0 else f"build.{index}.log")
        packages = sorted({f.package for f in members})
        spec = build_spec(ctx, toolchain, plan, module_dir, packages, out_dir, log)
        commands.append(shell_line(spec.argv, _shown_env(spec), module_dir))
        ctx.reporter.detail(f"[shell] {commands[-1]}")
        result = backend.execute(spec, toolchain)
        seconds += result.seconds
        failure = _build_failure(result)
        if failure:
            status = Outcome.INFRA_ERROR.value if result.infra_error else Outcome.BUILD_ERROR.value
            return BuildResult(status, seconds, log, tuple(commands), detail=failure)
        binaries.update({f.name: out_dir / f.binary_name for f in members})
    return _with_experiments(
        toolchain,
        plan,
        BuildResult("ok", seconds, log_dir / "build.log", tuple(commands), binaries),
    )


def _shown_env(spec: ExecSpec) -> dict[str, str]:
    """The part of the build environment a reproduction needs spelled out."""
    keep = ("GOEXPERIMENT", "GOTOOLCHAIN", "GOFLAGS", "CGO_ENABLED")
    return {k: v for k, v in spec.env if k in keep}


def _build_failure(result: object) -> str | None:
    infra = getattr(result, "infra_error", None)
    if infra:
        return str(infra)
    if getattr(result, "timed_out", False):
        return "go build timed out"
    if getattr(result, "oom_killed", False):
        return "go build went over its memory limit"
    code = getattr(result, "exit_code", 0)
    if code != 0:
        return f"go build exited {code}" if code is not None else "go build was killed by a signal"
    return None


def _with_experiments(toolchain: Toolchain, plan: CellPlan, built: BuildResult) -> BuildResult:
    """Read the effective experiment set from one built binary and classify the request."""
    if not built.binaries:
        return built
    first = next(iter(sorted(built.binaries.values())))
    try:
        version = goenv.binary_runtime_version(toolchain, first)
    except GxmError as exc:
        return BuildResult(
            Outcome.INFRA_ERROR.value,
            built.seconds,
            built.log,
            built.commands,
            detail=f"could not read the binary's Go version: {exc}",
        )
    effective = effective_experiments(version)
    status = goenv.experiment_status(plan.cell.goexperiment, effective)
    return BuildResult(
        built.status,
        built.seconds,
        built.log,
        built.commands,
        built.binaries,
        version,
        effective,
        status,
    )
