"""One sample per poll of a local run's processes: membership and memory (no Go)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.backends import procsample
from harness.backends.limits import POLL_INTERVAL_MAX_S, POLL_INTERVAL_S, next_poll_s

HOLD = "import time; b = b'x' * (60 << 20); print('ready', flush=True); time.sleep(60)"


@contextlib.contextmanager
def tree_holding_60_mib() -> Iterator[subprocess.Popen[bytes]]:
    """sh → python holding 60 MiB, started and ready; its whole group killed at the end."""
    script = f'"{sys.executable}" -c "{HOLD}"; true'
    proc = subprocess.Popen(["sh", "-c", script], stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]


def test_a_tree_sample_has_every_descendant_and_their_memory() -> None:
    with tree_holding_60_mib() as proc:
        found = procsample.sample(proc.pid, None)
        assert found.pids[0] == proc.pid and len(found.pids) == 2
        assert found.rss_bytes >= 60 << 20  # the child's bytes count
        assert 0 < found.leader_peak_rss_bytes < 60 << 20  # the leader's own (sh)


def test_a_cgroup_sample_is_its_members(tmp_path: Path) -> None:
    """Where the run has a cgroup, membership is the cgroup's (whatever the tree looks like: a
    process that left it by setsid and a double fork is still in its cgroup). A plain directory
    stands in for the cgroup here; the real ones are exercised by test_local_backend."""
    with tree_holding_60_mib() as proc:
        cgroup = tmp_path / "cg"
        cgroup.mkdir()
        (cgroup / "cgroup.procs").write_text(f"{proc.pid}\n")  # the sh alone
        found = procsample.sample(proc.pid, cgroup)
        assert found.pids == (proc.pid,) and found.rss_bytes < 60 << 20
        (cgroup / "cgroup.procs").write_text("")  # gone: nothing to sample
        assert procsample.sample(proc.pid, cgroup) == procsample.Sample((), 0, 0)


def test_a_process_that_is_gone_has_no_members() -> None:
    proc = subprocess.Popen(["true"])
    proc.wait()
    time.sleep(0.01)
    assert procsample.descendants(proc.pid) == []
    assert procsample.sample(proc.pid, None).rss_bytes == 0


def test_polling_backs_off_for_a_quiet_long_run() -> None:
    assert next_poll_s(POLL_INTERVAL_S, 0.1, 0.0, None) == POLL_INTERVAL_S
    assert next_poll_s(POLL_INTERVAL_S, 60.0, 0.0, 1 << 30) == POLL_INTERVAL_MAX_S
    assert POLL_INTERVAL_S < next_poll_s(POLL_INTERVAL_S, 1.0, 0.0, None) < POLL_INTERVAL_MAX_S


@pytest.mark.parametrize("elapsed_s", [0.1, 5.0, 600.0])
def test_memory_growing_toward_the_limit_keeps_the_short_poll(elapsed_s: float) -> None:
    """A run allocating 1 GB/s with 300 MB left is sampled every POLL_INTERVAL_S, however old."""
    assert next_poll_s(POLL_INTERVAL_S, elapsed_s, 1e9, 300e6) == POLL_INTERVAL_S
    assert next_poll_s(POLL_INTERVAL_S, elapsed_s, 1e9, -1.0) == POLL_INTERVAL_S  # over it


def test_a_faster_base_interval_is_never_slowed() -> None:
    assert next_poll_s(0.01, 0.01, 0.0, None) == 0.01
    assert next_poll_s(1.0, 600.0, 0.0, None) == 1.0
