"""run.py: how a user's test binary and main program are started (no process is run here)."""

from __future__ import annotations

from pathlib import Path

from harness.build import BuildUnit, build_spec
from harness.context import Clock, Paths, Reporter, RunContext
from harness.external import external_fixtures
from harness.model import Cell, CellPlan, ExternalSpec, Settings, Toolchain
from harness.run import fixture_spec, reproduce_line

REPO = Path(__file__).resolve().parents[2]
SDK = REPO / "tests" / "data" / "sdk_tests"


def context(tmp_path: Path) -> RunContext:
    paths = Paths(REPO, tmp_path, tmp_path / "cache", tmp_path / "run", tmp_path / "work")
    return RunContext(paths, Reporter(), Clock(), 7, "local")


def test_test_binary_runs_in_its_package_dir_with_go_test_flags_and_no_core_dumps(
    tmp_path: Path,
) -> None:
    spec = ExternalSpec(command="test", short=True, timeout_s=30.0, env=(("GODEBUG", "x=1"),))
    (fixture,) = external_fixtures("sdk", SDK, "./failing", "stress", spec=spec)
    plan = CellPlan(Cell("1.22", "cgocheck2"), Settings(timeout_s=99.0), ("sdk",))
    binary = tmp_path / "bin" / "failing.test"
    run = fixture_spec(context(tmp_path), plan, fixture, binary, 2, cores=True)
    assert run.cwd == SDK / "failing"  # tests read testdata/ relative to it
    assert run.argv == (str(binary), "-test.v=test2json", "-test.timeout=30s", "-test.short")
    assert run.timeout_s == 35.0  # go's own -test.timeout first, gxm's SIGQUIT 5 s later
    assert (SDK, False) in run.mounts  # the module, read-only in a container
    assert run.core_dumps is False and "GOTRACEBACK" not in dict(run.env)
    assert dict(run.env)["GODEBUG"] == "x=1,gctrace=1"
    assert SDK.is_dir() and (SDK / "failing" / "failing_test.go").is_file()


def test_main_program_keeps_its_own_run_directory(tmp_path: Path) -> None:
    mains = external_fixtures("m", REPO / "tests" / "data" / "external_sdk", "./cmd/hang", "stress")
    plan = CellPlan(Cell("1.22"), Settings(timeout_s=12.0), ("m",))
    run = fixture_spec(context(tmp_path), plan, mains[0], tmp_path / "hang", 0)
    assert run.cwd.is_relative_to(tmp_path / "work") and run.argv == (str(tmp_path / "hang"),)
    assert run.timeout_s == 12.0 and dict(run.env)["GODEBUG"] == "gctrace=1"


def test_a_pinned_run_names_its_cpus_in_its_spec_and_its_reproduction_line(
    tmp_path: Path,
) -> None:
    mains = external_fixtures("m", REPO / "tests" / "data" / "external_sdk", "./cmd/hang", "stress")
    plan = CellPlan(Cell("1.22"), Settings(), ("m",))
    free = fixture_spec(context(tmp_path), plan, mains[0], tmp_path / "hang", 0)
    assert free.cpuset == () and "taskset" not in reproduce_line(free)
    pinned = fixture_spec(context(tmp_path), plan, mains[0], tmp_path / "hang", 1, cpuset=(2, 3))
    assert pinned.cpuset == (2, 3)
    assert f"taskset -c 2,3 {tmp_path / 'hang'})" in reproduce_line(pinned)


def test_go_builds_keep_their_temporary_files_in_the_runs_work_dir(tmp_path: Path) -> None:
    """A `go build` killed with gxm leaves its go-build* directory in GOTMPDIR: that must be the
    run's work directory (removed with the run, or by the next run after a killed gxm), never
    the host's /tmp."""
    ctx = context(tmp_path)
    goroot = tmp_path / "go"
    plan = CellPlan(Cell("1.22"), Settings(), ("x",))
    unit = BuildUnit(REPO / "go_fixtures")
    spec = build_spec(ctx, Toolchain("1.22.10", goroot, ""), plan, unit, ["./cmd/x"],
                      tmp_path / "out", tmp_path / "build.log")  # fmt: skip
    gotmp = Path(dict(spec.env)["GOTMPDIR"])
    assert gotmp.is_relative_to(ctx.paths.work_dir) and gotmp.is_dir()
    assert (gotmp, True) in spec.mounts  # writable inside a build container too
