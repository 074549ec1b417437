"""Tests for harness.report.drawing: plots drawn in worker processes give the same files as
drawn here, a worker's failure is made good here (a real error raised here), and no worker
outlives `finish`, `cancel` or the process that started it."""

from __future__ import annotations

import os
import signal
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
from gxm_process import python_c

from harness.report import drawing, figstyle, plots

ROOT = Path(__file__).resolve().parents[2]


def _figure(label: str) -> Any:
    fig = figstyle.figure(2.0)
    fig.add_subplot().text(0.5, 0.5, label)
    return fig


def _jobs(out: Path, draw: Callable[[str], Any] = _figure, n: int = 4) -> list[drawing.PlotJob]:
    return [
        drawing.PlotJob(out / f"plot-{i}.png", lambda i=i: draw(f"plot {i}"), cost=1.0 + i)
        for i in range(n)
    ]


def _saver(log: Path) -> drawing.Save:
    """save_png, and a line `pid name` in `log` for each plot saved."""

    def save(fig: Any, path: Path) -> None:
        plots.save_png(fig, path, "inputs")
        with log.open("a") as lines:
            lines.write(f"{os.getpid()} {path.name}\n")

    return save


def _done(job: drawing.PlotJob) -> bool:
    return plots.png_text(job.path, plots.INPUTS_KEY) == "inputs"


def _savers(log: Path) -> dict[str, int]:
    return {
        name: int(pid)
        for pid, name in (line.split() for line in log.read_text().split("\n") if line)
    }


def _running_children() -> list[psutil.Process]:
    """This process's descendants that still run (zombies run nothing: the pytest process may
    be a subreaper, left with the zombies of other tests' orphans)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def _gone(pid: int) -> bool:
    """Whether `pid` has ended (a zombie counts: it runs nothing); waits a while for the
    kernel to deliver a kill."""
    for _ in range(200):
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def _blocked_workers(pids: Path, before: str = "") -> str:
    """The start of a program (after `before`) that starts two drawing workers which block, each
    leaving its pid as a file in `pids`, and goes on once both have: `pending` is the Drawing."""
    return before + textwrap.dedent(
        f"""
        import os, signal, time
        from pathlib import Path
        from harness.report import drawing

        pids = Path({str(pids)!r})

        def draw():
            (pids / str(os.getpid())).touch()
            signal.pause()

        jobs = [drawing.PlotJob(pids / f"{{i}}.png", draw) for i in range(2)]
        pending = drawing.start(jobs, lambda fig, path: None, lambda job: False, workers=2)
        while len(list(pids.iterdir())) < 2:
            time.sleep(0.05)
        """
    )


def test_share_out_balances_cost_and_keeps_every_job(tmp_path: Path) -> None:
    jobs = _jobs(tmp_path, n=5)  # costs 1..5
    groups = drawing.share_out(jobs, 2)
    assert sorted(j.path for g in groups for j in g) == sorted(j.path for j in jobs)
    assert sorted(sum(j.cost for j in g) for g in groups) == [7.0, 8.0]
    assert len(drawing.share_out(jobs[:1], 4)) == 1  # no empty group


def test_workers_draw_the_same_bytes_as_drawing_here(tmp_path: Path) -> None:
    here, there = tmp_path / "here", tmp_path / "there"
    drawing.draw_all(_jobs(here), _saver(tmp_path / "here.log"))
    pending = drawing.start(_jobs(there), _saver(tmp_path / "there.log"), _done, workers=2)
    pending.finish()
    savers = _savers(tmp_path / "there.log")
    assert os.getpid() not in savers.values()  # drawn by workers, not here
    assert len(set(savers.values())) == 2  # by two of them
    for i in range(4):
        name = f"plot-{i}.png"
        assert (there / name).read_bytes() == (here / name).read_bytes()
    assert _running_children() == []


def test_what_a_failed_worker_did_not_draw_is_drawn_here(tmp_path: Path) -> None:
    parent = os.getpid()

    def draw(label: str) -> Any:
        if os.getpid() != parent and label == "plot 3":
            raise RuntimeError("worker trouble")
        return _figure(label)

    pending = drawing.start(_jobs(tmp_path, draw), _saver(tmp_path / "log"), _done, workers=2)
    pending.finish()
    assert _savers(tmp_path / "log")["plot-3.png"] == parent
    assert all(_done(job) for job in _jobs(tmp_path))


def test_an_error_in_drawing_is_raised_here(tmp_path: Path) -> None:
    def draw(label: str) -> Any:
        raise ValueError(f"cannot draw {label}")

    pending = drawing.start(_jobs(tmp_path, draw), _saver(tmp_path / "log"), _done, workers=2)
    with pytest.raises(ValueError, match="cannot draw plot"):
        pending.finish()
    assert _running_children() == []


def test_cancel_ends_every_worker(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()

    def draw(label: str) -> Any:
        (pids / str(os.getpid())).touch()
        signal.pause()  # until killed

    pending = drawing.start(_jobs(tmp_path, draw), _saver(tmp_path / "log"), _done, workers=2)
    while len(list(pids.iterdir())) < 2:
        time.sleep(0.05)
    pending.cancel()
    assert all(_gone(int(p.name)) for p in pids.iterdir())
    assert _running_children() == []


def test_workers_end_with_the_process_that_started_them(tmp_path: Path) -> None:
    """SIGKILL leaves gxm no time to cancel anything: the kernel ends its workers."""
    program = _blocked_workers(tmp_path) + "os.kill(os.getpid(), signal.SIGKILL)\n"
    done = python_c(program)
    assert done.returncode == -signal.SIGKILL
    workers = [int(p.name) for p in tmp_path.iterdir()]
    assert len(workers) == 2 and all(_gone(pid) for pid in workers)


def test_no_workers_while_another_thread_runs() -> None:
    """A forked child gets only the forking thread: a lock another thread held stays held."""
    program = (
        "import threading\n"
        "from harness.report import drawing\n"
        "stop = threading.Event()\n"
        "threading.Thread(target=stop.wait).start()\n"
        "print(drawing.worker_count())\n"
        "stop.set()\n"
    )
    done = python_c(program)
    assert done.stdout.strip() == "1", done.stderr


def test_preload_imports_matplotlib_and_leaves_no_thread() -> None:
    program = (
        "import sys, threading\n"
        "from harness.report import drawing\n"
        "preload = drawing.Preload()\n"
        "preload.matplotlib()\n"
        "preload.join()\n"
        "print('matplotlib.figure' in sys.modules, threading.active_count())\n"
    )
    done = python_c(program)
    assert done.stdout.split() == ["True", "1"], done.stderr


def test_preload_once_starts_its_groundwork_once_whichever_threads_ask() -> None:
    """Every stress run asks for the groundwork (`before_shared`), from the scheduler's worker
    threads: it starts with the first and never again."""
    preload = drawing.Preload()
    started: list[int] = []
    go = threading.Barrier(4)

    def ask() -> None:
        go.wait()
        preload.once(lambda: started.append(threading.get_native_id()))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    preload.once(lambda: started.append(0))
    assert len(started) == 1 and started[0] != 0


def test_cancel_leaves_no_zombie_in_a_subreaper(tmp_path: Path) -> None:
    """gxm is a subreaper where it cannot make cgroups: killed workers that outlived the first
    one become its children, and are reaped too."""
    subreaper = "from harness.backends.containment import enable_subreaper\n"
    subreaper += "assert enable_subreaper()\n"
    program = _blocked_workers(tmp_path, before=subreaper) + textwrap.dedent(
        """
        import psutil
        pending.cancel()
        print(psutil.Process().children(recursive=True))
        """
    )
    done = python_c(program)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
