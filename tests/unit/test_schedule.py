"""schedule.py: `jobs` runs at a time, runs overlapping builds, bench runs alone, plan order kept,
and everything in flight ended (its result dropped) when the schedule is abandoned."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import pytest

from harness.schedule import Board, Job, bench_cpuset, default_jobs, run_schedule

Interval = tuple[Job, float, float]


def build(cells: str) -> Job:
    return Job(f"build {cells}", frozenset(cells.split(",")), is_build=True)


def run(cell: str, order: int, *, alone: bool = False) -> Job:
    return Job((cell, order), frozenset({cell}), alone=alone, order=order)


def simulate(board: Board, seconds: Callable[[Job], float]) -> list[Interval]:
    """Play the board on a simulated clock: each job lasts `seconds(job)`; returns every job
    with its start and end, checking at every step that the board's limits hold."""
    clock, running, timeline = 0.0, {}, []
    while not board.finished:
        for job in board.ready():
            running[job] = (clock, clock + seconds(job))
        live = list(running)
        assert sum(not j.is_build for j in live) <= board.jobs
        assert sum(j.is_build for j in live) <= board.build_workers
        assert not any(j.alone for j in live) or len(live) == 1, live
        assert running, "stalled"
        job = min(running, key=lambda j: (running[j][1], j.order))
        start, clock = running.pop(job)
        timeline.append((job, start, clock))
        board.done(job)
    return timeline


def overlaps(a: Interval, b: Interval) -> bool:
    return a[1] < b[2] and b[1] < a[2]


def mixed_board(seed: int, jobs: int = 2) -> Board:
    rng = random.Random(seed)
    cells = [f"c{k}" for k in range(5)]
    runs = [run(rng.choice(cells), order, alone=rng.random() < 0.3) for order in range(60)]
    builds = [build(",".join(cells[:2])), build(cells[2]), build(cells[3]), build(cells[4])]
    return Board.of(builds, runs, jobs=jobs, workers=2)


@pytest.mark.parametrize("seed", range(20))
def test_a_bench_run_never_overlaps_another_run_or_a_build(seed: int) -> None:
    rng = random.Random(seed)
    timeline = simulate(mixed_board(seed), lambda job: rng.uniform(0.1, 3.0))
    alone = [entry for entry in timeline if entry[0].alone]
    assert alone
    for bench in alone:
        others = [entry for entry in timeline if entry[0] is not bench[0]]
        assert not [other for other in others if overlaps(bench, other)]


def test_stress_runs_overlap_each_other_and_the_builds_of_other_cells() -> None:
    timeline = simulate(mixed_board(1, jobs=3), lambda job: 5.0 if job.is_build else 1.0)
    shared = [e for e in timeline if not e[0].is_build and not e[0].alone]
    builds = [e for e in timeline if e[0].is_build]
    assert any(overlaps(a, b) for a in shared for b in shared if a is not b)
    assert any(overlaps(r, b) for r in shared for b in builds if not r[0].cells <= b[0].cells)
    starts = [start for _, start, _ in timeline]
    assert max(sum(s <= t < e for _, s, e in shared) for t in starts) == 3  # jobs at a time


def test_jobs_1_runs_one_at_a_time() -> None:
    timeline = simulate(mixed_board(2, jobs=1), lambda job: 1.0)
    runs = [e for e in timeline if not e[0].is_build]
    assert not any(overlaps(a, b) for a in runs for b in runs if a is not b)


def test_runs_start_in_plan_order_once_their_cells_are_built() -> None:
    """Shared runs in plan order, then bench runs in plan order (all builds done by then)."""
    board = mixed_board(3)
    timeline = simulate(board, lambda job: 1.0)
    runs = sorted((e for e in timeline if not e[0].is_build), key=lambda e: (e[1], e[0].order))
    shared = [e[0].order for e in runs if not e[0].alone]
    alone = [e[0].order for e in runs if e[0].alone]
    assert alone == sorted(alone)
    assert [e[0].order for e in runs] == shared + alone
    # with every cell built at once, shared runs also start exactly in plan order
    everything_built = Board.of(
        [], [j for j, _, _ in timeline if not j.is_build], jobs=2, workers=2, built=["c0", "c1"]
    )
    everything_built.built.update({"c2", "c3", "c4"})
    everything_built.drop(lambda job: True)
    order = [e[0].order for e in simulate(everything_built, lambda job: 1.0)]
    assert [o for o in order if o in shared] == sorted(shared)


def test_same_board_gives_the_same_schedule() -> None:
    first = [(j.key, s) for j, s, _ in simulate(mixed_board(4), lambda job: 1.0)]
    assert first == [(j.key, s) for j, s, _ in simulate(mixed_board(4), lambda job: 1.0)]


def test_dropped_runs_never_start_and_are_counted_per_cell() -> None:
    board = Board.of(
        [build("a")], [run("a", 0), run("a", 1), run("a", 2, alone=True)], jobs=2, workers=1
    )
    (started,) = board.ready()
    assert started.is_build and not board.ready()
    board.done(started)
    assert board.drop(lambda job: job.order == 1) == {"a": 2}
    assert [j.order for j in board.ready()] == [1]
    board.done(board.running[0])
    assert board.finished


def test_a_released_run_frees_its_place_but_a_bench_run_waits_for_its_end() -> None:
    """jobs=1: once run 0's process has ended (released), run 1 starts while run 0 is still
    being finished; the bench run 3 waits until both are done; finishing runs beyond `jobs`
    hold their places again."""
    board = Board.of([], [run("a", 0), run("a", 1), run("a", 2), run("a", 3, alone=True)],
                     jobs=1, workers=1, built=["a"])  # fmt: skip
    (first,) = board.ready()
    assert board.ready() == []
    board.release(first)
    (second,) = board.ready()
    assert second.order == 1 and first in board.running
    board.release(second)  # two being finished with jobs=1: no third yet
    assert board.ready() == []
    board.done(first)
    (third,) = board.ready()
    assert third.order == 2
    board.release(third)
    board.done(second)
    assert board.ready() == []  # the bench run waits for run 2's finishing
    board.done(third)
    (bench,) = board.ready()
    assert bench.alone
    board.release(bench)
    assert board.ready() == [] and not board.finished
    board.done(bench)
    assert board.finished


def test_run_schedule_starts_the_next_run_when_work_releases_its_place() -> None:
    """jobs=1 on real threads: run 0 releases its place and then waits for run 1 to start: it
    can only finish because run 1 started while run 0 was still in `work`."""
    board = Board.of([], [run("a", 0), run("a", 1)], jobs=1, workers=1, built=["a"])
    second_started, finished = threading.Event(), []

    def work(job: Job, release: Callable[[], None]) -> bool:
        if job.order == 1:
            second_started.set()
            return True
        release()
        release()  # a second call changes nothing
        return second_started.wait(timeout=10)

    run_schedule(board, work, lambda job, seen: finished.append((job.order, seen)),
                 end_everything=lambda: None)  # fmt: skip
    assert sorted(finished) == [(0, True), (1, True)]


def test_bench_cpuset_takes_the_last_cpus_it_needs() -> None:
    assert bench_cpuset(2, [0, 1, 2, 3]) == (2, 3)
    assert bench_cpuset(1.5, range(8)) == (6, 7)
    assert bench_cpuset(4, [0, 1]) == (0, 1)
    assert bench_cpuset(2, []) == ()
    assert default_jobs() >= 1


# --- run_schedule on real threads ------------------------------------------------------------


def test_run_schedule_runs_jobs_at_a_time_and_finishes_on_the_calling_thread() -> None:
    board = Board.of([build("a")], [run("a", k, alone=k == 5) for k in range(8)], jobs=3, workers=1)
    lock, live, most, finished = threading.Lock(), [0], [0], []
    caller = threading.get_ident()

    def work(job: Job, release: Callable[[], None]) -> str:
        with lock:
            live[0] += 1
            most[0] = max(most[0], live[0])
        time.sleep(0.05)
        with lock:
            live[0] -= 1
        return f"done {job.key}"

    def finish(job: Job, result: str) -> None:
        assert threading.get_ident() == caller
        finished.append(result)

    run_schedule(board, work, finish, end_everything=lambda: None)
    assert len(finished) == 9 and most[0] == 3


def test_an_abandoned_schedule_ends_what_is_in_flight_and_records_none_of_it() -> None:
    """Ctrl-C in the scheduling thread: `end_everything` is called until the jobs in flight have
    ended, their results never reach `finish`, and jobs not started never start."""
    board = Board.of([], [run("a", k) for k in range(6)], jobs=2, workers=1, built=["a"])
    stop, started, finished, ended = threading.Event(), [], [], []

    def work(job: Job, release: Callable[[], None]) -> str:
        started.append(job.order)
        stop.wait(timeout=30)  # a process that runs until it is killed
        return "killed"

    def finish(job: Job, result: str) -> None:
        finished.append(result)

    def interrupt_soon() -> None:
        while len(started) < 2:
            time.sleep(0.01)
        raise KeyboardInterrupt

    def end_everything() -> None:
        ended.append(1)
        stop.set()

    board_ready = board.ready

    def ready() -> list[Job]:
        jobs = board_ready()
        if not jobs:
            interrupt_soon()
        return jobs

    board.ready = ready  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        run_schedule(board, work, finish, end_everything=end_everything)
    assert ended and stop.is_set()
    assert finished == [] and sorted(started) == [0, 1]
