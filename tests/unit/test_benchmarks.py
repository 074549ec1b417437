"""benchmarks/overhead.py reads gxm's `[shell]` trace back into the commands its loop replays;
benchmarks/report_time.py times reports on a copy of a run."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from harness.hostcmd import shell_line

ROOT = Path(__file__).resolve().parents[2]


def _overhead() -> ModuleType:
    spec = importlib.util.spec_from_file_location("overhead", ROOT / "benchmarks" / "overhead.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def test_a_traced_command_parses_back_to_cwd_env_and_argv() -> None:
    env = {"GXM_DURATION": "0.5", "GOGC": "100", "NAME": "two words"}
    argv = ["/w/bin/go1.22-default/0/gc_small_objects"]
    line = "[shell] " + shell_line(argv, env, Path("/w/scratch dir"))
    command = _overhead().parse_shell_line(line)
    assert (command.cwd, command.env, command.argv) == ("/w/scratch dir", env, argv)


def test_a_traced_build_keeps_its_packages() -> None:
    argv = ["/go/bin/go", "build", "-o", "/w/bin/", "./cmd/a", "./cmd/b"]
    line = "[shell] " + shell_line(argv, {"CGO_ENABLED": "1"}, Path("/src/go_fixtures"))
    command = _overhead().parse_shell_line(line)
    assert command.argv == argv and command.env == {"CGO_ENABLED": "1"}


def test_a_pinned_bench_run_parses_to_its_binary_and_cpus() -> None:
    """gxm pins a bench run (`taskset -c 1 BINARY`): the loop runs the same binary, pinned too."""
    argv = ["taskset", "-c", "1", "/w/bin/go1.22-default/0/gc_live_heap"]
    line = "[shell] " + shell_line(argv, {"GXM_DURATION": "0.5"}, Path("/w/scratch"))
    command = _overhead().parse_shell_line(line)
    assert command.argv == argv[3:] and command.cpus == "1"


def test_report_time_times_a_copy_and_leaves_the_run_as_it_was(tmp_path: Path) -> None:
    """benchmarks/report_time.py draws and writes every report of a copy of the run (its own
    plots/ removed each time) and prints min/median/max; the run itself is not touched."""
    sample = ROOT / "tests" / "data" / "runs" / "sample"
    run = tmp_path / sample.name
    shutil.copytree(sample, run)
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "report_time.py"), str(run), "--times", "1"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"{ROOT}: min " in done.stdout and "(1 times)" in done.stdout
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before
