"""One cheap sample per poll of the processes a local run consists of and of their memory.

The local backend polls every running process for its memory limit. Asking psutil for a process
tree walks all of /proc (every process's stat file) each time, and the backend used to do it twice
per poll: 2 ms of gxm CPU every 50 ms, competing with the fixture for the same cores. A sample here
reads the membership once -- the process's own cgroup (`cgroup.procs`, one file, and it also holds
what left the process group) where containment made one, else one walk of /proc -- and takes each
member's RSS from its `statm` (the leader's from `status`, which also gives its VmHWM).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
PROC = Path("/proc")


@dataclass(frozen=True)
class Sample:
    """A run's processes at one moment: their pids (leader first), the sum of their RSS, and
    the leader's peak RSS since its exec (VmHWM; 0 when unknown)."""

    pids: tuple[int, ...]
    rss_bytes: int
    leader_peak_rss_bytes: int


def cgroup_members(cgroup: Path) -> list[int]:
    """The pids in `cgroup` ([] when it is gone or unreadable)."""
    try:
        return [int(line) for line in (cgroup / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _parent_pid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read()
        return int(text.rsplit(b")", 1)[1].split()[1])  # `pid (comm) state ppid ...`
    except (OSError, ValueError, IndexError):
        return None


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it now, from one walk of /proc ([pid] alone when /proc
    cannot be read; [] when `pid` is gone)."""
    try:
        names = os.listdir(PROC)
    except OSError:
        return [pid]
    children: dict[int, list[int]] = {}
    alive = False
    for name in names:
        if not name.isdigit():
            continue
        child = int(name)
        alive = alive or child == pid
        parent = _parent_pid(child)
        if parent is not None:
            children.setdefault(parent, []).append(child)
    if not alive:
        return []
    found = [pid]
    for member in found:  # grows while it is walked: breadth first
        found += children.get(member, [])
    return found


def _statm_rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * PAGE_BYTES
    except (OSError, ValueError, IndexError):
        return 0


def _leader_rss_and_peak_bytes(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of `pid` from one read of its status file; zeros when unknown (a zombie
    has neither)."""
    rss = peak = 0
    with (
        contextlib.suppress(OSError, ValueError, IndexError),
        open(f"/proc/{pid}/status", "rb") as handle,
    ):
        for line in handle:
            if line.startswith(b"VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith(b"VmHWM:"):
                peak = int(line.split()[1]) * 1024
    return rss, peak


def sample(leader: int, cgroup: Path | None) -> Sample:
    """The processes of the run led by `leader` (the members of `cgroup` when it holds the run,
    else the leader's process tree) and their memory; processes that vanish meanwhile count 0."""
    if cgroup is not None:
        members = cgroup_members(cgroup)
        pids = [leader, *(p for p in members if p != leader)] if members else []
    else:
        pids = descendants(leader)
    if not pids:
        return Sample((), 0, 0)
    rss, peak = _leader_rss_and_peak_bytes(leader) if pids[0] == leader else (0, 0)
    rss += sum(_statm_rss_bytes(pid) for pid in pids[1:])
    return Sample(tuple(pids), rss, peak)
