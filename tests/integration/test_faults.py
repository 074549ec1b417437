"""The fault suite: hostile fixtures (tests/data/hostile_sdk) on both backends, and SIGKILL of gxm
at 20 seeded random moments of a small run followed by `--resume`.

Every check here is of something that went wrong before: a detached grandchild outliving its
run, a flood filling the disk, /tmp filling the host disk from a container, a fatal line lost
above a long dump, a huge integer crashing the harness, exit(137) read as SIGKILL, a secret
echoed into the results, gxm's own RSS reported as the fixture's, and runs, processes, containers
and work dirs lost or left behind by a killed gxm.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from gxm_process import REPO, gxm

from harness import goenv

pytestmark = pytest.mark.integration

HOSTILE_SDK = REPO / "tests" / "data" / "hostile_sdk"
SECRET = "tok-S3CRET-4711"
# program → the outcome it must end as (on both backends)
PROGRAMS = {
    "detach": "pass",
    "deafhang": "timeout",
    "flood": "pass",
    "tmpfill": "pass",
    "threadbomb": "crash",
    "hugeresult": "pass",
    "exit137": "crash",
    "selfkill": "crash",
    "envecho": "pass",
}
LOG_LIMIT_BYTES = 1 << 20


def hostile_matrix(tmp_path: Path, backend: str, memory: str, programs: dict[str, str]) -> Path:
    entries = "".join(
        f"  {name}:\n    module: {HOSTILE_SDK}\n    packages: ./cmd/{name}\n"
        f"    kind: stress\n    expected: {{'*': {outcome}}}\n"
        for name, outcome in programs.items()
    )
    path = tmp_path / "matrix.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        schema: 1
        backend: {backend}
        go: ["1.22"]
        goexperiment: [""]
        fixtures: [{", ".join(programs)}]
        defaults:
          repeats: 1
          duration: 300ms
          timeout: 6s
          grace: 1s
          memory: {memory}
          pids: 512
          log_limit: 1MiB
          env: {{MY_API_TOKEN: {SECRET}}}
        """)
        + "external:\n"
        + entries
    )
    return path


def runs_of(run_dir: Path) -> dict[str, dict[str, Any]]:
    """program → its first run record."""
    doc = json.loads((run_dir / "cells" / "go1.22-default.json").read_text())
    return {name.split("/")[0]: entry["runs"][0] for name, entry in doc["fixtures"].items()}


def only_run_dir(out: Path) -> Path:
    runs = [p for p in out.iterdir() if (p / "run.json").is_file()]
    assert len(runs) == 1, runs
    return runs[0]


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def work_dirs_of(run_id: str) -> list[Path]:
    return sorted((goenv.cache_dir() / "work").glob(f"{run_id}-*"))


def processes_in(paths: list[Path]) -> list[int]:
    """Live processes whose working directory or executable starts with one of `paths`."""
    roots = tuple(str(p) for p in paths)
    found = []
    for proc in psutil.process_iter(["pid", "cwd", "exe"]):
        where = (proc.info.get("cwd") or "", proc.info.get("exe") or "")
        if roots and any(w.startswith(roots) for w in where):
            found.append(proc.pid)
    return found


def cgroup_of(run_id: str) -> Path:
    return Path("/sys/fs/cgroup/freezer/gxm") / run_id


def assert_hostile_outcomes(run_dir: Path, programs: dict[str, str]) -> dict[str, dict[str, Any]]:
    runs = runs_of(run_dir)
    for name, outcome in programs.items():
        assert runs[name]["outcome"] == outcome, (name, runs[name])
    # a flood keeps its head and tail within the log limit, and says how much went
    flood_log = (run_dir / runs["flood"]["log"]).with_suffix(".stdout").read_bytes()
    assert len(flood_log) < LOG_LIMIT_BYTES + 200
    assert flood_log.startswith(b"flood: FIRST LINE\n") and flood_log.endswith(b"LAST LINE\n")
    assert runs["flood"]["log_bytes_dropped"] > 150 << 20
    # the fatal line at the top of megabytes of goroutine dump is the signature
    assert runs["threadbomb"]["signature"] == "fatal error: thread exhaustion"
    # a 5001-digit metric is a malformed result file of a run that passed, not a traceback
    assert runs["hugeresult"]["result_status"] == "malformed"
    # exit(137) is an exit status; a SIGKILL is a signal
    assert (runs["exit137"]["exit_code"], runs["exit137"]["signal"]) == (137, None)
    assert (runs["selfkill"]["exit_code"], runs["selfkill"]["signal"]) == (None, 9)
    # a secret echoed back is masked in the results and the logs; no host environment leaks
    cell_text = (run_dir / "cells" / "go1.22-default.json").read_text()
    assert SECRET not in cell_text
    assert SECRET not in (run_dir / runs["envecho"]["log"]).read_text()
    env = runs["envecho"]["checks"]["env"]
    # what gxm sets (GODEBUG: gctrace=1, the GC figures of a program without gxm's probe), the
    # matrix's env, and what the image or the container adds (GOROOT, HOSTNAME)
    allowed = {"PATH", "HOME", "TMPDIR", "LANG", "GOTRACEBACK", "GODEBUG", "MY_API_TOKEN"}
    allowed |= {"GOROOT", "HOSTNAME"}
    assert {k for k in env if not k.startswith("GXM_")} <= allowed, env
    assert env["MY_API_TOKEN"] == "***"
    assert env.get("GODEBUG", "gctrace=1") == "gctrace=1", env
    # the peak RSS of a tiny program is its own, never gxm's
    for name in ("exit137", "selfkill"):
        peak = runs[name]["peak_rss_bytes"]
        assert peak is None or peak < 64 << 20, (name, peak)
    return runs


def test_hostile_fixtures_on_the_local_backend(tmp_path: Path) -> None:
    matrix = hostile_matrix(tmp_path, "local", "512MiB", PROGRAMS)
    result = gxm("run", "--matrix", str(matrix), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_dir = only_run_dir(tmp_path / "out")
    runs = assert_hostile_outcomes(run_dir, PROGRAMS)
    assert not alive(int(runs["detach"]["checks"]["grandchild_pid"]))
    assert not work_dirs_of(run_dir.name)
    assert not cgroup_of(run_dir.name).exists()


def test_hostile_fixtures_on_the_docker_backend(tmp_path: Path) -> None:
    # filling TMPDIR fills the container's memory (a tmpfs), so it ends as oom, never on disk
    programs = {**PROGRAMS, "tmpfill": "oom"}
    matrix = hostile_matrix(tmp_path, "docker", "128MiB", programs)
    result = gxm("run", "--matrix", str(matrix), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_dir = only_run_dir(tmp_path / "out")
    runs = assert_hostile_outcomes(run_dir, programs)
    # untrusted code: no capabilities, no privileges gained through exec
    privileges = runs["envecho"]["checks"]["privileges"]
    assert privileges == {"CapEff": "0000000000000000", "NoNewPrivs": "1"}
    # TMPDIR is a tmpfs inside the container (it was a bind mount: 1.5 GB onto the host disk)
    assert runs["tmpfill"]["checks"]["tmpdir_fs"] == "tmpfs"
    import docker

    client = docker.from_env()
    try:
        left = client.containers.list(all=True, filters={"label": f"dev.gxm.run={run_dir.name}"})
    finally:
        client.close()
    assert left == []


# --- SIGKILL of gxm at random moments, then --resume ------------------------------------------

KILLS = 20
NAP_REPEATS = 16  # with --jobs 2, gxm got through 6 so fast that only 9 of 20 kills landed


def start_gxm(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "harness", *args],
        cwd=cwd,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def wait_for(path: Path, proc: subprocess.Popen[str], within_s: float = 120) -> None:
    deadline = time.monotonic() + within_s
    while not path.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)


def every_file_parses(run_dir: Path) -> None:
    for path in [run_dir / "run.json", *(run_dir / "cells").glob("*.json")]:
        json.loads(path.read_text())  # a killed gxm leaves whole files only
    journal = run_dir / "journal.jsonl"  # appended per run: only a last line may be cut short
    if journal.exists():
        for line in journal.read_text().split("\n")[:-1]:
            json.loads(line)


@pytest.fixture
def killed_runs() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:  # only the gxm processes this test started, by their pid
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigkill_at_20_random_moments_then_resume_loses_and_leaves_nothing(
    tmp_path: Path, killed_runs: list[subprocess.Popen[str]]
) -> None:
    programs = {"nap": "pass", "detach": "pass"}
    matrix = hostile_matrix(tmp_path, "local", "256MiB", programs)
    # runs long enough that most of the 20 kills land while gxm still has work, however fast the
    # machine: a quiet one finished 8 runs of 300 ms before half the kills (9 of 20 landed)
    text = matrix.read_text().replace("repeats: 1", f"repeats: {NAP_REPEATS}")
    matrix.write_text(text.replace("duration: 300ms", "duration: 1s"))
    out = tmp_path / "out"
    rng = random.Random(20261130)
    # two runs at a time, so most kills land with several runs in flight
    first = start_gxm(
        "run", "--matrix", str(matrix), "--out", str(out), "--jobs", "2", cwd=tmp_path
    )
    killed_runs.append(first)
    wait_for(out, first)
    run_json = next(iter(out.glob("*/run.json")), None)
    while run_json is None and first.poll() is None:
        time.sleep(0.02)
        run_json = next(iter(out.glob("*/run.json")), None)
    assert run_json is not None, first.stderr.read() if first.stderr else ""
    run_dir = run_json.parent
    proc, landed = first, 0
    for kill in range(KILLS):
        if kill:
            proc = start_gxm(
                "run", "--resume", run_dir.name, "--out", str(out), "--jobs", "2", cwd=tmp_path
            )
            killed_runs.append(proc)
        time.sleep(rng.uniform(0.0, 3.0))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            landed += 1
        proc.wait()
        every_file_parses(run_dir)
    assert landed >= KILLS // 2  # most kills hit a gxm at work, not one already done
    final = gxm("run", "--resume", run_dir.name, "--out", str(out), cwd=tmp_path)
    assert final.returncode == 0, final.stderr[-3000:]
    every_file_parses(run_dir)
    assert not (run_dir / "journal.jsonl").exists()  # every run is in its cell document now
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "complete"
    assert run["command"][:2] == ["gxm", "run"] and "--resume" not in run["command"]
    assert len(run.get("resumed", [])) >= 1
    doc = json.loads((run_dir / "cells" / "go1.22-default.json").read_text())
    for name in ("nap", "detach"):
        indices = sorted(r["i"] for r in doc["fixtures"][name]["runs"])
        assert indices == list(range(NAP_REPEATS)), (name, indices)  # each run exactly once
    grandchildren = [int(r["checks"]["grandchild_pid"]) for r in doc["fixtures"]["detach"]["runs"]]
    assert not [pid for pid in grandchildren if alive(pid)]
    assert not work_dirs_of(run_dir.name)
    assert not processes_in([goenv.cache_dir() / "work" / f"{run_dir.name}-", out])
    assert not cgroup_of(run_dir.name).exists() or not any(cgroup_of(run_dir.name).iterdir())


def test_sigkill_during_a_docker_run_then_resume_removes_its_container(
    tmp_path: Path, killed_runs: list[subprocess.Popen[str]]
) -> None:
    """SIGKILL of gxm left its container `Up` 26 s later; `--resume` neither reaped nor reported
    it. Now the resume takes over the dead gxm's lock and removes the container by its label."""
    import docker

    matrix = hostile_matrix(tmp_path, "docker", "256MiB", {"nap": "pass"})
    matrix.write_text(matrix.read_text().replace("duration: 300ms", "duration: 20s"))
    matrix.write_text(matrix.read_text().replace("timeout: 6s", "timeout: 60s"))
    out = tmp_path / "out"
    proc = start_gxm("run", "--matrix", str(matrix), "--out", str(out), cwd=tmp_path)
    killed_runs.append(proc)
    client = docker.from_env()
    try:
        deadline, running = time.monotonic() + 300, []
        while not running and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
            run_ids = [p.name for p in out.glob("*") if (p / "run.json").is_file()]
            if run_ids:
                label = f"dev.gxm.run={run_ids[0]}"
                found = client.containers.list(filters={"label": label, "status": "running"})
                running = [c for c in found if ".nap-" in c.name]  # the run's, not the build's
        assert running, "no container of the run started"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        run_id = run_ids[0]
        assert client.containers.list(filters={"label": f"dev.gxm.run={run_id}"})  # orphaned
        resumed = gxm("run", "--resume", run_id, "--out", str(out), cwd=tmp_path)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert "took over the lock" in resumed.stderr, resumed.stderr
        assert "removed 1 containers" in resumed.stderr, resumed.stderr  # ended and reported
        left = client.containers.list(all=True, filters={"label": f"dev.gxm.run={run_id}"})
        assert left == []
        # the engine died under a live gxm and came back: its exited container stays behind;
        # the next docker run removes it (its gxm is gone) and says so
        dead = subprocess.Popen(["true"])
        dead.wait()
        image = client.images.list(filters={"label": "dev.gxm.role=toolchain"})[0]
        labels = {"dev.gxm": "1", "dev.gxm.run": run_id, "dev.gxm.session": f"{dead.pid}-dead"}
        stale = client.containers.create(image.id, ["true"], labels=labels)
        again = gxm("run", "--resume", run_id, "--out", str(out), cwd=tmp_path)
        assert again.returncode == 0, again.stderr[-3000:]
        assert "containers of dead gxm runs" in again.stderr and stale.name in again.stderr
        left = client.containers.list(all=True, filters={"label": f"dev.gxm.run={run_id}"})
        assert left == []
    finally:
        client.close()
    assert not work_dirs_of(run_id)
