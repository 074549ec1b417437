"""The local backend with /bin/sh and python3 children (no Go): limits, signals, env, cleanup."""

from __future__ import annotations

import os
import resource
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from harness.backends.local import LocalBackend
from harness.errors import InfraError
from harness.model import ExecSpec, Toolchain

TOOLCHAIN = Toolchain("1.22.10", Path("/nonexistent/go"), "0" * 64)
ENV = (("PATH", "/usr/bin:/bin"), ("GXM_MARK", "1"))


def alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie waiting for a parent that is not us."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_dead(pid: int, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not alive(pid)


def wait_for_file(path: Path, within_s: float = 10.0) -> str:
    deadline = time.monotonic() + within_s
    while not (path.exists() and path.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return path.read_text().strip()


@pytest.fixture(autouse=True)
def no_leftover_processes() -> Iterator[None]:
    """Every test must leave no live child or grandchild of the test process behind."""
    yield
    survivors = [p for p in psutil.Process().children(recursive=True) if alive(p.pid)]
    assert survivors == []


@pytest.fixture
def backend() -> Iterator[LocalBackend]:
    with LocalBackend() as local:
        yield local
    assert local.live_pids() == []


def spec(tmp_path: Path, *argv: str, timeout_s: float = 30.0, **kwargs: object) -> ExecSpec:
    return ExecSpec(
        argv=argv,
        env=kwargs.pop("env", ENV),  # type: ignore[arg-type]
        cwd=tmp_path,
        stdout_path=tmp_path / "logs" / "out.txt",
        stderr_path=tmp_path / "logs" / "err.txt",
        timeout_s=timeout_s,
        **kwargs,  # type: ignore[arg-type]
    )


def test_exit_code_is_reported(backend: LocalBackend, tmp_path: Path) -> None:
    result = backend.execute(
        spec(tmp_path, "sh", "-c", "echo hi; echo oops >&2; exit 3"), TOOLCHAIN
    )
    assert (result.exit_code, result.signal, result.timed_out, result.oom_killed) == (
        3,
        None,
        False,
        False,
    )
    assert result.infra_error is None
    assert (tmp_path / "logs" / "out.txt").read_text() == "hi\n"
    assert (tmp_path / "logs" / "err.txt").read_text() == "oops\n"


def test_fatal_signal_is_reported(backend: LocalBackend, tmp_path: Path) -> None:
    result = backend.execute(spec(tmp_path, "sh", "-c", "kill -SEGV $$"), TOOLCHAIN)
    assert result.exit_code is None and result.signal == signal.SIGSEGV


def test_env_is_exactly_the_spec(
    backend: LocalBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GXM_SHOULD_NOT_LEAK", "secret")
    backend.execute(spec(tmp_path, "/usr/bin/env"), TOOLCHAIN)
    printed = (tmp_path / "logs" / "out.txt").read_text().splitlines()
    assert sorted(printed) == ["GXM_MARK=1", "PATH=/usr/bin:/bin"]


def test_stdin_is_dev_null_and_cwd_is_the_spec(backend: LocalBackend, tmp_path: Path) -> None:
    backend.execute(spec(tmp_path, "sh", "-c", "readlink /proc/self/fd/0; pwd; cat"), TOOLCHAIN)
    assert (tmp_path / "logs" / "out.txt").read_text().splitlines() == ["/dev/null", str(tmp_path)]


@pytest.mark.parametrize("core_dumps", [True, False, None])
def test_core_limit_of_the_child_is_the_specs(
    backend: LocalBackend, tmp_path: Path, core_dumps: bool | None
) -> None:
    """True raises the child's soft core limit to the hard one, False forbids cores, None keeps
    gxm's own limit; gxm's process itself is never changed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    show = "import resource; print(*resource.getrlimit(resource.RLIMIT_CORE))"
    backend.execute(spec(tmp_path, sys.executable, "-c", show, core_dumps=core_dumps), TOOLCHAIN)
    expected = {True: hard, False: 0, None: soft}[core_dumps]
    assert (tmp_path / "logs" / "out.txt").read_text().split() == [str(expected), str(hard)]
    assert resource.getrlimit(resource.RLIMIT_CORE) == (soft, hard)


_forks_of_gxm: list[int] = []
os.register_at_fork(before=lambda: _forks_of_gxm.append(1))  # Python's own forks of this process


def test_a_pinned_run_is_on_its_cpus_and_gxm_keeps_its_own(
    backend: LocalBackend, tmp_path: Path
) -> None:
    mine = os.sched_getaffinity(0)
    cpu = max(mine)
    show = "grep Cpus_allowed_list /proc/self/status"
    backend.execute(spec(tmp_path, "sh", "-c", show, cpuset=(cpu,)), TOOLCHAIN)
    assert (tmp_path / "logs" / "out.txt").read_text().split() == ["Cpus_allowed_list:", str(cpu)]
    assert os.sched_getaffinity(0) == mine


@pytest.mark.parametrize("core_dumps", [None, False])
def test_pinning_a_run_adds_no_fork_of_gxm(
    backend: LocalBackend, tmp_path: Path, core_dumps: bool | None
) -> None:
    """Bench runs are pinned, and a fork (not vfork) of the large gxm process costs a run 20-60
    ms: pinning may not need a `preexec_fn` (Python runs its before-fork hooks only for one).
    Compared with the same run unpinned: where joining the run's cgroup needs one (cgroup v2),
    both fork."""
    forks = []
    for cpuset in [(), (max(os.sched_getaffinity(0)),)]:
        before = len(_forks_of_gxm)
        run = spec(tmp_path, "true", cpuset=cpuset, core_dumps=core_dumps)
        assert backend.execute(run, TOOLCHAIN).exit_code == 0
        forks.append(len(_forks_of_gxm) - before)
    assert forks[1] == forks[0]


def test_one_file_for_both_streams_keeps_both(backend: LocalBackend, tmp_path: Path) -> None:
    both = tmp_path / "both.log"
    run = ExecSpec(("sh", "-c", "echo a; echo b >&2"), ENV, tmp_path, both, both, 30.0)
    backend.execute(run, TOOLCHAIN)
    assert sorted(both.read_text().split()) == ["a", "b"]


def test_timeout_sends_sigquit_first(backend: LocalBackend, tmp_path: Path) -> None:
    script = "trap 'echo dumping goroutines >&2; exit 2' QUIT; sleep 60 & wait"
    result = backend.execute(spec(tmp_path, "sh", "-c", script, timeout_s=0.3), TOOLCHAIN)
    assert result.timed_out and result.exit_code == 2
    assert "dumping goroutines" in (tmp_path / "logs" / "err.txt").read_text()


def test_timeout_of_a_plain_sleep(backend: LocalBackend, tmp_path: Path) -> None:
    result = backend.execute(spec(tmp_path, "sleep", "60", timeout_s=0.2), TOOLCHAIN)
    assert result.timed_out and result.signal == signal.SIGQUIT and not result.oom_killed


def test_ignored_sigquit_ends_in_sigkill_after_grace(backend: LocalBackend, tmp_path: Path) -> None:
    run = spec(tmp_path, "sh", "-c", "trap '' QUIT; sleep 60", timeout_s=0.2, grace_s=0.3)
    result = backend.execute(run, TOOLCHAIN)
    assert result.timed_out and result.signal == signal.SIGKILL


def test_memory_over_the_limit_is_killed(backend: LocalBackend, tmp_path: Path) -> None:
    hog = "import time; b = bytearray(300 << 20); time.sleep(60)"
    run = spec(tmp_path, sys.executable, "-c", hog, memory_limit_bytes=100 << 20)
    result = backend.execute(run, TOOLCHAIN)
    assert result.oom_killed and result.signal == signal.SIGKILL and not result.timed_out
    assert result.peak_rss_bytes is not None and result.peak_rss_bytes > 100 << 20


@pytest.mark.parametrize("mechanism", ["host", "subreaper"])
def test_memory_of_children_counts(tmp_path: Path, mechanism: str) -> None:
    """The whole run counts: its cgroup's members where the host gives one, else its tree."""
    from harness.backends.containment import Containment

    containment = Containment() if mechanism == "host" else Containment(root=tmp_path / "none")
    hog = "import time; b = bytearray(300 << 20); time.sleep(60)"
    script = f'"{sys.executable}" -c "{hog}"; echo survived'
    run = spec(tmp_path, "sh", "-c", script, memory_limit_bytes=100 << 20)
    with LocalBackend(containment=containment) as backend:
        result = backend.execute(run, TOOLCHAIN)
    assert result.oom_killed and not result.timed_out
    assert "survived" not in (tmp_path / "logs" / "out.txt").read_text()


def test_under_the_limit_runs_and_reports_peak_rss(backend: LocalBackend, tmp_path: Path) -> None:
    small = "import time; b = b'x' * (20 << 20); time.sleep(0.5)"
    run = spec(tmp_path, sys.executable, "-c", small, memory_limit_bytes=500 << 20)
    result = backend.execute(run, TOOLCHAIN)
    assert result.exit_code == 0 and not result.oom_killed
    assert result.peak_rss_bytes is not None and result.peak_rss_bytes >= 20 << 20


def test_peak_rss_is_the_programs_never_gxms(backend: LocalBackend, tmp_path: Path) -> None:
    """wait4's ru_maxrss counted the image the child was forked from: /bin/true "used" as much
    memory as the gxm (here: pytest) process that started it."""
    ballast = b"x" * (200 << 20)  # makes the parent big, as a gxm with results loaded is
    result = backend.execute(spec(tmp_path, "/bin/true"), TOOLCHAIN)
    assert result.exit_code == 0 and len(ballast) > 0
    assert result.peak_rss_bytes is None or result.peak_rss_bytes < 50 << 20


BUSY_S = "import time; end = time.monotonic() + {s}\nwhile time.monotonic() < end: pass"
TICKS_S = 0.1  # /proc/stat counts in clock ticks, one per 10 ms and CPU: a few either way


def _host_busy_s() -> float:
    times = psutil.cpu_times()
    return float(times.user + times.nice + times.system + times.irq + times.softirq + times.steal)


def test_the_runs_own_cpu_is_not_the_hosts_noise(backend: LocalBackend, tmp_path: Path) -> None:
    """A run spinning for 1 s and printing the CPU time it got: none of that is counted as
    other processes', whatever else the machine does meanwhile."""
    code = BUSY_S.format(s=1.0) + "\nprint(time.process_time())"
    before = _host_busy_s()
    result = backend.execute(spec(tmp_path, sys.executable, "-c", code), TOOLCHAIN)
    busy = _host_busy_s() - before
    own = float((tmp_path / "logs" / "out.txt").read_text())
    assert result.exit_code == 0 and own > 0.1
    assert result.others_cpu_s is not None
    assert result.others_cpu_s <= busy - own + TICKS_S


def test_a_process_busy_beside_the_run_is_the_hosts_noise(
    backend: LocalBackend, tmp_path: Path
) -> None:
    """Another process (not gxm, not the run) spinning while the run sleeps: its CPU time is
    in `others_cpu_s`, the load-average-free measure of a noisy machine."""
    hog = subprocess.Popen([sys.executable, "-c", BUSY_S.format(s=30)])
    try:
        time.sleep(0.2)  # spinning before the run starts
        hog_before = sum(psutil.Process(hog.pid).cpu_times()[:2])
        result = backend.execute(spec(tmp_path, "sleep", "1"), TOOLCHAIN)
        hog_used = sum(psutil.Process(hog.pid).cpu_times()[:2]) - hog_before
    finally:
        hog.kill()
        hog.wait()
    assert result.exit_code == 0 and hog_used > 0.05
    assert result.others_cpu_s is not None and result.others_cpu_s >= hog_used - TICKS_S


@pytest.mark.parametrize("kind", ["missing", "not-executable", "bad-cwd"])
def test_failure_to_start_is_an_infra_error(
    backend: LocalBackend, tmp_path: Path, kind: str
) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\n")
    argv = {"missing": str(tmp_path / "nope"), "not-executable": str(script)}.get(kind, "true")
    run = spec(tmp_path, argv)
    if kind == "bad-cwd":
        run = ExecSpec(run.argv, ENV, tmp_path / "gone", run.stdout_path, run.stderr_path, 30.0)
    result = backend.execute(run, TOOLCHAIN)
    assert result.infra_error and "could not start" in result.infra_error
    assert result.exit_code is None and not result.timed_out


def test_prepare_checks_the_toolchain(backend: LocalBackend, tmp_path: Path) -> None:
    with pytest.raises(InfraError, match="no go binary"):
        backend.prepare(TOOLCHAIN)
    go = tmp_path / "go" / "bin" / "go"
    go.parent.mkdir(parents=True)
    go.write_text("")
    backend.prepare(Toolchain("1.22.10", tmp_path / "go", "0" * 64))


def test_leftover_grandchildren_are_killed_when_the_leader_exits(
    backend: LocalBackend, tmp_path: Path
) -> None:
    script = "sleep 60 & echo $! > grandchild.pid"
    result = backend.execute(spec(tmp_path, "sh", "-c", script), TOOLCHAIN)
    assert result.exit_code == 0
    assert wait_dead(int((tmp_path / "grandchild.pid").read_text()))


def interrupt_main_after(delay_s: float) -> None:
    """Deliver a KeyboardInterrupt to the main thread as Ctrl-C would, after `delay_s`."""

    def on_alarm(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, delay_s)


def test_keyboard_interrupt_kills_the_whole_tree(tmp_path: Path) -> None:
    script = "sleep 60 & echo $! > grandchild.pid; setsid sleep 60 & echo $! > escaped.pid; wait"
    previous = signal.getsignal(signal.SIGALRM)
    backend = LocalBackend()
    try:
        interrupt_main_after(0.5)
        with pytest.raises(KeyboardInterrupt):
            backend.execute(spec(tmp_path, "sh", "-c", script), TOOLCHAIN)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert backend.live_pids() == []
    for name in ("grandchild.pid", "escaped.pid"):
        assert wait_dead(int(wait_for_file(tmp_path / name))), name


def test_exit_kills_what_another_thread_is_running(tmp_path: Path) -> None:
    results = []
    with LocalBackend() as backend:
        worker = threading.Thread(
            target=lambda: results.append(backend.execute(spec(tmp_path, "sleep", "60"), TOOLCHAIN))
        )
        worker.start()
        deadline = time.monotonic() + 10
        while not backend.live_pids() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert backend.live_pids()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert results[0].signal == signal.SIGKILL and not results[0].timed_out


DETACH = """
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        open(sys.argv[1] + ".tmp", "w").write(str(os.getpid()))
        os.rename(sys.argv[1] + ".tmp", sys.argv[1])
        time.sleep(300)
    os._exit(0)
time.sleep(0.3)
"""


@pytest.mark.parametrize("mechanism", ["host", "subreaper"])
def test_a_grandchild_that_detaches_ends_with_its_run(tmp_path: Path, mechanism: str) -> None:
    """setsid() + double fork used to outlive the run, reparented to init; now it ends with it
    (in a cgroup where the host allows one, else by gxm as its subreaper)."""
    from harness.backends.containment import Containment

    containment = Containment() if mechanism == "host" else Containment(root=tmp_path / "none")
    assert mechanism == "host" or containment.name == "subreaper"
    pid_file = tmp_path / "grandchild.pid"
    with LocalBackend(containment=containment) as local:
        result = local.execute(
            spec(tmp_path, sys.executable, "-c", DETACH, str(pid_file)), TOOLCHAIN
        )
        assert result.exit_code == 0
        grandchild = int(wait_for_file(pid_file))
        assert wait_dead(grandchild, within_s=2.0), f"{containment.name}: {grandchild} alive"


def test_a_run_starts_in_its_own_cgroup_and_gxm_stays_in_its_own(tmp_path: Path) -> None:
    """Where the host gives cgroups, the program is in its run's cgroup from its first
    instruction (on v1 the starting thread of gxm moves there for the start, and back)."""
    from harness.backends.containment import Containment

    containment = Containment()
    before = Path("/proc/self/cgroup").read_text()
    show = "print(open('/proc/self/cgroup').read())"
    run_id = f"run-{secrets.token_hex(4)}"  # its own: other sessions share the host's cgroups
    run = spec(tmp_path, sys.executable, "-c", show, label=f"{run_id}/cell/fixture#1")
    with LocalBackend(containment=containment) as local:
        result = local.execute(run, TOOLCHAIN)
    assert result.exit_code == 0
    seen = (tmp_path / "logs" / "out.txt").read_text()
    assert (f"/gxm/{run_id}/exec-" in seen) == (containment.base is not None), seen
    threads = Path("/proc/self/task").iterdir()
    assert all((t / "cgroup").read_text() == before for t in threads)  # every thread home
    assert not (containment.base and (containment.base / run_id).exists())  # removed


def test_a_flood_of_output_is_capped_keeping_head_and_tail(
    backend: LocalBackend, tmp_path: Path
) -> None:
    """A fixture writing without end used to fill the disk (1.8 GB in 5 s); the log keeps its
    first and last bytes and says how many were dropped."""
    flood = "echo FIRST; yes flood | head -c 50000000; echo LAST"
    run = spec(tmp_path, "sh", "-c", flood, log_limit_bytes=1 << 20)
    result = backend.execute(run, TOOLCHAIN)
    log = (tmp_path / "logs" / "out.txt").read_bytes()
    assert result.exit_code == 0
    assert len(log) < (1 << 20) + 200
    assert log.startswith(b"FIRST\n") and log.endswith(b"LAST\n")
    assert result.log_bytes_dropped == 50000000 + len("FIRST\nLAST\n") - (1 << 20)
    assert f"[gxm: {result.log_bytes_dropped} bytes of output dropped".encode() in log


def test_a_host_command_of_another_thread_is_no_orphan_of_a_run(tmp_path: Path) -> None:
    """Without cgroups gxm ends a run's reparented orphans as its subreaper. A host command (a
    `go env`, test2json, eu-stack) that another thread started meanwhile is a child of gxm too,
    but no orphan: a run ending beside it must leave it alone (with --jobs N this happens all the
    time; it used to be SIGKILLed and reaped from under its thread)."""
    from harness.backends.containment import Containment
    from harness.hostcmd import run_command

    containment = Containment(root=tmp_path / "none")
    assert containment.name == "subreaper"
    outcome: dict[str, object] = {}

    def host_command() -> None:
        try:
            done = run_command(["sh", "-c", "sleep 1.5; echo done"], timeout_s=20)
            outcome["stdout"] = done.stdout
        except Exception as exc:  # noqa: BLE001 - the test reports whatever went wrong
            outcome["error"] = exc

    def start_host_command_soon() -> threading.Thread:
        time.sleep(0.2)  # after the run started: born since it started, like its orphans
        thread = threading.Thread(target=host_command)
        thread.start()
        return thread

    with LocalBackend(containment=containment) as local:
        starter = threading.Thread(target=lambda: outcome.update(t=start_host_command_soon()))
        starter.start()
        assert local.execute(spec(tmp_path, "sleep", "0.8"), TOOLCHAIN).exit_code == 0
        starter.join()
        thread = outcome.pop("t")
        assert isinstance(thread, threading.Thread)
        thread.join(timeout=20)
    assert outcome == {"stdout": "done\n"}  # killed, it would print nothing
