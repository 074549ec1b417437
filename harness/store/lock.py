"""One writer per run directory, and what a dead writer left behind.

A run directory's lock is the file `store.LOCK_FILE` in it, held with `flock` for the life of the
gxm that writes the run and naming that gxm (pid, its start time, host, backend). The kernel drops
the flock when its owner dies however it dies, so:
- a second writer (a concurrent `gxm run --resume`) finds the flock taken and is refused with the
  owner's pid and host;
- a writer that finds the flock free but the file naming another, unreleased owner takes over a
  stale lock: that gxm died (SIGKILL, power loss). What it left running is ended and reported:
  the processes in its cgroups (local backend), the containers labelled with its run id (docker),
  and its work directories under the cache.
Each work directory also holds the owner record, so the next gxm run of any run id removes the
work directories (and ends the processes) of a dead gxm even when its run is never resumed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

import psutil

from harness.atomic import write_json_atomic
from harness.errors import UsageError
from harness.store import LOCK_FILE, OWNER_FILE

log = logging.getLogger("gxm.store.lock")


@dataclass(frozen=True)
class Owner:
    """The gxm process that writes a run (the lock file's content)."""

    pid: int
    started: float  # the process's start time (epoch seconds), so a reused pid is not mistaken
    host: str
    run_id: str
    backend: str = ""
    released: bool = False

    @classmethod
    def me(cls, run_id: str, backend: str = "") -> Owner:
        pid = os.getpid()
        return cls(pid, psutil.Process(pid).create_time(), socket.gethostname(), run_id, backend)

    @classmethod
    def from_text(cls, text: str) -> Owner | None:
        try:
            doc = json.loads(text)
            return cls(
                pid=int(doc["pid"]),
                started=float(doc["started"]),
                host=str(doc["host"]),
                run_id=str(doc["run_id"]),
                backend=str(doc.get("backend", "")),
                released=bool(doc.get("released", False)),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def alive(self) -> bool:
        """Whether this gxm still runs (only knowable on its own host; elsewhere assume so)."""
        if self.host != socket.gethostname():
            return True
        try:
            return bool(psutil.Process(self.pid).create_time() == self.started)
        except psutil.Error:
            return False

    def describe(self) -> str:
        return f"gxm pid {self.pid} on {self.host}"


class RunLock:
    """The lock of one run directory (see the module docstring). Use as a context manager."""

    def __init__(self, run_dir: Path, owner: Owner) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        self.owner = owner
        self.stale: Owner | None = None
        self._handle: IO[str] | None = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def acquire(self) -> Owner | None:
        """Take the lock; return the dead owner it took over, if any. UsageError when another
        live gxm holds it."""
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = Owner.from_text(handle.read())
            handle.close()
            who = holder.describe() if holder else "another gxm"
            raise UsageError(
                f"run {self.owner.run_id} is being written by {who}; wait for it to finish "
                f"(or stop it) and then resume"
            ) from None
        handle.seek(0)
        previous = Owner.from_text(handle.read())
        if previous and previous.host != self.owner.host and not previous.released:
            handle.close()
            raise UsageError(
                f"run {self.owner.run_id} is locked by {previous.describe()}, which this host "
                f"cannot check; if that gxm is gone, remove {self.path} and resume"
            )
        if previous and not previous.released and previous.pid != self.owner.pid:
            self.stale = previous
        self._handle = handle
        self._write(self.owner)
        return self.stale

    def _write(self, owner: Owner) -> None:
        assert self._handle is not None
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(json.dumps(asdict(owner)) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def release(self) -> None:
        """Mark the lock released (the file stays: unlinking a flocked file races) and drop it."""
        if self._handle is None:
            return
        with contextlib.suppress(OSError):
            self._write(Owner(**{**asdict(self.owner), "released": True}))
        self._handle.close()
        self._handle = None


# --- what a dead gxm left -------------------------------------------------------------------------


def mark_work_dir(work_dir: Path, owner: Owner) -> None:
    """Name the owner in a work directory, so a later run can tell when it was abandoned."""
    write_json_atomic(Path(work_dir) / OWNER_FILE, asdict(owner))


def _work_owner(work_dir: Path) -> Owner | None:
    try:
        return Owner.from_text((work_dir / OWNER_FILE).read_text(encoding="utf-8"))
    except OSError:
        return None


def _kill_processes_in(work_dirs: list[Path]) -> list[int]:
    """Processes whose working directory lies in one of `work_dirs`: a fixture (its cwd is the
    scratch dir) or a build of the dead gxm that no cgroup held. Their pids, killed."""
    roots = tuple(str(d) for d in work_dirs)
    killed = []
    for proc in psutil.process_iter(["pid", "cwd"]):
        cwd = proc.info.get("cwd") or ""
        if roots and cwd.startswith(roots) and proc.pid != os.getpid():
            with contextlib.suppress(psutil.Error):
                proc.kill()
                killed.append(proc.pid)
    return killed


def _remove_containers(run_id: str) -> list[str]:
    """Containers labelled with `run_id` (the docker backend's runs of the dead gxm), removed."""
    from harness.backends.docker import engine

    try:
        client = engine.connect(timeout_s=60)
    except Exception as exc:  # noqa: BLE001 - no engine: nothing of the run can be running there
        log.info("no engine to look for containers of run %s in: %s", run_id, exc)
        return []
    names = []
    try:
        found = client.api.containers(all=True, filters={"label": f"dev.gxm.run={run_id}"})
        for entry in found:
            with contextlib.suppress(Exception):
                client.api.remove_container(entry["Id"], force=True)
                names.append(entry["Names"][0].lstrip("/"))
    except Exception as exc:  # noqa: BLE001 - report, never fail the new run for it
        log.warning("could not list containers of run %s: %s", run_id, exc)
    finally:
        client.close()
    return names


def end_leftovers(dead: Owner, cache: Path) -> list[str]:
    """End what the dead gxm `dead` left: processes, containers, work dirs. One line per kind."""
    from harness.backends.containment import end_run_leftovers

    work_dirs = [
        d
        for d in sorted((cache / "work").glob(f"{dead.run_id}-*"))
        if (owner := _work_owner(d)) is None or not owner.alive()
    ]
    pids = end_run_leftovers(dead.run_id) + _kill_processes_in(work_dirs)
    containers = _remove_containers(dead.run_id) if dead.backend != "local" else []
    for work_dir in work_dirs:
        shutil.rmtree(work_dir, ignore_errors=True)
    lines = []
    if pids:
        lines.append(f"ended {len(pids)} processes (pids {', '.join(map(str, sorted(pids)))})")
    if containers:
        lines.append(f"removed {len(containers)} containers ({', '.join(containers)})")
    if work_dirs:
        lines.append(f"removed work dirs {', '.join(str(d) for d in work_dirs)}")
    return lines


def sweep_abandoned(cache: Path) -> list[str]:
    """Before a run: end what every dead gxm left under `cache/work` (its work dirs name it)."""
    work = Path(cache) / "work"
    if not work.is_dir():
        return []
    reports = []
    dead: dict[str, Owner] = {}
    for work_dir in sorted(work.iterdir()):
        owner = _work_owner(work_dir)
        if owner is not None and not owner.alive():
            dead.setdefault(owner.run_id, owner)
    for run_id, owner in dead.items():
        lines = end_leftovers(owner, Path(cache))
        if lines:
            reports.append(f"run {run_id}, left by dead {owner.describe()}: {'; '.join(lines)}")
    return reports


def describe_takeover(dead: Owner, lines: list[str]) -> str:
    what = "; ".join(lines) if lines else "nothing of it was left running"
    return f"took over the lock of run {dead.run_id} from dead {dead.describe()}: {what}"


def end_what_the_dead_left(lock: RunLock, cache: Path) -> list[str]:
    """End what a dead gxm left, of this run (a stale lock) and under the cache; one line per
    dead gxm for the user."""
    lines = []
    if lock.stale is not None:
        lines.append(describe_takeover(lock.stale, end_leftovers(lock.stale, cache)))
    return lines + sweep_abandoned(cache)
