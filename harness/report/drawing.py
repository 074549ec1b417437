"""Drawing a run's plots beside the rest of the report: in worker processes, so that importing
matplotlib and drawing overlap the tables and each other on a machine with more than one CPU.

`start(jobs, save)` forks one worker that imports matplotlib (unless this process has it already)
and then forks the others, each drawing its share of the jobs (split by estimated cost) and
saving them with `save`; the caller goes on with its own work and calls `Drawing.finish()`.
A PNG is the only thing a worker hands back, so a worker that fails costs nothing but time:
`finish` draws again in this process whatever is not there, and a real error is raised here
with its own traceback. Workers die with the process that started them (PR_SET_PDEATHSIG),
run in their own process group (a Ctrl-C in the terminal goes to gxm, which `cancel`s them),
and are always waited for: none is left behind.

Where forking is not safe or buys nothing (one CPU, no `os.fork`, other threads running in this
process), the jobs are drawn here, one after the other, in `finish`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@dataclass(frozen=True)
class PlotJob:
    """One picture: where it goes, how to draw it (a matplotlib Figure) and a rough cost."""

    path: Path
    draw: Callable[[], Any]
    cost: float = 1.0


Save = Callable[[Any, Path], object]


def load_matplotlib() -> None:
    """Import the parts of matplotlib gxm draws with. `matplotlib.artist.kwdoc` is replaced
    first: matplotlib calls it for every Artist class it defines, only to write the docstring of
    its `set` method, and that was a third of the import time; nothing gxm draws depends on it."""
    import matplotlib.artist

    matplotlib.artist.kwdoc = lambda artist: ""
    import matplotlib.backends.backend_agg
    import matplotlib.figure  # noqa: F401


class Preload:
    """Groundwork on threads of their own while gxm mostly waits (beside stress runs):
    `matplotlib()` imports matplotlib, so that the report at the end of a run does not wait for
    it; `also(task)` runs any other such task. `join` before anything that must run alone (a
    bench run) and before forking: it is safe to call at any time, and more than once. An error
    in the background is dropped: the same work done where it is needed raises it there."""

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._began = False

    def once(self, start: Callable[[], object]) -> None:
        """Call `start` (which starts tasks) the first time this is called, from any thread."""
        with self._lock:
            if self._began:
                return
            self._began = True
        start()

    def matplotlib(self) -> None:
        self.also(load_matplotlib)

    def also(self, task: Callable[[], object]) -> None:
        thread = threading.Thread(target=_quietly, args=(task,), name="gxm-preload", daemon=True)
        thread.start()
        self._threads.append(thread)

    def join(self) -> None:
        for thread in list(self._threads):
            thread.join()


def _quietly(task: Callable[[], object]) -> None:
    with contextlib.suppress(Exception):
        task()


def share_out(jobs: Sequence[PlotJob], workers: int) -> list[list[PlotJob]]:
    """`jobs` in at most `workers` groups of about equal cost (longest first, each to the
    cheapest group so far); no empty group."""
    groups: list[list[PlotJob]] = [[] for _ in range(max(1, min(workers, len(jobs))))]
    totals = [0.0] * len(groups)
    for job in sorted(jobs, key=lambda j: -j.cost):
        cheapest = totals.index(min(totals))
        groups[cheapest].append(job)
        totals[cheapest] += job.cost
    return [group for group in groups if group]


def draw_all(jobs: Sequence[PlotJob], save: Save) -> None:
    """Draw and save `jobs` here, in order (importing matplotlib only when there are any)."""
    if not jobs:
        return
    load_matplotlib()
    for job in jobs:
        save(job.draw(), job.path)


def worker_count() -> int:
    """How many processes may draw at once: the CPUs this process may use; 1 where forking is
    not available or not safe (another thread could hold a lock the child would inherit)."""
    if not hasattr(os, "fork") or sys.platform != "linux" or threading.active_count() > 1:
        return 1
    return len(os.sched_getaffinity(0))


class Drawing:
    """Plots being drawn: `finish()` waits for them (drawing here whatever a worker did not
    leave, `done` telling which are there), `cancel()` stops the workers; as a context, the
    workers are cancelled on the way out (nothing to do after `finish`)."""

    def __init__(self, jobs: Sequence[PlotJob], save: Save, done: Callable[[PlotJob], bool],
                 worker: int | None) -> None:  # fmt: skip
        self._jobs, self._save, self._done, self._worker = list(jobs), save, done, worker

    @classmethod
    def nothing(cls) -> Drawing:
        """A Drawing of no plots."""
        return cls([], lambda fig, path: None, lambda job: True, None)

    def __enter__(self) -> Drawing:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cancel()

    def finish(self) -> None:
        self._end_worker(kill=False)
        draw_all([job for job in self._jobs if not self._done(job)], self._save)

    def cancel(self) -> None:
        self._end_worker(kill=True)

    def _end_worker(self, *, kill: bool) -> None:
        """Wait for the first worker (SIGKILLed first when `kill`), and reap its group."""
        if self._worker is None:
            return
        if kill:
            for end in (os.killpg, os.kill):  # the group; the worker itself, were it not in one
                with contextlib.suppress(ProcessLookupError):
                    end(self._worker, signal.SIGKILL)
        _wait(self._worker)
        _reap_group(self._worker)
        self._worker = None


def start(
    jobs: Sequence[PlotJob],
    save: Save,
    done: Callable[[PlotJob], bool],
    workers: int | None = None,
) -> Drawing:
    """Start drawing `jobs` (see the module docstring) in `workers` processes (default:
    `worker_count()`); `done(job)` says whether a job's PNG is there and current once the
    workers are through."""
    workers = worker_count() if workers is None else workers
    if workers < 2 or not jobs:
        return Drawing(jobs, save, done, None)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        _worker_main(share_out(jobs, workers), save, parent)
    with contextlib.suppress(OSError):  # the child does the same: whichever runs first
        os.setpgid(pid, pid)
    return Drawing(jobs, save, done, pid)


def _worker_main(groups: list[list[PlotJob]], save: Save, parent: int) -> None:
    """The first worker: import matplotlib once, fork one worker per further group, draw the
    first group, wait for the others; exit 0 when every group was drawn. Never returns."""
    status = 1
    try:
        os.setpgid(0, 0)
        _die_with(parent)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        load_matplotlib()
        me = os.getpid()
        others = [_fork_worker(group, save, me) for group in groups[1:]]
        draw_all(groups[0], save)
        status = 0 if all(_wait(pid) == 0 for pid in others) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(status)


def _fork_worker(group: list[PlotJob], save: Save, parent: int) -> int:
    pid = os.fork()
    if pid:
        return pid
    status = 1
    try:
        _die_with(parent)
        draw_all(group, save)
        status = 0
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(status)


def _die_with(parent: int) -> None:
    """Have the kernel SIGKILL this process when its parent ends (also when it already has)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def _reap_group(pgid: int) -> None:
    """Reap what of the killed group `pgid` became this process's child: its other workers,
    where gxm is a subreaper (`backends.containment`) and they outlived the first one."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-pgid, 0)[0]:
            pass


def _wait(pid: int) -> int:
    """Reap `pid`; its exit status (1 for a signal or when it was reaped already)."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return 1
        except InterruptedError:
            continue
        return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1
