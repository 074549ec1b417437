"""Build: one `go build` per Go module per cell, producing every fixture binary of the cell.

The build runs on the backend (host or container) with the allow-listed Go environment, and the
effective experiment set is read back from the built binary (`go version FILE`), never assumed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness import axes, goenv
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
    # fixtures that cannot be built in this cell (a cgo-only package with cgo off) -> why
    unsupported: dict[str, str] = field(default_factory=dict)


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
    extra = axes.build_env(plan.cell, os.environ.get("CC"))
    env = goenv.go_env(toolchain, plan.cell.goexperiment, gocache, extra)
    flags = axes.build_flags(plan.cell)
    argv = (str(toolchain.go), "build", *flags, "-o", f"{out_dir}/", *packages)
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
    """Build every fixture of `plan`'s cell; never raises for the cell's own failure.

    A build mode is first tried on a one-file probe, so a sanitizer this platform or C compiler
    cannot do makes the cell `unsupported` (with the reason) instead of a build error. With cgo
    off each package is built on its own: a cgo-only one is `unsupported`, the rest still run.
    """
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
    if plan.cell.buildmode:
        refused = _probe_build_mode(ctx, backend, toolchain, plan, log_dir)
        if refused is not None:
            return refused
    units: dict[Path, list[list[Fixture]]] = {}
    for fixture in fixtures:
        groups = units.setdefault(fixture.module_dir, [[]] if plan.cell.cgo_enabled else [])
        if plan.cell.cgo_enabled:
            groups[0].append(fixture)
        else:  # one build per package, so a cgo-only one fails alone
            groups.append([fixture])
    built = BuildResult("ok", 0.0, log_dir / "build.log")
    index = 0
    for module_dir, groups in sorted(units.items()):
        for members in groups:
            built = _build_unit(ctx, backend, toolchain, plan, module_dir, members, index, built)
            index += 1
            if built.status != "ok":
                return built
    return _with_experiments(toolchain, plan, built)


def _build_unit(
    ctx: RunContext,
    backend: Backend,
    toolchain: Toolchain,
    plan: CellPlan,
    module_dir: Path,
    members: Sequence[Fixture],
    index: int,
    so_far: BuildResult,
) -> BuildResult:
    """One `go build` of some packages of a module, added to what was built so far."""
    cell_id = plan.cell.id
    out_dir = ctx.paths.work_dir / "bin" / cell_id / str(index)
    out_dir.mkdir(parents=True, exist_ok=True)
    log_dir = ctx.store.log_dir(cell_id)
    log = log_dir / ("build.log" if index == 0 else f"build.{index}.log")
    packages = sorted({f.package for f in members})
    spec = build_spec(ctx, toolchain, plan, module_dir, packages, out_dir, log)
    commands = (*so_far.commands, shell_line(spec.argv, _shown_env(spec), module_dir))
    ctx.reporter.detail(f"[shell] {commands[-1]}")
    result = backend.execute(spec, toolchain)
    seconds = so_far.seconds + result.seconds
    failure = _build_failure(result)
    unsupported = dict(so_far.unsupported)
    binaries = dict(so_far.binaries)
    if failure and not plan.cell.cgo_enabled and not result.infra_error:
        reason = axes.cgo_only_reason(_read_log(log))
        if reason is not None:
            unsupported.update({f.name: reason for f in members})
            failure = None
    elif not failure:
        binaries.update({f.name: out_dir / f.binary_name for f in members})
    if failure:
        status = Outcome.INFRA_ERROR.value if result.infra_error else Outcome.BUILD_ERROR.value
        return BuildResult(status, seconds, log, commands, detail=failure)
    return BuildResult("ok", seconds, so_far.log, commands, binaries, unsupported=unsupported)


def _probe_build_mode(
    ctx: RunContext, backend: Backend, toolchain: Toolchain, plan: CellPlan, log_dir: Path
) -> BuildResult | None:
    """Build a one-file program in the cell's build mode; an `unsupported` result if that fails
    (the platform, the C compiler or cgo off cannot do it), None when it builds."""
    probe_dir = axes.write_probe(ctx.paths.work_dir / "probe" / plan.cell.id)
    out_dir = probe_dir / "bin"
    out_dir.mkdir(exist_ok=True)
    log = log_dir / "probe.log"
    spec = build_spec(ctx, toolchain, plan, probe_dir, ["."], out_dir, log)
    command = shell_line(spec.argv, _shown_env(spec), probe_dir)
    ctx.reporter.detail(f"[shell] {command}")
    result = backend.execute(spec, toolchain)
    if result.infra_error:
        return BuildResult(
            Outcome.INFRA_ERROR.value, result.seconds, log, (command,), detail=result.infra_error
        )
    if _build_failure(result) is None:
        return None
    reason = axes.probe_failure_reason(plan.cell, dict(spec.env), _read_log(log))
    return BuildResult(Outcome.UNSUPPORTED.value, result.seconds, log, (command,), detail=reason)


def _read_log(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-8000:]
    except OSError:
        return ""


def _shown_env(spec: ExecSpec) -> dict[str, str]:
    """The part of the build environment a reproduction needs spelled out."""
    keep = ("GOEXPERIMENT", "GOTOOLCHAIN", "GOFLAGS", "CGO_ENABLED", "CC")
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
        unsupported=built.unsupported,
    )
