"""Schedule: when each build and each run of a selection starts.

- builds: `build_workers` at a time, in the order given (matrix order);
- stress and claim runs: `jobs` at a time, in the seeded plan order, each as soon as its cell is
  built, so runs overlap the builds of other cells (a run of a cell still building is taken up as
  soon as that build ends; the runs of built cells keep their plan order). A run's place is free
  once its process has ended (`released`): what gxm makes of the run afterwards (reading its
  result, naming the C function of a crash from its core) overlaps the next run; at most `jobs`
  runs are being finished that way at once;
- bench runs, warm-ups included, run **alone**: once every build and every other run has ended
  (its finishing included),
  one at a time in the seeded plan order, with nothing else of gxm running meanwhile, so pause
  and timing figures are not disturbed. They are pinned to CPUs where the backend can
  (`bench_cpuset`).

`Board` is the policy: pure, no threads, tested without Go. `run_schedule` carries it out on a
thread pool and hands every result back to the calling thread, which alone records it; on
Ctrl-C (or any error) everything in flight is ended and its result dropped, never recorded.
"""

from __future__ import annotations

import contextlib
import heapq
import math
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, InvalidStateError, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TypeVar

BUILD_WORKERS = 2  # concurrent `go build`s at most (each is parallel itself)
POLL_S = 0.5  # how often the scheduling thread wakes without a job ending (signals, Ctrl-C)
END_POLL_S = 0.2

R = TypeVar("R")


def default_jobs() -> int:
    """The CPUs gxm may run on (its affinity mask, else the machine's CPU count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def build_workers() -> int:
    """Concurrent builds: BUILD_WORKERS, never more than the CPUs gxm may use."""
    return max(1, min(BUILD_WORKERS, default_jobs()))


def bench_cpuset(cpus: float, available: Sequence[int]) -> tuple[int, ...]:
    """The CPUs a bench run is pinned to: as many as its `cpus` setting (rounded up), the last
    ones of `available` (CPU 0 takes most interrupts and gxm's own threads); all of them when
    there are no more; () when the backend cannot pin."""
    count = max(1, math.ceil(cpus))
    ordered = sorted(available)
    return tuple(ordered[-count:]) if ordered else ()


@dataclass(frozen=True)
class Job:
    """One build (`cells`: the cells it builds) or one run (`cells`: its one cell).

    `order` is the run's place in the seeded plan; `alone` marks a bench run."""

    key: Any  # what the caller schedules: a build's cell, a run's task
    cells: frozenset[str]
    is_build: bool = False
    alone: bool = False
    order: int = 0


@dataclass
class Board:
    """What is pending, built and running; `ready` says what may start now (see the module
    docstring for the rules)."""

    jobs: int
    build_workers: int
    builds: deque[Job] = field(default_factory=deque)
    running: list[Job] = field(default_factory=list)
    released: list[Job] = field(default_factory=list)  # running, their process ended
    built: set[str] = field(default_factory=set)
    _shared: dict[str, deque[Job]] = field(default_factory=dict)  # by cell, plan order
    _heads: list[tuple[int, str]] = field(default_factory=list)  # built cells' next shared run
    _alone: list[Job] = field(default_factory=list)  # plan order

    @classmethod
    def of(
        cls,
        builds: Iterable[Job],
        runs: Iterable[Job],
        *,
        jobs: int,
        workers: int,
        built: Iterable[str] = (),
    ) -> Board:
        """A board for `builds` (in start order) and `runs` (any order; `order` decides) of
        cells built by those builds or already `built`."""
        board = cls(max(1, jobs), max(1, workers), deque(builds))
        for job in sorted(runs, key=lambda j: j.order):
            if job.alone:
                board._alone.append(job)
            else:
                board._shared.setdefault(_cell(job), deque()).append(job)
        for cell in sorted(set(built)):
            board.built.add(cell)
            board._push_head(cell)
        return board

    @property
    def finished(self) -> bool:
        return not (self.builds or self.running or self._alone or self._heads) and not any(
            self._shared.values()
        )

    def ready(self) -> list[Job]:
        """The jobs to start now, marked running."""
        if any(job.alone for job in self.running):
            return []
        starts: list[Job] = []
        building = sum(job.is_build for job in self.running)
        while self.builds and building < self.build_workers:
            starts.append(self.builds.popleft())
            building += 1
        busy = sum(not job.is_build for job in self.running) - len(self.released)
        slots = self.jobs - busy - max(0, len(self.released) - self.jobs)
        while slots > 0 and self._heads:
            _, cell = heapq.heappop(self._heads)
            starts.append(self._shared[cell].popleft())
            self._push_head(cell)
            slots -= 1
        if not starts and not self.running and self._alone_may_start():
            starts.append(self._alone.pop(0))
        self.running.extend(starts)
        return starts

    def _alone_may_start(self) -> bool:
        """Bench runs wait for every build and every shared run to end (built or dropped)."""
        return bool(self._alone) and not self.builds and not any(self._shared.values())

    def release(self, job: Job) -> None:
        """The process of run `job` ended: its place may go to the next run while gxm finishes
        it (it still counts as running for a bench run, which waits for `done`)."""
        if not job.is_build and job in self.running and job not in self.released:
            self.released.append(job)

    def done(self, job: Job) -> None:
        """`job` ended; a build's cells count as built (their runs may start)."""
        self.running.remove(job)
        if job in self.released:
            self.released.remove(job)
        if job.is_build:
            for cell in sorted(job.cells):
                self.built.add(cell)
                self._push_head(cell)

    def drop(self, keep: Callable[[Job], bool]) -> dict[str, int]:
        """Forget the pending runs `keep` refuses (their cell or fixture was not built); how many
        went, per cell."""
        dropped: dict[str, int] = {}
        for job in [*self._alone, *(j for q in self._shared.values() for j in q)]:
            if not keep(job):
                dropped[_cell(job)] = dropped.get(_cell(job), 0) + 1
        self._alone = [job for job in self._alone if keep(job)]
        for cell, queue in self._shared.items():
            self._shared[cell] = deque(job for job in queue if keep(job))
        self._heads = []
        for cell in sorted(self.built):
            self._push_head(cell)
        return dropped

    def _push_head(self, cell: str) -> None:
        queue = self._shared.get(cell)
        if cell in self.built and queue and all(c != cell for _, c in self._heads):
            heapq.heappush(self._heads, (queue[0].order, cell))


def _cell(job: Job) -> str:
    (cell,) = job.cells
    return cell


class Cancelled(Exception):
    """A job that had not started when the schedule was abandoned."""


Release = Callable[[], None]


def run_schedule(
    board: Board,
    work: Callable[[Job, Release], R],
    finish: Callable[[Job, R], None],
    *,
    end_everything: Callable[[], None],
) -> None:
    """Start what `board` allows, `work(job, release)` on a worker thread, and
    `finish(job, result)` on this thread as each job ends, until the board is empty. A run's
    `work` calls `release()` (from its thread, at most once counts) when its process has ended:
    the next run may start then (`Board.release`).

    On any exception here (Ctrl-C, SIGTERM, an error in `work` or `finish`), jobs not started are
    cancelled and `end_everything` (the backend's kill) is called until every job in flight has
    ended; their results are dropped, and the exception goes on.
    """
    # runs, as many more being finished (released), builds
    threads = 2 * board.jobs + board.build_workers
    pool = ThreadPoolExecutor(threads, thread_name_prefix="gxm-job")
    futures: dict[Future[R], Job] = {}
    places: dict[Future[None], Job] = {}  # a run's place, set when `work` releases it
    abandoned = threading.Event()

    def guarded(job: Job, place: Future[None]) -> R:
        if abandoned.is_set():
            raise Cancelled(str(job.key))
        return work(job, lambda: _set_once(place))

    try:
        while not board.finished:
            for job in board.ready():
                place: Future[None] = Future()
                places[place] = job
                futures[pool.submit(guarded, job, place)] = job
            if not futures:
                raise RuntimeError("the schedule stalled with work pending")  # a bug, never input
            signals: list[Future[Any]] = [*futures, *places]
            ended, _ = wait(signals, timeout=POLL_S, return_when=FIRST_COMPLETED)
            for place in [p for p in places if p in ended]:
                board.release(places.pop(place))
            for future in sorted(futures.keys() & ended, key=lambda f: futures[f].order):
                job = futures.pop(future)
                places = {p: j for p, j in places.items() if j is not job}
                board.done(job)
                finish(job, future.result())
    except BaseException:
        abandoned.set()
        pool.shutdown(wait=False, cancel_futures=True)
        _end_in_flight(list(futures), end_everything)
        raise
    pool.shutdown(wait=True)


def _set_once(place: Future[None]) -> None:
    with contextlib.suppress(InvalidStateError):  # released before: the first one counts
        place.set_result(None)


def _end_in_flight(futures: list[Future[R]], end_everything: Callable[[], None]) -> None:
    """Kill until no job is in flight: a job between its check and its process start is caught
    by the next round."""
    while not all(future.done() for future in futures):
        end_everything()
        wait(futures, timeout=END_POLL_S)
