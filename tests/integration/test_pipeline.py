"""End to end on the local backend: real toolchains, real go build, real fixture processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from gxm_process import gxm

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXTERNAL_SDK = REPO / "tests" / "data" / "external_sdk"


def write_matrix(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "matrix.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def cell_doc(run_dir: Path, cell_id: str) -> dict:
    return json.loads((run_dir / "cells" / f"{cell_id}.json").read_text())


def only_run_dir(out: Path) -> Path:
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def test_two_versions_two_experiments_give_tables_and_results(tmp_path: Path) -> None:
    matrix = write_matrix(
        tmp_path,
        """
        schema: 1
        backend: local
        go: ["1.22", "1.26"]
        goexperiment: ["", arenas]
        fixtures: [cmem_finalizer, gc_small_objects]
        defaults:
          repeats: 1
          duration: 300ms
          timeout: 60s
    """,
    )
    result = gxm("run", "--matrix", str(matrix), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    run_dir = only_run_dir(tmp_path / "out")
    run = json.loads((run_dir / "run.json").read_text())
    assert run["schema"] == "gxm.run/1" and run["status"] == "complete"
    assert sorted(run["cells"]) == [
        "go1.22-arenas",
        "go1.22-default",
        "go1.26-arenas",
        "go1.26-default",
    ]
    arenas = cell_doc(run_dir, "go1.22-arenas")
    assert arenas["cell"]["go_resolved"].startswith("1.22.")
    assert arenas["cell"]["effective_experiments"] == ["arenas"]
    bench = arenas["fixtures"]["gc_small_objects"]
    assert bench["runs"][0]["outcome"] == "pass"
    assert bench["runs"][0]["metrics"]["gc_cycles"] > 0
    assert (run_dir / bench["runs"][0]["log"]).is_file()
    assert "cmem_finalizer" in result.stdout and "gc_small_objects" in result.stdout
    assert "pass 1/1" in result.stdout


def test_experiment_unknown_to_toolchain_is_unsupported_and_exits_zero(tmp_path: Path) -> None:
    matrix = write_matrix(
        tmp_path,
        """
        schema: 1
        backend: local
        go: ["1.22"]
        goexperiment: [greenteagc]
        fixtures: [cmem_finalizer]
        defaults: {repeats: 1, duration: 200ms}
    """,
    )
    result = gxm("run", "--matrix", str(matrix), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    doc = cell_doc(only_run_dir(tmp_path / "out"), "go1.22-greenteagc")
    assert doc["build"]["status"] == "unsupported"
    assert doc["fixtures"]["cmem_finalizer"]["status"] == "unsupported"
    assert doc["fixtures"]["cmem_finalizer"]["verdict"] == "expected"
    assert "unsupported" in result.stdout


EXTERNAL_MATRIX = f"""
    schema: 1
    backend: local
    go: ["1.22"]
    goexperiment: [""]
    fixtures: [hangs, hogs, panics]
    defaults: {{repeats: 1, duration: 200ms, timeout: 4s, grace: 3s, memory: 256MiB}}
    external:
      hangs:
        module: {EXTERNAL_SDK}
        packages: ./cmd/hang
        kind: stress
        expected: {{"*": timeout}}
      hogs:
        module: {EXTERNAL_SDK}
        packages: ./cmd/hog
        kind: stress
        expected: {{"*": oom}}
      panics:
        module: {EXTERNAL_SDK}
        packages: ./cmd/panicker
        kind: stress
        expected: {{"*": crash}}
"""


def test_external_fixtures_end_as_timeout_oom_and_crash(tmp_path: Path) -> None:
    matrix = write_matrix(tmp_path, EXTERNAL_MATRIX)
    result = gxm("run", "--matrix", str(matrix), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    run_dir = only_run_dir(tmp_path / "out")
    fixtures = cell_doc(run_dir, "go1.22-default")["fixtures"]
    hang = fixtures["hangs"]["runs"][0]
    assert hang["outcome"] == "timeout"
    dump = (run_dir / hang["log"]).read_text()
    assert "SIGQUIT: quit" in dump and "goroutine " in dump
    assert fixtures["hogs"]["runs"][0]["outcome"] == "oom"
    crash = fixtures["panics"]["runs"][0]
    assert crash["outcome"] == "crash"
    assert crash["signature"].startswith("panic: runtime error: invalid memory address")


DEFECTS_MATRIX = f"""
    schema: 1
    backend: local
    go: ["1.22"]
    goexperiment: ["", arenas]
    fixtures: [mains]
    defaults: {{repeats: 1, duration: 200ms, timeout: 60s}}
    external:
      mains:
        module: {EXTERNAL_SDK}
        packages: ./cmd/...
        expected: {{"*": [pass, crash, corrupt, unsupported]}}
"""


def test_exit_3_is_corrupt_and_one_excluded_package_leaves_the_others_running(
    tmp_path: Path,
) -> None:
    """A user's program exiting 3 with its own message is `corrupt` (not `crash`), and an
    arena-only package is `unsupported` in the default cell while every other package runs."""
    matrix = write_matrix(tmp_path, DEFECTS_MATRIX)
    result = gxm(
        "run", "--matrix", str(matrix), "--out", str(tmp_path / "out"),
        "--fixtures", "mains/corrupter,mains/arenaonly,mains/panicker", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    run_dir = only_run_dir(tmp_path / "out")
    default = cell_doc(run_dir, "go1.22-default")
    assert default["build"]["status"] == "ok"
    fixtures = default["fixtures"]
    corrupt = fixtures["mains/corrupter"]["runs"][0]
    assert corrupt["outcome"] == "corrupt"
    assert corrupt["signature"] == "checksum mismatch in block N: got N, want N"
    arena = fixtures["mains/arenaonly"]
    assert arena["status"] == "unsupported" and arena["runs"] == []
    assert "build constraints exclude all Go files in ./cmd/arenaonly" in arena["reason"]
    assert fixtures["mains/panicker"]["runs"][0]["outcome"] == "crash"
    arenas = cell_doc(run_dir, "go1.22-arenas")["fixtures"]
    assert arenas["mains/arenaonly"]["runs"][0]["outcome"] == "pass"


def _gxm_descendants_alive(marker: str) -> list[psutil.Process]:
    alive = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if marker in cmdline:
            alive.append(proc)
    return alive


def _hang_processes() -> list[psutil.Process]:
    return [
        p
        for p in psutil.process_iter(["cmdline"])
        if p.info["cmdline"] and p.info["cmdline"][0].endswith("/hang")
    ]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_leaves_no_process_and_only_whole_json(tmp_path: Path, signum: int) -> None:
    matrix = write_matrix(tmp_path, EXTERNAL_MATRIX.replace("timeout: 4s", "timeout: 120s"))
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness",
            "run",
            "--matrix",
            str(matrix),
            "--out",
            str(out),
            "--fixtures",
            "hangs",
            "--seed",
            "1",
            "--repeats",
            "2",
            "--jobs",
            "2",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if out.exists() and len(_hang_processes()) >= 2:  # two runs in flight
            break
        if proc.poll() is not None:
            pytest.fail(f"gxm ended before the fixture started: {proc.communicate()[1][-2000:]}")
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the hanging fixture never started")
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr[-2000:]
    run_dir = only_run_dir(out)
    assert _gxm_descendants_alive(str(run_dir.name)) == []
    assert _hang_processes() == []
    for path in run_dir.rglob("*.json"):
        json.loads(path.read_text())
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
    assert not list(run_dir.rglob("*.tmp*"))
    # the runs Ctrl-C killed are not results (never a `crash` by SIGKILL): resume redoes them
    assert cell_doc(run_dir, "go1.22-default")["fixtures"]["hangs"]["runs"] == []
