"""The local backend: host subprocesses, each in its own process group.

A process gets exactly the environment its spec names (an allow-list built by the caller), stdin
from /dev/null and its output in the spec's files. Limits are enforced from here:
- wall time: SIGQUIT to the group (Go prints every goroutine's stack), then after `grace_s` SIGKILL;
- memory: psutil samples the RSS of the process and all its descendants every POLL_INTERVAL_S and
  SIGKILLs the group above `memory_limit_bytes` (the `oom` outcome).
`cpus` and `pids_limit` are not enforced on the host: nothing is applied that could break Go.
`core_dumps` sets the child's own core size limit (never a host setting).

Every group started is tracked until it is reaped, so `__exit__`, or a KeyboardInterrupt arriving
during `execute`, kills and reaps whatever is still running: Ctrl-C leaves no child behind.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import resource
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import psutil

from harness.errors import InfraError
from harness.model import ExecResult, ExecSpec, Toolchain

log = logging.getLogger("gxm.backends.local")

POLL_INTERVAL_S = 0.05


class _Exit:
    """Waits for a child's exit without reaping it, so its pid (= its group id) stays reserved
    until the group has been cleaned up: a pidfd where the kernel has one, else waitid polling."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._poll: select.poll | None = None
        self._fd: int | None = None
        with contextlib.suppress(AttributeError, OSError):
            self._fd = os.pidfd_open(pid)
            self._poll = select.poll()
            self._poll.register(self._fd, select.POLLIN)

    def wait(self, timeout_s: float) -> bool:
        """True once the child has exited (or was reaped elsewhere); waits at most `timeout_s`."""
        if self._poll is not None:
            if not self._poll.poll(max(0, int(timeout_s * 1000))):
                return False
        elif not self._exited():
            time.sleep(timeout_s)
            return self._exited()
        return True

    def _exited(self) -> bool:
        try:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return info is not None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _tree_rss_bytes(pid: int) -> int:
    """RSS of `pid` and all its descendants; processes that vanish meanwhile count as 0."""
    total = 0
    try:
        root = psutil.Process(pid)
        members = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        with contextlib.suppress(psutil.Error):
            total += member.memory_info().rss
    return total


def _core_limit_setter(core_dumps: bool | None) -> Callable[[], None] | None:
    """What the child runs before exec to set its core size limit (None: keep gxm's).

    A bound C function, no Python code of ours: the child of a threaded parent must not take
    locks other threads may hold. Raising the soft limit up to the hard one needs no privilege.
    """
    if core_dumps is None:
        return None
    _, hard = resource.getrlimit(resource.RLIMIT_CORE)
    return functools.partial(
        resource.setrlimit, resource.RLIMIT_CORE, (hard if core_dumps else 0, hard)
    )


class LocalBackend:
    """Runs each ExecSpec as a host subprocess under its limits (see the module docstring)."""

    name = "local"

    def __init__(self, *, poll_interval_s: float = POLL_INTERVAL_S) -> None:
        self.poll_interval_s = poll_interval_s
        self._live: dict[int, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self._reap_lock = threading.Lock()

    def __enter__(self) -> LocalBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.kill_all()

    def prepare(self, toolchain: Toolchain) -> None:
        """Nothing to build on the host; only check the toolchain is there."""
        if not toolchain.go.is_file():
            raise InfraError(f"no go binary at {toolchain.go}: provision go{toolchain.version}")

    def live_pids(self) -> list[int]:
        """The process groups started and not yet reaped (their leaders' pids)."""
        with self._lock:
            return sorted(self._live)

    def kill_all(self) -> None:
        """SIGKILL every group this backend started and reap their leaders."""
        with self._lock:
            procs = list(self._live.values())
        for proc in procs:
            self._kill_and_reap(proc)

    def execute(self, spec: ExecSpec, toolchain: Toolchain) -> ExecResult:
        """Run `spec` to completion; the child's failures are results, never exceptions."""
        started = time.monotonic()
        try:
            proc = self._start(spec)
        except OSError as exc:
            what = spec.argv[0] if spec.argv else "(empty argv)"
            where = f": {exc.filename}" if exc.filename else ""
            detail = f"could not start {what} (cwd {spec.cwd}): {exc.strerror or exc}{where}"
            return ExecResult(None, None, False, False, time.monotonic() - started, None, detail)
        try:
            return self._supervise(proc, spec, started)
        except BaseException:
            self._kill_and_reap(proc)
            raise
        finally:
            with self._lock:
                self._live.pop(proc.pid, None)

    def _start(self, spec: ExecSpec) -> subprocess.Popen[bytes]:
        """Start the process in a new session (its own group) with exactly `spec.env`."""
        if not spec.argv:
            raise OSError(0, "empty argv")
        spec.stdout_path.parent.mkdir(parents=True, exist_ok=True)
        spec.stderr_path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as files:
            stdout: IO[bytes] = files.enter_context(open(spec.stdout_path, "wb"))
            stderr = stdout
            if Path(spec.stderr_path) != Path(spec.stdout_path):
                stderr = files.enter_context(open(spec.stderr_path, "wb"))
            with self._lock:  # so kill_all never misses a process that is being started
                proc = subprocess.Popen(
                    list(spec.argv),
                    env=dict(spec.env),
                    cwd=spec.cwd,
                    stdin=subprocess.DEVNULL if spec.stdin_null else None,
                    stdout=stdout,
                    stderr=stderr,
                    start_new_session=True,
                    preexec_fn=_core_limit_setter(spec.core_dumps),
                )
                self._live[proc.pid] = proc
        log.debug("started pid %d: %s", proc.pid, " ".join(spec.argv))
        return proc

    def _supervise(
        self, proc: subprocess.Popen[bytes], spec: ExecSpec, started: float
    ) -> ExecResult:
        """Watch time and memory until the process exits; then clean its group and reap it."""
        exit_watch = _Exit(proc.pid)
        deadline = started + spec.timeout_s
        kill_at: float | None = None
        timed_out = oom_killed = False
        peak_rss = 0
        try:
            while not exit_watch.wait(self.poll_interval_s):
                rss = _tree_rss_bytes(proc.pid)
                peak_rss = max(peak_rss, rss)
                limit = spec.memory_limit_bytes
                if limit is not None and rss > limit and not oom_killed:
                    log.info("pid %d over its memory limit (%d > %d bytes)", proc.pid, rss, limit)
                    _signal_group(proc.pid, signal.SIGKILL)
                    oom_killed = True
                now = time.monotonic()
                if not timed_out and now >= deadline:
                    log.info("pid %d timed out after %.0fs: SIGQUIT", proc.pid, spec.timeout_s)
                    _signal_group(proc.pid, signal.SIGQUIT)
                    timed_out, kill_at = True, now + spec.grace_s
                elif kill_at is not None and now >= kill_at:
                    _signal_group(proc.pid, signal.SIGKILL)
                    kill_at = None
            seconds = time.monotonic() - started
        finally:
            exit_watch.close()
        returncode, leader_peak_rss = self._kill_and_reap(proc)
        return ExecResult(
            exit_code=returncode if returncode >= 0 else None,
            signal=-returncode if returncode < 0 else None,
            timed_out=timed_out,
            oom_killed=oom_killed,
            seconds=seconds,
            peak_rss_bytes=max(peak_rss, leader_peak_rss) or None,
        )

    def _kill_and_reap(self, proc: subprocess.Popen[bytes]) -> tuple[int, int]:
        """SIGKILL what is left of the group (and descendants that left it), reap the leader.

        Returns its returncode and the kernel's peak RSS of it (or of its largest waited-for
        child), which also covers runs too short for a sample. The leader is reaped last, so
        its pid cannot be reused as a group id before the group is killed.
        """
        strays: list[psutil.Process] = []
        with contextlib.suppress(psutil.Error):
            strays = psutil.Process(proc.pid).children(recursive=True)
        _signal_group(proc.pid, signal.SIGKILL)
        for stray in strays:
            with contextlib.suppress(psutil.Error):
                stray.kill()
        peak_rss = 0
        with self._reap_lock:  # one reaper per child, whichever thread gets here first
            if proc.returncode is None:
                try:
                    _, status, usage = os.wait4(proc.pid, 0)
                except ChildProcessError:  # reaped behind our back: Popen knows no better
                    proc.wait()
                else:
                    proc.returncode = os.waitstatus_to_exitcode(status)
                    peak_rss = usage.ru_maxrss * 1024  # Linux reports KiB
            returncode = proc.wait()  # already reaped: returns the recorded code at once
        with self._lock:
            self._live.pop(proc.pid, None)
        return returncode, peak_rss
