"""Build: one `go build` (or `go test -c`) per Go module per cell, producing every binary of it.

The build runs on the backend (host or container) with the allow-listed Go environment, and the
effective experiment set is read back from the built binary (`go version FILE`), never assumed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness import goenv, modules
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
    failures: dict[str, PackageFailure] = field(default_factory=dict)  # fixture name -> why not


@dataclass(frozen=True)
class BuildUnit:
    """One go invocation of a cell: `go build` (main packages) or `go test -c` (test packages) of
    one module with one set of build tags."""

    module_dir: Path
    test: bool
    tags: tuple[str, ...]

    def argv(self, toolchain: Toolchain, out_dir: Path, packages: Sequence[str]) -> tuple[str, ...]:
        verb = ("test", "-c") if self.test else ("build",)
        tags = ("-tags", ",".join(self.tags)) if self.tags else ()
        return (str(toolchain.go), *verb, "-o", f"{out_dir}/", *tags, *packages)


def build_units(fixtures: Sequence[Fixture]) -> dict[BuildUnit, list[Fixture]]:
    """The fixtures of a cell grouped by the go invocation that builds them, in a stable order."""
    units: dict[BuildUnit, list[Fixture]] = {}
    for fixture in fixtures:
        tags = fixture.spec.tags if fixture.spec else ()
        units.setdefault(BuildUnit(fixture.module_dir, fixture.is_test, tags), []).append(fixture)
    return dict(sorted(units.items(), key=lambda item: (str(item[0].module_dir), item[0].test)))


def build_spec(
    ctx: RunContext,
    toolchain: Toolchain,
    plan: CellPlan,
    unit: BuildUnit,
    packages: Sequence[str],
    out_dir: Path,
    log: Path,
) -> ExecSpec:
    """The `go build -o OUT/ pkg…` (or `go test -c -o OUT/ pkg…`) invocation for one unit."""
    gocache = goenv.gocache_dir(ctx.paths.cache, toolchain)
    env = goenv.go_env(toolchain, plan.cell.goexperiment, gocache, {})
    env.update(modules.build_env(ctx.paths.cache, unit.module_dir))
    mounts = [(unit.module_dir, False), (out_dir, True), (gocache, True), (toolchain.goroot, False)]
    mounts += [(path, False) for path in modules.build_mounts(ctx.paths.cache, unit.module_dir)]
    return ExecSpec(
        argv=unit.argv(toolchain, out_dir, packages),
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


@dataclass
class _CellBuild:
    """What building a cell's units gathers as it goes."""

    log_dir: Path
    binaries: dict[str, Path] = field(default_factory=dict)
    failures: dict[str, PackageFailure] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    seconds: float = 0.0
    attempts: int = 0

    def next_log(self) -> Path:
        name = "build.log" if self.attempts == 0 else f"build.{self.attempts}.log"
        self.attempts += 1
        return self.log_dir / name


def build_cell(
    ctx: RunContext,
    backend: Backend,
    toolchain: Toolchain,
    plan: CellPlan,
    fixtures: Sequence[Fixture],
) -> BuildResult:
    """Build every fixture of `plan`'s cell; never raises for the cell's own failure.

    A package go blames (excluded by build constraints in this cell, or not compiling) fails on
    its own (`BuildResult.failures`); the other packages of its module are built again without it.
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
    state = _CellBuild(log_dir)
    for index, (unit, members) in enumerate(build_units(fixtures).items()):
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
    return _with_experiments(
        toolchain,
        plan,
        BuildResult(
            "ok",
            state.seconds,
            log_dir / "build.log",
            tuple(state.commands),
            state.binaries,
            failures=failures,
        ),
    )


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
    """Build one unit, dropping the packages go blames until the rest builds.

    Returns (status, log, detail) when the cell as a whole cannot be built (the engine failed, or
    go's error names none of the packages), else None.
    """
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
        output = _read(log) + _read(spec.stdout_path)
        blamed = (
            {}
            if result.infra_error or result.timed_out
            else attribute_failures(output, unit.module_dir, remaining, plan.cell.goexperiment)
        )
        if not blamed:
            status = "infra-error" if result.infra_error else "build-error"
            return status, log, _failure_detail(failure, output)
        state.failures.update(blamed)
        remaining = [p for p in remaining if p not in blamed]
    built = set(remaining)
    for fixture in members:
        binary = out_dir / fixture.binary_name
        if fixture.package in built and binary.is_file():
            state.binaries[fixture.name] = binary
        elif fixture.package in built:  # go test -c writes nothing for a package without tests
            why = f"go wrote no binary for {fixture.package} (no test files in this cell)"
            state.failures[fixture.package] = PackageFailure(
                fixture.package, Outcome.UNSUPPORTED, why
            )
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _failure_detail(failure: str, output: str) -> str:
    """`go build exited 1` plus the last lines of go's own message."""
    lines = [line for line in output.splitlines() if line.strip()][-8:]
    return "\n".join([failure, *lines]) if lines else failure


def _shown_env(spec: ExecSpec) -> dict[str, str]:
    """The part of the build environment a reproduction needs spelled out."""
    # GOPROXY=off and GOMODCACHE: offline builds read dependencies from gxm's module cache
    keep = (
        "GOEXPERIMENT",
        "GOTOOLCHAIN",
        "GOFLAGS",
        "CGO_ENABLED",
        "GOPROXY",
        "GOSUMDB",
        "GOMODCACHE",
    )
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
        failures=built.failures,
    )
