"""Every process a local run starts ends with that run, whatever it does (setsid, double fork).

Two mechanisms, the strongest the host allows:
- **cgroup** (v1 freezer hierarchy, or v2 with `cgroup.kill`; needs write access to
  /sys/fs/cgroup, i.e. root or a delegated tree): each process goes into its own cgroup
  `gxm/<run-id>/<exec>` as it starts (before its first instruction; see `spawning_into`); ending
  it freezes the cgroup (never gxm itself), SIGKILLs every member and removes it. Nothing can
  leave a cgroup by itself, and the cgroups outlive a SIGKILLed gxm, so the next run ends what a
  dead one left (`end_run_leftovers`).
- **subreaper** otherwise: gxm sets PR_SET_CHILD_SUBREAPER, so a descendant that detaches is
  reparented to gxm instead of init; the backend samples each process tree while it runs and at
  its end SIGKILLs every member it saw (pid and start time must still match) and every
  reparented orphan.
`mechanism()` names the one in use (the README says which applies where).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil

from harness.backends.procsample import cgroup_members

log = logging.getLogger("gxm.backends.containment")

CGROUP_ROOT = Path("/sys/fs/cgroup")
PR_SET_CHILD_SUBREAPER = 36
KILL_DEADLINE_S = 5.0


def _cgroup_base(root: Path = CGROUP_ROOT) -> tuple[Path, int] | None:
    """(the directory gxm's cgroups go under, cgroup version) when this host lets gxm make them."""
    candidates = [(root / "freezer", 1)]
    if (root / "cgroup.controllers").is_file():
        candidates.insert(0, (root, 2))
    for mount, version in candidates:
        base = mount / "gxm"
        try:
            base.mkdir(exist_ok=True)
        except OSError:
            continue
        if os.access(base, os.W_OK):
            return base, version
    return None


def containment_row() -> tuple[str, str, str]:
    """`gxm doctor`'s line: how the local backend makes a run's processes end with it here."""
    how = mechanism()
    if how == "subreaper":
        fix = "run as root or with a delegated cgroup v2 tree for a cgroup per process"
        return ("local containment", "subreaper (no cgroup can be made here)", fix)
    return ("local containment", f"{how}: a cgroup per process", "")


def enable_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux); False where unknown."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def mechanism() -> str:
    """`cgroup v1`, `cgroup v2` or `subreaper`: what ends a local run's processes here."""
    found = _cgroup_base()
    return f"cgroup v{found[1]}" if found else "subreaper"


def _own_cgroup_v1(base: Path | None) -> Path | None:
    """gxm's own cgroup in the v1 hierarchy `base` (…/freezer/gxm) is under, if it can write
    threads back into it; None otherwise."""
    if base is None:
        return None
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "freezer" in controllers.split(","):
            home = base.parent / path.lstrip("/")
            return home if os.access(home / "tasks", os.W_OK) else None
    return None


def _kill_pids(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _write(path: Path, text: str) -> bool:
    try:
        path.write_text(text)
    except OSError:
        return False
    return True


def end_cgroup(path: Path, version: int) -> list[int]:
    """Freeze, SIGKILL every member, thaw, wait until empty, remove; return the pids killed."""
    killed: list[int] = []
    deadline = time.monotonic() + KILL_DEADLINE_S
    while time.monotonic() < deadline:
        if version == 2 and (path / "cgroup.kill").exists():
            pids = cgroup_members(path)
            if pids:
                _write(path / "cgroup.kill", "1")
        else:  # gxm itself is never frozen or killed (a thread that failed to leave)
            ours = os.getpid() in cgroup_members(path)
            frozen = version == 1 and not ours and _write(path / "freezer.state", "FROZEN")
            pids = [pid for pid in cgroup_members(path) if pid != os.getpid()]
            _kill_pids(pids)
            if frozen:
                _write(path / "freezer.state", "THAWED")
        killed += [p for p in pids if p not in killed]
        if not pids:
            break
        time.sleep(0.01)
    with contextlib.suppress(OSError):
        path.rmdir()
    return killed


class Containment:
    """What one local backend uses to hold the processes it starts (see the module docstring)."""

    def __init__(self, root: Path = CGROUP_ROOT) -> None:
        found = _cgroup_base(root)
        self.base: Path | None = found[0] if found else None
        self.version = found[1] if found else 0
        # the subreaper is the second line even with cgroups: it catches what detached before
        # a process joined its cgroup, should joining ever fail
        self.subreaper = enable_subreaper()
        self.name = f"cgroup v{self.version}" if self.base else "subreaper"
        # v1: where gxm's own threads live, for a thread that starts a child in a run's cgroup
        self._home = _own_cgroup_v1(self.base) if self.version == 1 else None

    def new_cgroup(self, run_id: str) -> Path | None:
        """A fresh cgroup under `gxm/<run_id>/` for one process to be started, or None."""
        if self.base is None:
            return None
        path = self.base / run_id / f"exec-{secrets.token_hex(6)}"
        try:
            path.mkdir(parents=True)
        except OSError as exc:
            log.debug("no cgroup under %s: %s", self.base, exc)
            return None
        return path

    @contextlib.contextmanager
    def spawning_into(
        self, cgroup: Path | None
    ) -> Iterator[tuple[bool, Callable[[], object] | None]]:
        """Start a child inside this block and it is in `cgroup` before it runs anything: yields
        (joined, preexec_fn). On cgroup v1 the starting thread itself moves into the cgroup for
        the start (v1 places threads one by one and a child begins in its parent thread's
        cgroups), so no `preexec_fn` is needed and Python starts the child with vfork: a plain
        fork of the large gxm process plus Python's after-fork work in the child cost 20-60 ms
        a run. Otherwise a `preexec_fn` that writes `0` (the child itself) to the cgroup: the
        file is opened here, the child only makes that bound C call. (False, None): no cgroup,
        or it cannot be joined."""
        if cgroup is None:
            yield False, None
            return
        tid = str(threading.get_native_id())
        if self._home is not None and _write(cgroup / "tasks", tid):
            try:
                yield True, None
            finally:
                self._leave(tid)
            return
        try:
            fd = os.open(cgroup / "cgroup.procs", os.O_WRONLY)
        except OSError:
            yield False, None
            return
        try:
            yield True, functools.partial(os.write, fd, b"0")
        finally:
            os.close(fd)

    def _leave(self, tid: str) -> None:
        """Move the thread `tid` of gxm back to gxm's own cgroup (v1)."""
        assert self._home is not None
        for _ in range(3):
            if _write(self._home / "tasks", tid):
                return
        log.error("thread %s of gxm could not leave a run's cgroup", tid)

    def end(
        self, cgroup: Path | None, seen: dict[int, float], started_at: float, live: set[int]
    ) -> None:
        """End everything of one process: its cgroup, or every tree member seen (pid and start
        time matching) and every orphan reparented to gxm since `started_at` (`live`: the
        process groups the backend still runs, which are not orphans)."""
        if cgroup is not None:
            end_cgroup(cgroup, self.version)
            with contextlib.suppress(OSError):
                cgroup.parent.rmdir()  # the run's directory, once its last exec is gone
            return
        for pid, create_time in seen.items():
            with contextlib.suppress(psutil.Error):
                if psutil.Process(pid).create_time() == create_time:
                    os.kill(pid, signal.SIGKILL)
        if self.subreaper:
            self._end_orphans(started_at, live)

    def _end_orphans(self, started_at: float, live: set[int]) -> None:
        """SIGKILL and reap children of gxm that it did not start (reparented orphans) born
        since the exec started. While runs go on, gxm starts processes only through the backend
        (`live`); an escapee of a concurrent exec goes too, which is what it is."""
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process().children():
                if child.pid in live:
                    continue
                with contextlib.suppress(psutil.Error, ChildProcessError):
                    if child.create_time() >= started_at - 1:
                        child.kill()
                        os.waitpid(child.pid, 0)


def end_run_leftovers(run_id: str, root: Path = CGROUP_ROOT) -> list[int]:
    """Kill every process left in the cgroups of run `run_id` (by a gxm that died); their pids."""
    found = _cgroup_base(root)
    if found is None:
        return []
    base, version = found
    run_dir = base / run_id
    killed: list[int] = []
    if run_dir.is_dir():
        for cgroup in sorted(p for p in run_dir.iterdir() if p.is_dir()):
            killed += end_cgroup(cgroup, version)
        with contextlib.suppress(OSError):
            run_dir.rmdir()
    return killed
