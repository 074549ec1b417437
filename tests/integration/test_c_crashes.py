"""Crashes inside C (harness.symbolize) with real toolchains, real Docker, real cores.

The two C-crash fixtures on Go 1.22 and 1.26 on both backends: signatures naming their C
functions, the full C backtrace from a core where this host's core_pattern writes plain files (or
the reason it cannot), no core file left in the run's scratch space, the cwd or the results.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from gxm_process import gxm

from harness import goenv, symbolize, toolchains
from harness.backends.docker import DockerBackend
from harness.backends.local import LocalBackend
from harness.build import build_cell
from harness.context import Clock, Paths, Reporter, RunContext
from harness.fixtures import load_fixtures
from harness.model import Cell, CellPlan, Settings
from harness.run import execute_fixture_run, run_cwd

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
FIXTURES = load_fixtures(REPO / "go_fixtures" / "fixtures.yaml")
FUNCTION = {"c_null_read": "sdk_parse_header", "c_write_overflow": "sdk_unmask_payload"}
CALLER = {"c_null_read": "sdk_decode_frame", "c_write_overflow": "sdk_read_frame"}
LINE = {"c_null_read": 20, "c_write_overflow": 19}
MATRIX = """\
    schema: 1
    backend: {backend}
    go: ["1.22", "1.26"]
    goexperiment: [""]
    fixtures: [c_null_read, c_write_overflow]
    defaults:
      repeats: 1
      duration: 100ms
      timeout: 60s
"""


def cores_under(*roots: Path) -> list[Path]:
    """Every ELF core file below `roots` (whatever core_pattern named it)."""
    found = []
    for root in roots:
        for directory, _, files in os.walk(root):
            paths = (Path(directory, name) for name in files)
            found += [path for path in paths if symbolize.is_core_file(path)]
    return found


def only_run_dir(out: Path) -> Path:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def assert_full_backtrace(text: str, name: str) -> None:
    """The crashing thread's frames from the core: the C function and its caller, file:line
    (gdb prints a frame per line, eu-stack its source line under the frame)."""
    frames = text.split("from the core (", 1)[1].split("\n", 1)[1].split("\n#")
    assert FUNCTION[name] in frames[0] and f"cmd/{name}/main.go:{LINE[name]}" in frames[0], text
    assert CALLER[name] in frames[1] and f"cmd/{name}/main.go:" in frames[1], text
    assert any("_Cfunc_" + CALLER[name] in frame for frame in frames[2:4]), text


@pytest.mark.parametrize("backend", ["local", "docker"])
def test_c_crashes_name_their_c_function_on_both_go_versions(tmp_path: Path, backend: str) -> None:
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(textwrap.dedent(MATRIX.format(backend=backend)))
    result = gxm("run", "--matrix", str(matrix), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_dir = only_run_dir(tmp_path / "out")
    support = symbolize.core_support(backend)
    signatures = set()
    for cell_id in ("go1.22-default", "go1.26-default"):
        cell = json.loads((run_dir / "cells" / f"{cell_id}.json").read_text())
        for name, function in FUNCTION.items():
            (run,) = cell["fixtures"][name]["runs"]
            assert run["outcome"] == "crash", run
            assert run["signature"] == f"SIGSEGV in {function}", run
            signatures.add(run["signature"])
            assert run["c_frames"][0]["function"] == function
            assert run["c_frames"][0]["file"].endswith(f"cmd/{name}/main.go")
            text = (run_dir / run["c_backtrace"]).read_text()
            if support.available:
                # eu-stack first: a quarter of gdb's CPU time per crash (the bootstrapped
                # image has elfutils; on the host, gdb only where eu-stack is missing)
                wanted = "eu-stack" if backend == "docker" or shutil.which("eu-stack") else "gdb"
                assert run["c_backtrace_tool"] == wanted, text
                assert_full_backtrace(text, name)
            else:
                assert run["c_backtrace_tool"] is None and support.reason in text
    assert len(signatures) == 2  # two C bugs in one module, two buckets
    report = (run_dir / "report.md").read_text()
    assert "| crash 1/1 SIGSEGV in sdk_parse_header" in report
    assert f"({run['c_backtrace']})" in report  # the backtrace is linked
    assert cores_under(tmp_path) == []  # the cwd and the results
    work = goenv.cache_dir() / "work"
    assert not list(work.glob(f"{run_dir.name}-*"))  # the run's work dir (scratch) is gone


@pytest.fixture(params=["local", "docker"])
def backend(request: pytest.FixtureRequest) -> Iterator[Any]:
    made = LocalBackend() if request.param == "local" else DockerBackend(reporter=Reporter())
    with made:
        yield made


def test_the_core_is_read_and_removed_from_the_runs_scratch_space(
    tmp_path: Path, backend: Any
) -> None:
    run_dir, work_dir = tmp_path / "run-c", tmp_path / "work"
    (run_dir / "logs").mkdir(parents=True)
    work_dir.mkdir()
    paths = Paths(REPO, tmp_path, goenv.cache_dir(), run_dir, work_dir)
    ctx = RunContext(paths, Reporter(), Clock(), 7, backend.name)
    go = toolchains.provision("1.26", goenv.cache_dir())
    backend.prepare(go)
    settings = Settings(duration_s=0.1, timeout_s=60.0)
    plan = CellPlan(Cell("1.26"), settings, ("c_null_read",))
    built = build_cell(ctx, backend, go, plan, [FIXTURES["c_null_read"]])
    assert built.status == "ok", built.detail
    binary = built.binaries["c_null_read"]
    for i, keep in ((1, False), (2, True)):
        plan_i = replace(plan, settings=replace(settings, keep_core=keep))
        record = execute_fixture_run(ctx, backend, go, plan_i, FIXTURES["c_null_read"], binary, i)
        assert record.signature == "SIGSEGV in sdk_parse_header"
        assert not run_cwd(ctx, "go1.26-default", "c_null_read", i).exists()
        if symbolize.core_support(backend.name).available:
            assert record.c_backtrace_tool is not None  # a core was there and was read
    assert cores_under(work_dir / "scratch", tmp_path / "work") == []
    kept = cores_under(run_dir)
    if symbolize.core_support(backend.name).available:
        assert [p.name for p in kept] == ["c_null_read.2.core"]  # keep_core: beside the logs
    for core in kept:
        core.unlink()  # asked for by this test only: no core outlives it


def test_without_core_dumps_the_signature_still_names_the_c_function(tmp_path: Path) -> None:
    """gxm's own hard core limit at 0 (a host where cores cannot be had): no full backtrace,
    the fault frame from the binary still names the function, and doctor says why."""
    matrix = tmp_path / "matrix.yaml"
    text = textwrap.dedent(MATRIX.format(backend="local")).replace('"1.22", "1.26"', '"1.26"')
    matrix.write_text(text)
    out = tmp_path / "out"
    result = gxm("run", "--matrix", str(matrix), "--out", str(out), cwd=tmp_path, hard_core_limit=0)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    cell = json.loads((only_run_dir(out) / "cells" / "go1.26-default.json").read_text())
    for name, function in FUNCTION.items():
        (run,) = cell["fixtures"][name]["runs"]
        assert run["signature"] == f"SIGSEGV in {function}"
        assert run["c_backtrace_tool"] is None
        text = (only_run_dir(out) / run["c_backtrace"]).read_text()
        assert "no full backtrace: the hard core size limit of gxm's process is 0" in text
    doctor = gxm("doctor", "--matrix", str(matrix), cwd=tmp_path, hard_core_limit=0)
    assert doctor.returncode == 0, doctor.stderr
    (row,) = [line for line in doctor.stdout.splitlines() if "from cores (local)" in line]
    assert "unavailable: the hard core size limit of gxm's process is 0" in row
    assert cores_under(tmp_path) == []


def test_gxm_cell_shows_the_c_backtrace_of_the_first_failing_run(tmp_path: Path) -> None:
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(textwrap.dedent(MATRIX.format(backend="local")))
    out = tmp_path / "out"
    result = gxm(
        "cell", "go1.26-default", "--matrix", str(matrix), "--fixtures", "c_write_overflow",
        "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    shown = result.stderr.split("--- the C code that crashed — ", 1)[1]
    assert shown.startswith("logs/go1.26-default/c_write_overflow.0.c-backtrace.txt")
    assert "sdk_unmask_payload at " in shown and "c_write_overflow/main.go:19" in shown
    assert "crash 1/1 SIGSEGV in sdk_unmask_payload" in result.stdout
