"""Build: one `go build` (or `go test -c`) per Go module per cell, producing every binary of it.

The build runs on the backend (host or container) with the allow-listed Go environment, and the
effective experiment set is read back from the built binary (`go version FILE`), never assumed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness import axes, goenv, modules
from harness.backends import Backend
from harness.build_errors import PackageFailure, attribute_failures
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
    # fixtures whose package go blamed (build constraints exclude it here, or it does not compile)
    failures: dict[str, PackageFailure] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildUnit:
    """One go invocation of a cell: `go build` (main packages) or `go test -c` (test packages) of
    one module with one set of build tags (`only`: one package of it, when cgo is off)."""

    module_dir: Path
    test: bool = False
    tags: tuple[str, ...] = ()
    only: str = ""

    def argv(
        self, toolchain: Toolchain, flags: Sequence[str], out_dir: Path, packages: Sequence[str]
    ) -> tuple[str, ...]:
        verb = ("test", "-c") if self.test else ("build",)
        tags = ("-tags", ",".join(self.tags)) if self.tags else ()
        return (str(toolchain.go), *verb, *flags, "-o", f"{out_dir}/", *tags, *packages)


def build_units(plan: CellPlan, fixtures: Sequence[Fixture]) -> dict[BuildUnit, list[Fixture]]:
    """The fixtures of a cell grouped by the go invocation that builds them, in a stable order;
    with cgo off, one per package, so a cgo-only one fails alone."""
    units: dict[BuildUnit, list[Fixture]] = {}
    for fixture in fixtures:
        tags = fixture.spec.tags if fixture.spec else ()
        only = "" if plan.cell.cgo_enabled else fixture.package
        unit = BuildUnit(fixture.module_dir, fixture.is_test, tags, only)
        units.setdefault(unit, []).append(fixture)
    order = sorted(units, key=lambda u: (str(u.module_dir), u.test, u.tags, u.only))
    return {unit: units[unit] for unit in order}


def go_scratch(ctx: RunContext) -> Path:
    """The run's GOTMPDIR: inside its work directory, which is removed when the run ends and by
    the next run when gxm itself was killed (a killed `go build` leaves its go-build* dir)."""
    path = ctx.paths.work_dir / "gotmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def build_spec(
    ctx: RunContext,
    toolchain: Toolchain,
    plan: CellPlan,
    unit: BuildUnit,
    packages: Sequence[str],
    out_dir: Path,
    log: Path,
) -> ExecSpec:
    """The `go build -o OUT/ pkg…` (or `go test -c -o OUT/ pkg…`) invocation for one unit:
    offline, dependencies from gxm's module cache (read-only in a container) or vendor/."""
    gocache = goenv.gocache_dir(ctx.paths.cache, toolchain)
    extra = axes.build_env(plan.cell, os.environ.get("CC"))
    env = goenv.go_env(toolchain, plan.cell.goexperiment, gocache, extra)
    env.update(modules.build_env(ctx.paths.cache, unit.module_dir))
    gotmp = go_scratch(ctx)
    env["GOTMPDIR"] = str(gotmp)  # go's work dirs die with the run's, even when go is killed
    mounts = [(unit.module_dir, False), (out_dir, True), (gocache, True), (toolchain.goroot, False)]
    mounts.append((gotmp, True))
    mounts += [(path, False) for path in modules.build_mounts(ctx.paths.cache, unit.module_dir)]
    return ExecSpec(
        argv=unit.argv(toolchain, axes.build_flags(plan.cell), out_dir, packages),
        env=tuple(sorted(env.items())),
        cwd=unit.module_dir,
        stdout_path=log.with_suffix(".stdout.log"),
        stderr_path=log,
        timeout_s=plan.settings.build_timeout_s,
        grace_s=plan.settings.grace_s,
        memory_limit_bytes=plan.settings.build_memory_limit_bytes,
        cpus=plan.settings.cpus,
        label=f"{ctx.paths.run_dir.name}/{plan.cell.id}/build",
        mounts=tuple(mounts),
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
    state = _CellBuild(log_dir)
    for index, (unit, members) in enumerate(build_units(plan, fixtures).items()):
        out_dir = ctx.paths.work_dir / "bin" / cell_id / str(index)
        out_dir.mkdir(parents=True, exist_ok=True)
        fatal = _build_unit(ctx, backend, toolchain, plan, unit, members, out_dir, state)
        if fatal is not None:
            return BuildResult(
                fatal[0], state.seconds, fatal[1], tuple(state.commands), detail=fatal[2]
            )
    failures = {
        f.name: state.failures[f.package]
        for f in fixtures
        if f.package in state.failures and f.name not in state.binaries
    }
    built = BuildResult(
        "ok",
        state.seconds,
        log_dir / "build.log",
        tuple(state.commands),
        state.binaries,
        unsupported=state.unsupported,
        failures=failures,
    )
    return _with_experiments(toolchain, plan, built)


@dataclass
class _CellBuild:
    """What building a cell's units gathers as it goes."""

    log_dir: Path
    binaries: dict[str, Path] = field(default_factory=dict)
    failures: dict[str, PackageFailure] = field(default_factory=dict)
    unsupported: dict[str, str] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    seconds: float = 0.0
    attempts: int = 0

    def next_log(self) -> Path:
        name = "build.log" if self.attempts == 0 else f"build.{self.attempts}.log"
        self.attempts += 1
        return self.log_dir / name


def _build_unit(
    ctx: RunContext,
    backend: Backend,
    toolchain: Toolchain,
    plan: CellPlan,
    unit: BuildUnit,
    members: Sequence[Fixture],
    out_dir: Path,
    state: _CellBuild,
) -> tuple[str, Path, str] | None:
    """Build one unit, dropping the packages go blames until the rest builds (with cgo off, a
    cgo-only package is `unsupported`). Returns (status, log, detail) when the cell as a whole
    cannot be built (the engine failed, or go's error names none of the packages), else None."""
    remaining = sorted({f.package for f in members})
    while remaining:
        log = state.next_log()
        spec = build_spec(ctx, toolchain, plan, unit, remaining, out_dir, log)
        state.commands.append(shell_line(spec.argv, _shown_env(spec), unit.module_dir))
        ctx.reporter.detail(f"[shell] {state.commands[-1]}")
        result = backend.execute(spec, toolchain)
        state.seconds += result.seconds
        failure = _build_failure(result)
        if failure is None:
            break
        output = _read_log(log) + _read_log(spec.stdout_path)
        if result.infra_error or result.timed_out:
            status = Outcome.INFRA_ERROR if result.infra_error else Outcome.BUILD_ERROR
            return status.value, log, _failure_detail(failure, output)
        reason = None if plan.cell.cgo_enabled else axes.cgo_only_reason(output)
        if reason is not None:
            state.unsupported.update({f.name: reason for f in members})
            return None
        blamed = attribute_failures(output, unit.module_dir, remaining, plan.cell.goexperiment)
        if not blamed:
            return Outcome.BUILD_ERROR.value, log, _failure_detail(failure, output)
        state.failures.update(blamed)
        remaining = [p for p in remaining if p not in blamed]
    _collect_binaries(members, set(remaining), out_dir, state)
    return None


def _collect_binaries(
    members: Sequence[Fixture], built: set[str], out_dir: Path, state: _CellBuild
) -> None:
    """The binaries go wrote; a package it wrote none for (go test -c and no test files in this
    cell) is `unsupported` here."""
    for fixture in members:
        binary = out_dir / fixture.binary_name
        if fixture.package in built and binary.is_file():
            state.binaries[fixture.name] = binary
        elif fixture.package in built:
            why = f"go wrote no binary for {fixture.package} (no test files in this cell)"
            state.failures[fixture.package] = PackageFailure(
                fixture.package, Outcome.UNSUPPORTED, why
            )


def _failure_detail(failure: str, output: str) -> str:
    """`go build exited 1` plus the last lines of go's own message."""
    lines = [line for line in output.splitlines() if line.strip()][-8:]
    return "\n".join([failure, *lines]) if lines else failure


def _probe_build_mode(
    ctx: RunContext, backend: Backend, toolchain: Toolchain, plan: CellPlan, log_dir: Path
) -> BuildResult | None:
    """Build a one-file program in the cell's build mode; an `unsupported` result if that fails
    (the platform, the C compiler or cgo off cannot do it), None when it builds."""
    probe_dir = axes.write_probe(ctx.paths.work_dir / "probe" / plan.cell.id)
    out_dir = probe_dir / "bin"
    out_dir.mkdir(exist_ok=True)
    log = log_dir / "probe.log"
    spec = build_spec(ctx, toolchain, plan, BuildUnit(probe_dir), ["."], out_dir, log)
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
    # GOPROXY=off, GOSUMDB=off, GOMODCACHE: offline builds from gxm's module cache
    keep = {"GOEXPERIMENT", "GOTOOLCHAIN", "GOFLAGS", "CGO_ENABLED", "CC", "GOPROXY", "GOSUMDB"}
    keep.add("GOMODCACHE")
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
        failures=built.failures,
    )
