"""The wall-time and memory limits of one local run, applied sample by sample, and how often to
sample: often while a run is young or its memory grows toward its limit, less as a quiet run ages
(each sample is cheap, harness.backends.procsample, but a long run needs few)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time

from harness.backends import procsample
from harness.model import ExecSpec

log = logging.getLogger("gxm.backends.local")

POLL_INTERVAL_S = 0.05
POLL_INTERVAL_MAX_S = 0.25


def signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def next_poll_s(
    base_s: float, elapsed_s: float, growth_bytes_per_s: float, headroom_bytes: float | None
) -> float:
    """How long to wait before the next sample of a run: `base_s` while the run is young or its
    memory grows fast enough to reach its limit within two longer waits (`headroom_bytes`: limit
    minus the last RSS, None without a limit), else longer as it ages, up to
    POLL_INTERVAL_MAX_S. A quiet long run costs a few samples a second, and one allocating
    toward its limit is still caught within `base_s` of crossing it."""
    wait_s = min(max(POLL_INTERVAL_MAX_S, base_s), max(base_s, elapsed_s / 8))
    if headroom_bytes is not None and growth_bytes_per_s * 2 * wait_s >= headroom_bytes:
        return base_s
    return wait_s


class RunLimits:
    """The wall-time and memory limits of one running process group, applied sample by sample:
    over its memory limit → SIGKILL (`oom_killed`); at its deadline → SIGQUIT (`timed_out`), and
    SIGKILL `grace_s` later."""

    def __init__(self, pid: int, spec: ExecSpec, started: float) -> None:
        self.pid = pid
        self.spec = spec
        self.started = started
        self.deadline = started + spec.timeout_s
        self.kill_at: float | None = None
        self.timed_out = self.oom_killed = False
        self.peak_rss_bytes = 0
        self._last_sample = (started, 0)  # (monotonic seconds, RSS bytes)

    def clip(self, wait_s: float) -> float:
        """`wait_s`, shortened so that the wait ends when the deadline or the kill is due."""
        now = time.monotonic()
        due = [self.kill_at] if self.timed_out else [self.deadline]
        return max(0.0, min([wait_s, *(at - now for at in due if at is not None)]))

    def check(self, found: procsample.Sample, base_s: float) -> float:
        """Apply the limits to a fresh sample; return how long to wait for the next one."""
        now, rss = time.monotonic(), found.rss_bytes
        self.peak_rss_bytes = max(self.peak_rss_bytes, rss, found.leader_peak_rss_bytes)
        limit = self.spec.memory_limit_bytes
        if limit is not None and rss > limit and not self.oom_killed:
            log.info("pid %d over its memory limit (%d > %d bytes)", self.pid, rss, limit)
            signal_group(self.pid, signal.SIGKILL)
            self.oom_killed = True
        if not self.timed_out and now >= self.deadline:
            log.info("pid %d timed out after %.0fs: SIGQUIT", self.pid, self.spec.timeout_s)
            signal_group(self.pid, signal.SIGQUIT)
            self.timed_out, self.kill_at = True, now + self.spec.grace_s
        elif self.kill_at is not None and now >= self.kill_at:
            signal_group(self.pid, signal.SIGKILL)
            self.kill_at = None
        last_at, last_rss = self._last_sample
        self._last_sample = (now, rss)
        growth_bytes_per_s = max(0, rss - last_rss) / max(now - last_at, 1e-3)
        headroom_bytes = None if limit is None else limit - rss
        return next_poll_s(base_s, now - self.started, growth_bytes_per_s, headroom_bytes)
