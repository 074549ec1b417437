"""GC figures of programs that carry no gxm probe, from the runtime's own `GODEBUG=gctrace=1` lines.

A user's main program or test binary does not write a `gxm.fixture/1` result, but every Go program
prints one line per GC cycle on stderr when GODEBUG holds `gctrace=1`:

    gc 3 @0.152s 4%: 0.021+1.2+0.015 ms clock, 0.042+0.31/1.1/0.9+0.030 ms cpu, 4->4->1 MB,
    5 MB goal, 0 MB stacks, 0 MB globals, 2 P

The two stop-the-world phases of a cycle are the first and last `clock` terms (sweep termination
and mark termination); their sum is that cycle's pause. The percentage is the share of CPU spent in
GC since the program started, so the last line's value is the run's GC CPU fraction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from harness import stats

SOURCE = "gctrace"
_LINE = re.compile(
    r"^gc (?P<cycle>\d+) @(?P<at>[\d.]+)s (?P<cpu>\d+)%: "
    r"(?P<stw1>[\d.]+)\+(?P<conc>[\d.]+)\+(?P<stw2>[\d.]+) ms clock, .*?"
    r"(?P<goal>\d+) MB goal"
)


def with_gctrace(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with `gctrace=1` added to the user's own GODEBUG (their settings kept, theirs win)."""
    merged = dict(env)
    current = [item for item in merged.get("GODEBUG", "").split(",") if item]
    if not any(item.startswith("gctrace=") for item in current):
        current.append("gctrace=1")
    merged["GODEBUG"] = ",".join(current)
    return merged


def gctrace_metrics(lines: Iterable[str]) -> dict[str, int | float]:
    """Cycles, per-cycle pause p50/p99/max (ns), GC CPU fraction and the largest heap goal
    (bytes) from gctrace lines; {} when there is none (the program never collected)."""
    pauses_ns: list[float] = []
    goals_mb: list[int] = []
    cpu_percent = 0
    for line in lines:
        match = _LINE.match(line.strip())
        if not match:
            continue
        pauses_ns.append((float(match["stw1"]) + float(match["stw2"])) * 1e6)
        goals_mb.append(int(match["goal"]))
        cpu_percent = int(match["cpu"])
    if not pauses_ns:
        return {}
    ordered = sorted(pauses_ns)
    return {
        "gc_cycles": len(pauses_ns),
        "gc_pause_p50_ns": round(stats.median(ordered)),
        "gc_pause_p99_ns": round(_percentile(ordered, 0.99)),
        "gc_pause_max_ns": round(ordered[-1]),
        "gc_cpu_fraction": cpu_percent / 100,
        "heap_goal_bytes": max(goals_mb) << 20,
    }


def _percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    rank = max(0, min(len(ordered) - 1, int(-(-q * len(ordered) // 1)) - 1))
    return ordered[rank]


def file_metrics(path: Path) -> dict[str, int | float]:
    """`gctrace_metrics` of a stderr log, read line by line (a log can be large)."""
    try:
        with Path(path).open(encoding="utf-8", errors="replace") as handle:
            return gctrace_metrics(handle)
    except FileNotFoundError:
        return {}
