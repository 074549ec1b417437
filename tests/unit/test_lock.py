"""store/lock.py: one writer per run directory; a dead writer's lock is taken over and what it
left (processes, work dirs) is ended and reported."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from harness.errors import UsageError
from harness.store.lock import Owner, RunLock, end_leftovers, mark_work_dir, sweep_abandoned

RUN_ID = "20260101T000000Z-beef"


def dead_owner(run_id: str = RUN_ID) -> Owner:
    """An owner record of a gxm that has exited (a real, reaped child's pid and start time)."""
    child = subprocess.Popen(["true"])
    started = psutil.Process(child.pid).create_time()
    child.wait()
    return Owner(child.pid, started, socket.gethostname(), run_id, "local")


@pytest.fixture
def sleeper() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()


def test_a_second_writer_is_refused_with_the_owner_named(tmp_path: Path) -> None:
    """Two `gxm run --resume latest` at once both ran the same missing runs."""
    with RunLock(tmp_path, Owner.me(RUN_ID)), pytest.raises(UsageError) as refused:
        RunLock(tmp_path, replace(Owner.me(RUN_ID), pid=1)).acquire()
    message = str(refused.value)
    assert f"gxm pid {os.getpid()} on {socket.gethostname()}" in message
    assert len(message.splitlines()) == 1


def test_a_released_lock_is_free_and_not_stale(tmp_path: Path) -> None:
    with RunLock(tmp_path, Owner.me(RUN_ID)):
        pass
    lock = RunLock(tmp_path, Owner.me(RUN_ID))
    assert lock.acquire() is None
    lock.release()


def test_a_dead_writers_lock_is_taken_over(tmp_path: Path) -> None:
    dead = dead_owner()
    (tmp_path / ".gxm-lock").write_text(json.dumps(dead.__dict__))
    lock = RunLock(tmp_path, Owner.me(RUN_ID))
    assert lock.acquire() == dead
    lock.release()


def test_what_a_dead_gxm_left_is_ended_and_reported(
    tmp_path: Path, sleeper: list[subprocess.Popen[bytes]]
) -> None:
    """SIGKILL of gxm left its fixture running and its work dir (39 MB) under the cache."""
    dead = dead_owner()
    work_dir = tmp_path / "cache" / "work" / f"{RUN_ID}-x1"
    (work_dir / "scratch").mkdir(parents=True)
    mark_work_dir(work_dir, dead)
    fixture = subprocess.Popen(["sleep", "300"], cwd=work_dir / "scratch")
    sleeper.append(fixture)
    time.sleep(0.1)
    lines = end_leftovers(dead, tmp_path / "cache")
    assert fixture.wait(timeout=10) == -9
    assert not work_dir.exists()
    assert any(f"{fixture.pid}" in line for line in lines)
    assert any("removed work dirs" in line for line in lines)


def test_the_next_run_removes_work_dirs_of_dead_gxms_only(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    dead_dir, live_dir = cache / "work" / f"{RUN_ID}-a", cache / "work" / "20260101T000001Z-0000-b"
    for directory in (dead_dir, live_dir):
        directory.mkdir(parents=True)
    mark_work_dir(dead_dir, dead_owner())
    mark_work_dir(live_dir, Owner.me("20260101T000001Z-0000"))
    reports = sweep_abandoned(cache)
    assert not dead_dir.exists() and live_dir.exists()
    assert len(reports) == 1 and RUN_ID in reports[0]
