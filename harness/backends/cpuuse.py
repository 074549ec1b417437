"""How much CPU the rest of the host used while one local run ran: the machine's noise, with
gxm's own work and its runs' taken out.

The 1-minute load average cannot tell this: gxm's own runs make it. A run of a bench fixture keeps
GOMAXPROCS threads busy, so back-to-back bench runs alone on a quiet 2-CPU machine hold the load
average at about 2, and the stress runs before them (two at a time) leave it at 3-4 for a minute.

Here a mark is the host's busy CPU time (/proc/stat: every CPU's time in user, nice, system, irq,
softirq and steal, the last being what the hypervisor gave other guests) beside the CPU time of
gxm itself (every thread) and of the children it has reaped. Between two marks around a run that
ran alone and was reaped before the second, busy time less gxm's and its children's is what
everything else took. /proc/stat counts in clock ticks (10 ms), so the figure is good to a few
ticks; below zero reads as zero.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

PROC_STAT = Path("/proc/stat")
BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user nice system (idle iowait) irq softirq steal


@dataclass(frozen=True)
class CpuMark:
    """CPU seconds so far: the host's busy time, and gxm's own plus its reaped children's."""

    host_busy_s: float
    gxm_s: float


def _host_busy_s(stat: Path) -> float | None:
    try:
        with open(stat, "rb") as handle:
            first = handle.readline().split()
        ticks = [int(first[1 + k]) for k in BUSY_FIELDS]
    except (OSError, ValueError, IndexError):
        return None
    if first[0] != b"cpu":
        return None
    return sum(ticks) / os.sysconf("SC_CLK_TCK")


def _gxm_s() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def mark(stat: Path = PROC_STAT) -> CpuMark | None:
    """A mark now; None where /proc/stat cannot be read."""
    busy = _host_busy_s(stat)
    return None if busy is None else CpuMark(busy, _gxm_s())


def others_s(before: CpuMark | None, after: CpuMark | None) -> float | None:
    """CPU seconds the rest of the host used between two marks (None when one is missing)."""
    if before is None or after is None:
        return None
    used = (after.host_busy_s - before.host_busy_s) - (after.gxm_s - before.gxm_s)
    return round(max(0.0, used), 3)
