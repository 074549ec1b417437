"""A user's test suite through the matrix: tests/data/sdk_tests (a cgo SDK with tests and
benchmarks, requiring a second module served by a file:// GOPROXY made here) on Go 1.22 and 1.26
x {default, arenas, cgocheck2}, on the local and the Docker backend. Lean: one run per package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from goproxy import add_module, proxy_url
from gxm_process import gxm

from harness import benchfmt

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SDK = REPO / "tests" / "data" / "sdk_tests"
DEP = REPO / "tests" / "data" / "sdk_dep"
CELLS = [f"go{go}-{exp}" for go in ("1.22", "1.26") for exp in ("default", "arenas", "cgocheck2")]

MATRIX = f"""
    schema: 1
    go: ["1.22", "1.26"]
    goexperiment: ["", arenas, cgocheck2]
    fixtures: [sdk, bench]
    defaults: {{repeats: 1, timeout: 60s}}
    external:
      sdk:
        module: {SDK}
        command: test
        packages: ./...
        short: true
        timeout: 4s
        expected:
          "*": [pass, fail, timeout, unsupported]
          arenas: [pass, fail, timeout, crash]
          cgocheck2: [pass, fail, timeout, crash, unsupported]
      bench:
        module: {SDK}
        command: bench
        packages: .
        benchtime: 5x
"""
# package -> cell -> (outcome, signature); a signature names the test at fault.
WANT = {
    "sdk": {cell: ("pass", None) for cell in CELLS},
    "sdk/failing": {cell: ("fail", "FAIL: TestReportsWrongVersion") for cell in CELLS},
    "sdk/hang": {
        cell: ("timeout", "TestWaitsInC: panic: test timed out after 4s") for cell in CELLS
    },
    "sdk/cgoptr": {
        cell: (
            (
                "crash",
                "TestStoreGoPointerInC: fatal error: unpinned Go pointer stored into non-Go memory",
            )
            if cell.endswith("cgocheck2")
            else ("pass", None)
        )
        for cell in CELLS
    },  # fmt: skip
    "sdk/arena": {
        cell: (
            (
                "crash",
                "TestReadsFreedArena: fatal error: fault (accessed data from freed user "
                "arena) [SIGSEGV]",
            )
            if cell.endswith("arenas")
            else ("unsupported", None)
        )
        for cell in CELLS
    },  # fmt: skip
    "sdk/otheros": {cell: ("unsupported", None) for cell in CELLS},  # *_windows_test.go only
    "bench": {cell: ("pass", None) for cell in CELLS},
}


def outcomes(run_dir: Path) -> dict[str, dict[str, tuple[str, str | None]]]:
    found: dict[str, dict[str, tuple[str, str | None]]] = {}
    for path in sorted((run_dir / "cells").glob("*.json")):
        doc = json.loads(path.read_text())
        assert doc["schema"] == "gxm.cell/2"
        for name, entry in doc["fixtures"].items():
            runs = [r for r in entry["runs"] if not r.get("warmup")]
            got = (entry["status"], None) if entry["status"] != "ran" else (
                runs[0]["outcome"], runs[0]["signature"]
            )  # fmt: skip
            found.setdefault(name, {})[doc["cell"]["id"]] = got
    return found


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("goproxy")
    add_module(root, DEP, "example.com/sdkdep", "v1.0.0")
    return {**os.environ, "GOPROXY": proxy_url(root), "GONOSUMDB": "example.com/sdkdep"}


@pytest.mark.parametrize("backend", ["local", "docker"])
def test_sdk_test_suite_across_the_matrix(
    tmp_path: Path, proxy: dict[str, str], backend: str
) -> None:
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(textwrap.dedent(MATRIX))
    listed = gxm("list", "--matrix", str(matrix), cwd=tmp_path)
    assert "no test files (skipped): ./util" in listed.stdout, listed.stdout
    assert "sdk/cgoptr                     ./cgoptr  (go test -c)" in listed.stdout
    module_files = [(SDK / n).read_bytes() for n in ("go.mod", "go.sum")]
    out = tmp_path / "out"
    result = gxm(
        "run", "--matrix", str(matrix), "--out", str(out), "--backend", backend,
        cwd=tmp_path, env=proxy,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    assert outcomes(run_dir) == WANT
    cell = json.loads((run_dir / "cells" / "go1.26-cgocheck2.json").read_text())
    crash_run = cell["fixtures"]["sdk/cgoptr"]["runs"][0]
    assert crash_run["tests"] == {"TestBeforeTheStore": "pass", "TestStoreGoPointerInC": "crash"}
    golden = cell["fixtures"]["sdk"]["runs"][0]["tests"]  # read testdata/ in the package dir
    assert golden["TestGolden"] == "pass" and golden["TestReverseUsesTheSecondModule"] == "pass"
    # The Tests section: k/n per cell and the signature, in the printed report.
    tests_section = result.stdout.split("\nTests\n", 1)[1].split("\nGC pauses\n", 1)[0]
    assert "sdk/failing  TestReportsWrongVersion" in tests_section
    assert "crash 1/1" in tests_section and "fail 1/1" in tests_section
    assert "Benchmarks" in tests_section and "cgocalls/op" in tests_section
    reason = cell["fixtures"]["sdk/otheros"]["reason"]
    assert reason == "go wrote no binary for ./otheros (no test files in this cell)"
    _check_bench_txt(run_dir / "bench.txt")
    _check_junit(run_dir / "junit.xml")
    assert [(SDK / n).read_bytes() for n in ("go.mod", "go.sum")] == module_files
    assert not (SDK / "vendor").exists()


def _check_bench_txt(path: Path) -> None:
    """bench.txt read back by the benchmark format's grammar: every Benchmark line of the test
    binary keeps its name and units, under goversion and goexperiment configuration."""
    with path.open() as handle:
        parsed = benchfmt.parse_file(handle)
    from_tests = [(c, r) for c, r in parsed.results if r.name.startswith("BenchmarkChecksum4K")]
    assert len(from_tests) == len(CELLS)
    assert {(c["goversion"][:6], c["goexperiment"]) for c, _ in from_tests} == {
        (cell.split("-")[0], cell.split("-")[1]) for cell in CELLS
    }
    units = [unit for _, unit in from_tests[0][1].values]
    assert units == ["ns/op", "MB/s", "cgocalls/op", "B/op", "allocs/op"]
    assert "gc-pause-p99-ns" in parsed.units  # the gctrace figures, as gxm's own lines


def _check_junit(path: Path) -> None:
    root = ET.parse(path).getroot()
    cases = [
        (case.get("classname"), case.get("name"))
        for case in root.iter("testcase")
        if case.get("name") == "TestReportsWrongVersion"
    ]
    assert sorted(cases) == sorted(
        (f"gxm.{cell.replace('.', '_')}.sdk.failing", "TestReportsWrongVersion") for cell in CELLS
    )


def test_undownloadable_dependency_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    module = tmp_path / "mod"
    module.mkdir()
    (module / "go.mod").write_text(
        "module example.com/user\n\ngo 1.21\n\nrequire example.com/nothere v0.1.0\n"
    )
    (module / "user_test.go").write_text(
        'package user\n\nimport "testing"\n\nfunc TestX(t *testing.T) {}\n'
    )
    empty_proxy = tmp_path / "proxy"
    empty_proxy.mkdir()
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(
        textwrap.dedent(f"""
        schema: 1
        backend: local
        go: ["1.22"]
        fixtures: [user]
        external:
          user: {{module: {module}, command: test}}
    """)
    )
    out = tmp_path / "out"
    env = {**os.environ, "GOPROXY": proxy_url(empty_proxy), "GONOSUMDB": "example.com"}
    result = gxm("run", "--matrix", str(matrix), "--out", str(out), cwd=tmp_path, env=env)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if "cannot download" in line]
    assert len(lines) == 1, result.stderr
    assert "example.com/nothere@v0.1.0" in lines[0] and proxy_url(empty_proxy) in lines[0]
    assert "Traceback" not in result.stderr
    assert not out.exists() or list(out.iterdir()) == []
    assert sorted(p.name for p in module.iterdir()) == ["go.mod", "user_test.go"]


def test_gxm_cell_prints_the_go_test_line_and_the_failing_test_invocation(
    tmp_path: Path, proxy: dict[str, str]
) -> None:
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(textwrap.dedent(MATRIX))
    result = gxm(
        "cell", "go1.22-default", "--matrix", str(matrix), "--out", str(tmp_path / "out"),
        "--backend", "local", "--fixtures", "sdk/failing", cwd=tmp_path, env=proxy,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    tail = result.stderr.split("reproduce the tests of sdk/failing that did not pass:", 1)[1]
    build_line, run_line = [line.strip() for line in tail.strip().splitlines()[:2]]
    assert " test -c -o " in build_line and build_line.endswith(" ./failing)")
    assert run_line.startswith(f"(cd {SDK / 'failing'} && ")
    assert "failing.test -test.v '-test.run=^TestReportsWrongVersion$'" in run_line
    assert run_line.endswith("-test.short)  # fail")
    # The printed lines do reproduce it: build, then run the one test by hand.
    user_env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", str(tmp_path))}
    out_dir = Path(build_line.split(" -o ", 1)[1].split()[0])  # <cache>/work/<run>/bin/<cell>/0/
    work_dir = out_dir.parents[2]
    assert work_dir.parent.name == "work" and not work_dir.exists()  # gxm removed its own
    try:
        built = subprocess.run(
            ["bash", "-c", build_line], capture_output=True, text=True, env=user_env
        )
        assert built.returncode == 0, built.stderr
        ran = subprocess.run(
            ["bash", "-c", run_line.split("  #")[0]], capture_output=True, text=True
        )
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)  # what the reproduction itself made
    assert ran.returncode == 1 and "--- FAIL: TestReportsWrongVersion" in ran.stdout
    assert "TestAddsUp" not in ran.stdout
