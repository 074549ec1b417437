"""The local backend: host subprocesses, each in its own process group.

A process gets exactly the environment its spec names (an allow-list built by the caller), stdin
from /dev/null and its output in the spec's files. Limits are enforced from here:
- wall time: SIGQUIT to the group (Go prints every goroutine's stack), then after `grace_s` SIGKILL;
- memory: the RSS of the process and all its descendants is sampled (harness.backends.procsample)
  every POLL_INTERVAL_S, less often as a run ages unless its memory grows toward the limit, and
  the group is SIGKILLed above `memory_limit_bytes` (the `oom` outcome).
`cpus` and `pids_limit` are not enforced on the host: nothing is applied that could break Go.
`core_dumps` sets the child's own core size limit (never a host setting).

A process that leaves its group (setsid, a double fork) still ends with its run: each process is
held in a cgroup of its own where the host allows it, else gxm is their subreaper and kills every
descendant it saw and every orphan reparented to it (harness.backends.containment).

Every group started is tracked until it is reaped, so `__exit__`, or a KeyboardInterrupt arriving
during `execute`, kills and reaps whatever is still running: Ctrl-C leaves no child behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import resource
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import psutil

from harness.backends import cpuuse, procsample
from harness.backends.containment import Containment
from harness.backends.limits import POLL_INTERVAL_S, RunLimits, signal_group
from harness.backends.logcap import CappedLog, pump
from harness.errors import InfraError
from harness.hostcmd import host_commands_held
from harness.model import ExecResult, ExecSpec, Toolchain

log = logging.getLogger("gxm.backends.local")

LOG_DRAIN_S = 5.0


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


class _Logs:
    """The capped log files of one process and the threads pumping its pipes into them."""

    def __init__(self, spec: ExecSpec) -> None:
        self.merged = Path(spec.stderr_path) == Path(spec.stdout_path)
        paths = [spec.stdout_path] if self.merged else [spec.stdout_path, spec.stderr_path]
        self._files: list[IO[bytes]] = []
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._files.append(open(path, "wb"))  # noqa: SIM115 - closed in finish()
        self._sinks = [CappedLog(f, spec.log_limit_bytes) for f in self._files]
        self._pipes: list[IO[bytes]] = []
        self._threads: list[threading.Thread] = []

    def start(self, proc: subprocess.Popen[bytes]) -> None:
        self._pipes = [p for p in (proc.stdout, proc.stderr) if p is not None]
        self._threads = [
            pump(pipe, sink) for pipe, sink in zip(self._pipes, self._sinks, strict=True)
        ]

    def finish(self) -> int:
        """Drain the pipes (every writer is dead by now; a stray holding one gets 5 s), close
        everything, return the bytes dropped over the cap."""
        for thread in self._threads:
            thread.join(timeout=LOG_DRAIN_S)
        for pipe in self._pipes:
            with contextlib.suppress(OSError):
                pipe.close()
        dropped = sum(sink.close() for sink in self._sinks)
        for handle in self._files:
            handle.close()
        return dropped


def _core_limits(core_dumps: bool | None) -> tuple[int, int] | None:
    """The (soft, hard) core size limits of a run: the hard limit to allow cores, 0 to forbid
    them (raising the soft limit up to the hard one needs no privilege); None: keep gxm's."""
    if core_dumps is None:
        return None
    _, hard = resource.getrlimit(resource.RLIMIT_CORE)
    return (hard if core_dumps else 0, hard)


def _core_limit_setter(core_dumps: bool | None) -> Callable[[], None] | None:
    """What the child runs before exec to set its core size limit (None: keep gxm's).

    A bound C function, no Python code of ours: the child of a threaded parent must not take
    locks other threads may hold.
    """
    limits = _core_limits(core_dumps)
    return (
        None
        if limits is None
        else functools.partial(resource.setrlimit, resource.RLIMIT_CORE, limits)
    )


def _set_core_limit(pid: int, core_dumps: bool | None) -> None:
    """Set the core size limit of the just started `pid` as `_core_limit_setter` would before
    its exec (None: keep gxm's). Set from outside, a moment after the exec: a program that
    crashes within microseconds of starting has gxm's limit."""
    limits = _core_limits(core_dumps)
    if limits is not None:
        with contextlib.suppress(OSError, ValueError):  # gone already
            resource.prlimit(pid, resource.RLIMIT_CORE, limits)


@contextlib.contextmanager
def _thread_pinned(cpuset: tuple[int, ...]) -> Iterator[None]:
    """Pin the calling thread to `cpuset` (nothing when empty) for the block, then give it its
    own CPUs back. A child started in the block inherits the thread's CPUs, so pinning it needs
    no `preexec_fn` and Python can start it with vfork: a fork of the large gxm process costs
    a bench run 20-60 ms. (Linux keeps affinity per thread: other threads of gxm are untouched.)"""
    if not cpuset:
        yield
        return
    own = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpuset)
    try:
        yield
    finally:
        os.sched_setaffinity(0, own)


def _before_exec(*steps: Callable[[], object] | None) -> Callable[[], None] | None:
    """One `preexec_fn` of the steps given: a single bound C call stays one (no Python code of
    ours runs in the child); two need a small function."""
    chosen = [step for step in steps if step is not None]
    if len(chosen) <= 1:
        return chosen[0] if chosen else None  # type: ignore[return-value]

    def run_all() -> None:
        for step in chosen:
            step()

    return run_all


class LocalBackend:
    """Runs each ExecSpec as a host subprocess under its limits (see the module docstring)."""

    name = "local"

    def __init__(
        self, *, poll_interval_s: float = POLL_INTERVAL_S, containment: Containment | None = None
    ) -> None:
        self.poll_interval_s = poll_interval_s
        self.containment = containment or Containment()
        self._live: dict[int, subprocess.Popen[bytes]] = {}
        # per live leader: its cgroup (or None), every tree member seen (pid → start time), and
        # when it started (epoch seconds)
        self._held: dict[int, tuple[Path | None, dict[int, float], float]] = {}
        self._logs: dict[int, _Logs] = {}
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

    def pinnable_cpus(self) -> tuple[int, ...]:
        """The CPUs gxm itself may run on: a child can be pinned to any of them."""
        return tuple(sorted(os.sched_getaffinity(0)))

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
        cpu_before = cpuuse.mark()
        try:
            proc = self._start(spec)
        except (OSError, subprocess.SubprocessError) as exc:  # the latter: a failed preexec step
            what = spec.argv[0] if spec.argv else "(empty argv)"
            where = f": {exc.filename}" if isinstance(exc, OSError) and exc.filename else ""
            why = (exc.strerror if isinstance(exc, OSError) else None) or exc
            detail = f"could not start {what} (cwd {spec.cwd}): {why}{where}"
            return ExecResult(None, None, False, False, time.monotonic() - started, None, detail)
        logs = self._logs.pop(proc.pid)
        try:
            result = self._supervise(proc, spec, started)
        except BaseException:
            self._kill_and_reap(proc)
            logs.finish()
            raise
        finally:
            with self._lock:
                self._live.pop(proc.pid, None)
        others = cpuuse.others_s(cpu_before, cpuuse.mark())  # the leader is reaped by now
        return dataclasses.replace(result, log_bytes_dropped=logs.finish(), others_cpu_s=others)

    def _start(self, spec: ExecSpec) -> subprocess.Popen[bytes]:
        """Start the process in a new session (its own group) with exactly `spec.env`; its
        output goes through pipes into size-capped log files."""
        if not spec.argv:
            raise OSError(0, "empty argv")
        logs = _Logs(spec)
        cgroup = self.containment.new_cgroup(spec.run_id)
        proc: subprocess.Popen[bytes] | None = None
        try:
            with (
                self._lock,
                self.containment.spawning_into(cgroup) as (joined, join_step),
                _thread_pinned(spec.cpuset),
            ):
                started_at = time.time()  # the lock: kill_all never misses a starting process
                # no preexec_fn unless joining the cgroup needs one: Python then starts the
                # child with vfork
                forked = join_step is not None
                core_step = _core_limit_setter(spec.core_dumps) if forked else None
                proc = subprocess.Popen(
                    list(spec.argv),
                    env=dict(spec.env),
                    cwd=spec.cwd,
                    stdin=subprocess.DEVNULL if spec.stdin_null else None,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT if logs.merged else subprocess.PIPE,
                    start_new_session=True,
                    preexec_fn=_before_exec(join_step, core_step),
                )
                self._live[proc.pid] = proc
                if not forked:
                    _set_core_limit(proc.pid, spec.core_dumps)
                # a cgroup that could not be joined holds nothing: the subreaper's way then
                held = cgroup if joined else None
                self._held[proc.pid] = (held, {}, started_at)
            if held is None:
                _remember(self._held[proc.pid][1], [proc.pid])
                if cgroup is not None:  # made but not joined: removed, empty
                    self.containment.end(cgroup, {}, started_at, set())
        except BaseException:  # e.g. Ctrl-C while starting: nothing may be left running
            if proc is not None:
                self._kill_and_reap(proc)
            else:
                self.containment.end(cgroup, {}, time.time(), set(self._live))
            logs.finish()
            raise
        logs.start(proc)
        self._logs[proc.pid] = logs
        log.debug("started pid %d: %s", proc.pid, " ".join(spec.argv))
        return proc

    def _supervise(
        self, proc: subprocess.Popen[bytes], spec: ExecSpec, started: float
    ) -> ExecResult:
        """Watch time and memory until the process exits; then clean its group and reap it.

        Each poll takes one sample (procsample): the cgroup's members where containment holds the
        process in one, else its tree (every member's start time kept for the subreaper)."""
        exit_watch = _Exit(proc.pid)
        limits = RunLimits(proc.pid, spec, started)
        with self._lock:  # gone when kill_all (another thread) reaped it already
            cgroup, seen, _ = self._held.get(proc.pid, (None, {}, 0.0))
        wait_s = self.poll_interval_s
        try:
            while not exit_watch.wait(limits.clip(wait_s)):
                found = procsample.sample(proc.pid, cgroup)
                if cgroup is None:
                    _remember(seen, found.pids)
                wait_s = limits.check(found, self.poll_interval_s)
            seconds = time.monotonic() - started
        finally:
            exit_watch.close()
        returncode = self._kill_and_reap(proc)
        return ExecResult(
            exit_code=returncode if returncode >= 0 else None,
            signal=-returncode if returncode < 0 else None,
            timed_out=limits.timed_out,
            oom_killed=limits.oom_killed,
            seconds=seconds,
            peak_rss_bytes=limits.peak_rss_bytes or None,  # a run too short for one sample: none
        )

    def _kill_and_reap(self, proc: subprocess.Popen[bytes]) -> int:
        """SIGKILL what is left of the group (and descendants that left it), reap the leader,
        return its returncode. The leader is reaped last, so its pid cannot be reused as a group
        id before the group is killed. (wait4's ru_maxrss is not used: it counts the gxm image
        the child was forked from, 300 MB for /bin/true.)"""
        with self._lock:
            cgroup, seen, started_at = self._held.get(proc.pid, (None, {}, time.time()))
            live = set(self._live) - {proc.pid}
        strays: list[psutil.Process] = []
        if cgroup is None:  # a cgroup is ended whole by containment.end
            with contextlib.suppress(psutil.Error):
                strays = psutil.Process(proc.pid).children(recursive=True)
        signal_group(proc.pid, signal.SIGKILL)
        for stray in strays:
            with contextlib.suppress(psutil.Error):
                stray.kill()
        seen.update({s.pid: _start_time(s) for s in strays})
        if cgroup is not None:
            self.containment.end(cgroup, seen, started_at, live)
        else:  # the orphan sweep: no run or host command may start meanwhile (they are no orphans)
            with self._lock, host_commands_held() as host_commands:
                live = (set(self._live) - {proc.pid}) | host_commands
                self.containment.end(cgroup, seen, started_at, live)
        with self._reap_lock:  # one reaper per child, whichever thread gets here first
            returncode = proc.wait()
        with self._lock:
            self._live.pop(proc.pid, None)
            self._held.pop(proc.pid, None)
        return returncode


def _start_time(process: psutil.Process) -> float:
    try:
        return float(process.create_time())
    except psutil.Error:
        return -1.0


def _remember(seen: dict[int, float], pids: list[int] | tuple[int, ...]) -> None:
    """Add the start times of the `pids` not yet in `seen` (what the subreaper way kills at the
    end must still be the process it saw)."""
    for pid in pids:
        if pid not in seen:
            with contextlib.suppress(psutil.Error):
                seen[pid] = psutil.Process(pid).create_time()
