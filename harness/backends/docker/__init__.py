"""The docker backend: every build and fixture run in its own container.

An ExecSpec names host paths. The container sees each of `spec.mounts` at the same path (read-only
or writable as given), the toolchain image's GOROOT in place of the host one (argv and env are
rewritten), GOCACHE as the Go version's named volume, and a tmpfs for /tmp and for HOME / GOPATH /
TMPDIR when no writable mount holds them. Every container runs with no network, a read-only root,
a non-root user (the caller's uid:gid; 65534:65534 when gxm runs as root, with the writable mounts
handed to it), tini as pid 1 (so a fatal signal kills the program as it does on the host),
memory = memory + swap, CPU and pids limits, and labels naming the run and cell. Stdin is always
empty (`stdin_null` cannot be False in a container).

gxm enforces the wall timeout itself (docker-py's `wait(timeout)` is only an HTTP timeout): SIGQUIT
so Go dumps every goroutine, SIGKILL `grace_s` later. OOM comes from the container state; logs are
copied to the spec's files before the container is removed, in `finally`, whatever happened.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import secrets
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from harness.backends.docker import engine, execwrap, images
from harness.backends.docker.containers import (
    container_config,
    container_env,
    container_name,
    container_user,
    docker_seconds,
    exit_status,
    start_failure,
)
from harness.backends.docker.leftovers import (
    Leftover,
    clean,
    doctor_report,
    leftovers,
    remove_abandoned_containers,
)
from harness.backends.logcap import CappedLog
from harness.context import Reporter
from harness.errors import GxmError, InfraError
from harness.goenv import cache_dir
from harness.model import DockerSettings, ExecResult, ExecSpec, Toolchain

__all__ = [
    "DockerBackend", "Leftover", "clean", "container_config", "container_name", "doctor_report",
    "exit_status", "leftovers", "unavailable_reason",
]  # fmt: skip

log = logging.getLogger("gxm.backends.docker")

WAIT_MIN_S = 0.02
# The program's peak RSS comes from gxmexec; the engine's stats (a slow call: 0.1-0.15 s, during
# which the container's end goes unseen) are sampled only in long runs, for the peak of a run
# that gets killed with its gxmexec (an OOM kill, a SIGKILL after the timeout's grace).
STATS_INTERVAL_S = 2.0
LABEL_SESSION = images.LABEL_SESSION


def _engine_errors() -> tuple[type[BaseException], ...]:
    """What the engine (or the host side of a container: mounts, logs) raises: never a cell's
    fault, always an infra error."""
    import requests
    from docker.errors import DockerException

    return (DockerException, requests.exceptions.RequestException, InfraError, OSError)


def unavailable_reason(settings: DockerSettings | None = None) -> str | None:
    """Why the docker backend cannot be used here (saying how to fix it), or None when it can.

    It can when an engine answers a ping and a base image can be had: configured (pulled when
    absent), already present, or bootstrappable here (root and debootstrap).
    """
    if importlib.util.find_spec("docker") is None:
        return "the docker Python package (docker-py) is missing: `pip install docker`"
    settings = settings or DockerSettings()
    try:
        client = engine.connect(timeout_s=10)
    except Exception as exc:  # docker-py wraps every connection failure differently
        return engine.engine_problem(exc)
    try:
        client.ping()
        if settings.base_image or images.find_image(client, images.bootstrap_tag(settings)):
            return None
        blocker = images.bootstrap_blocker()
        if blocker:
            return f"no base image {images.bootstrap_tag(settings)} and none can be made: {blocker}"
        return None
    except Exception as exc:
        return engine.engine_problem(exc)
    finally:
        client.close()


# --- the backend ---------------------------------------------------------------------------------


class DockerBackend:
    """Runs each ExecSpec in a container of its toolchain's image (see the module docstring)."""

    name = "docker"

    def __init__(
        self,
        *,
        reporter: Reporter | None = None,
        settings: DockerSettings | None = None,
        cache: Path | None = None,
        client: Any = None,
    ) -> None:
        self.reporter = reporter or Reporter()
        self.settings = settings or DockerSettings()
        self.cache = cache or cache_dir()
        try:
            self.client = client or engine.connect()
        except Exception as exc:  # docker-py wraps connection failures in several types
            raise InfraError(f"docker backend unavailable: {engine.engine_problem(exc)}") from exc
        self.user = container_user()
        self.session = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._prepared: dict[tuple[str, str], tuple[str, str]] = {}
        self._live: set[str] = set()
        self._lock = threading.Lock()
        self._prepare_lock = threading.Lock()
        self._stats_ok = True
        self._wrapper: Path | None = None
        self._engine_cpus: tuple[int, ...] | None = None

    def __enter__(self) -> DockerBackend:
        """Start by removing containers an earlier gxm could not (it died, or the engine died
        under it and came back with the container still there), and say so."""
        with contextlib.suppress(*_engine_errors()):
            removed = remove_abandoned_containers(self.client)
            if removed:
                names = ", ".join(removed)
                self.reporter.info(
                    f"gxm: removed {len(removed)} containers of dead gxm runs: {names}"
                )
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove_all()

    def prepare(self, toolchain: Toolchain) -> None:
        """Make sure the base image, the toolchain image and the GOCACHE volume exist."""
        self._image_for(toolchain)

    def pinnable_cpus(self) -> tuple[int, ...]:
        """The engine's CPUs (its host may not be this one): 0 … NCPU-1; () if it will not say."""
        if self._engine_cpus is None:
            failures: tuple[type[BaseException], ...] = (*_engine_errors(), ValueError, TypeError)
            try:
                self._engine_cpus = tuple(range(int(self.client.info().get("NCPU") or 0)))
            except failures:
                self._engine_cpus = ()
        return self._engine_cpus

    def image_for(self, toolchain: Toolchain) -> str:
        """The id of the toolchain image `execute` uses for `toolchain` (prepared if need be)."""
        return self._image_for(toolchain)[0]

    def _image_for(self, toolchain: Toolchain) -> tuple[str, str]:
        key = (toolchain.version, toolchain.sha256)
        with self._prepare_lock:
            if key not in self._prepared:
                try:
                    self._prepared[key] = self._make_inputs(toolchain)
                except GxmError:
                    raise
                except _engine_errors() as exc:
                    raise InfraError(f"docker: preparing go{toolchain.version}: {exc}") from exc
            return self._prepared[key]

    def _make_inputs(self, toolchain: Toolchain) -> tuple[str, str]:
        if not toolchain.go.is_file():
            raise InfraError(f"no go binary at {toolchain.go}: provision go{toolchain.version}")
        ref = images.base_reference(self.settings, toolchain.version)
        base = images.ensure_base(
            self.client, self.settings, toolchain.version, self.reporter, self.cache
        )
        image = images.ensure_toolchain_image(
            self.client, toolchain, base, ref, self.reporter, self.cache
        )
        owner = f"{self.user[0]}:{self.user[1]}"
        volume = images.ensure_gocache_volume(self.client, toolchain, image.id, owner)
        return image.id, volume

    def execute(self, spec: ExecSpec, toolchain: Toolchain) -> ExecResult:
        """Run `spec` in a fresh container (through gxmexec, which reports exactly how the
        program ended and caps its output); engine failures come back as `infra_error`."""
        started = time.monotonic()
        container_id: str | None = None
        exchange: Path | None = None
        try:
            image_id, volume = self._image_for(toolchain)
            exchange = execwrap.new_exchange(self.cache)
            inner = execwrap.wrapped(spec, self._wrapper_for(toolchain), exchange)
            self._hand_over_writable(inner, container_env(inner, toolchain))
            config = container_config(
                inner,
                toolchain,
                image=image_id,
                user=self.user,
                gocache_volume=volume,
                name=container_name(spec.label, secrets.token_hex(4)),
                session=self.session,
            )
            container_id = self._create(config)
            return self._supervise(container_id, spec, exchange, started)
        except _engine_errors() as exc:  # also OSError: handing the mounts over failed
            return ExecResult(
                None, None, False, False, time.monotonic() - started, None, _engine_failure(exc)
            )
        finally:
            if container_id is not None:
                self._remove(container_id)
            if exchange is not None:
                shutil.rmtree(exchange, ignore_errors=True)

    def _wrapper_for(self, toolchain: Toolchain) -> Path:
        with self._prepare_lock:
            if self._wrapper is None:
                self._wrapper = execwrap.wrapper_binary(toolchain, self.cache)
            return self._wrapper

    def _hand_over_writable(self, spec: ExecSpec, env: dict[str, str]) -> None:
        """Create the writable mount directories and, when gxm is root, give them to the user
        the container runs as (the GOCACHE one is a volume: left alone)."""
        for path, writable in spec.mounts:
            if not writable or str(path) == env.get("GOCACHE"):
                continue
            path.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0 and path.is_dir():
                status = path.stat()
                if (status.st_uid, status.st_gid) != self.user:
                    os.chown(path, *self.user)

    def _create(self, config: dict[str, Any]) -> str:
        """Create the container; its id. The low-level call, as `client.containers.create` does it
        minus the inspect that call makes afterwards to build a model (one engine round trip a
        run that nothing reads). Interrupted (Ctrl-C, SIGTERM) or failed while the engine was
        creating it, the container may be there without its id known here: it is removed by
        its name."""
        from docker.models.containers import _create_container_args  # type: ignore[attr-defined]

        args = _create_container_args({**config, "version": self.client.api._version})
        try:
            with self._lock:  # so remove_all never misses a container being created
                container_id = str(self.client.api.create_container(**args)["Id"])
                self._live.add(container_id)
        except BaseException:
            with contextlib.suppress(*_engine_errors()):
                self.client.api.remove_container(config["name"], force=True)
            raise
        log.debug("created %s (%s)", config["name"], " ".join(config["command"]))
        return container_id

    def _supervise(
        self, container_id: str, spec: ExecSpec, exchange: Path, started: float
    ) -> ExecResult:
        """Start the container, enforce the timeout, and report its end (logs saved first)."""
        self.client.api.start(container_id)
        deadline = time.monotonic() + spec.timeout_s
        kill_at: float | None = None
        # Memory is sampled every STATS_INTERVAL_S (the first after one interval: short runs pay
        # for none): the largest use without page cache, or gxmexec's figure, is the peak.
        timed_out, peak, next_stats = False, None, time.monotonic() + STATS_INTERVAL_S
        while True:
            now = time.monotonic()
            if now >= next_stats:
                peak = _larger(peak, self._memory_peak(container_id))
                next_stats = now + STATS_INTERVAL_S
            if not timed_out and now >= deadline:
                log.info("%s timed out after %.0fs: SIGQUIT", spec.label, spec.timeout_s)
                self._signal(container_id, "SIGQUIT")
                timed_out, kill_at = True, now + spec.grace_s
            elif kill_at is not None and now >= kill_at:
                self._signal(container_id, "SIGKILL")
                kill_at = None
            wake = min(next_stats, kill_at or next_stats, next_stats if timed_out else deadline)
            if self._exited_within(container_id, wake - now):
                break
        state = self.client.api.inspect_container(container_id)["State"]
        seconds = docker_seconds(state) or time.monotonic() - started
        ending = execwrap.collect(exchange, spec)
        if ending is not None:
            exit_code, signal_number = ending.exit_code, ending.signal
            dropped = ending.dropped_bytes
            peak = _larger(peak, ending.peak_rss_bytes)
            not_started = (
                ending.start_error and f"could not start the program: {ending.start_error}"
            )
        else:  # gxmexec died with the container (our SIGKILL, an OOM kill): the engine's word
            dropped = 0 if spec.stderr_path.exists() else self._save_logs(container_id, spec)
            exit_code, signal_number = exit_status(int(state.get("ExitCode", -1)))
            not_started = start_failure(exit_code, spec.stderr_path)
        oom_killed = bool(state.get("OOMKilled"))
        return ExecResult(
            exit_code, signal_number, timed_out, oom_killed, seconds, peak, not_started, dropped
        )

    def _exited_within(self, container_id: str, seconds: float) -> bool:
        """Block until the container exits (True) or `seconds` pass (False).

        The engine's wait call answers the moment the container ends; its timeout is only an
        HTTP read timeout, which is exactly what a bounded wait needs here.
        """
        import requests

        try:
            self.client.api.wait(container_id, timeout=max(seconds, WAIT_MIN_S))
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError) as exc:
            if "timed out" in str(exc) or isinstance(exc, requests.exceptions.ReadTimeout):
                return False
            raise
        return True

    def _signal(self, container_id: str, name: str) -> None:
        from docker.errors import APIError

        with contextlib.suppress(APIError):  # it may have ended meanwhile
            self.client.api.kill(container_id, signal=name)

    def _memory_peak(self, container_id: str) -> int | None:
        """The cgroup's peak memory use (cgroup v1 max_usage; the current usage on v2)."""
        from docker.errors import InvalidVersion

        if not self._stats_ok:
            return None
        try:
            stats = self.client.api.stats(container_id, stream=False, one_shot=True)
        except InvalidVersion:
            self._stats_ok = False
            return None
        except _engine_errors():
            return None
        return memory_in_use(stats.get("memory_stats") or {})

    def _save_logs(self, container_id: str, spec: ExecSpec) -> int:
        """The container's stdout and stderr, each into its spec file (one file if they agree),
        capped to the spec's log limit (head and tail); returns the bytes dropped."""
        if Path(spec.stdout_path) == Path(spec.stderr_path):
            targets = [(spec.stdout_path, True, True)]
        else:
            targets = [(spec.stdout_path, True, False), (spec.stderr_path, False, True)]
        dropped = 0
        for path, stdout, stderr in targets:
            path.parent.mkdir(parents=True, exist_ok=True)
            chunks = self.client.api.logs(
                container_id, stdout=stdout, stderr=stderr, stream=True, follow=False
            )
            with open(path, "wb") as handle:
                sink = CappedLog(handle, spec.log_limit_bytes)
                for chunk in chunks:
                    sink.write(chunk)
                dropped += sink.close()
        return dropped

    def _remove(self, container_id: str) -> None:
        try:
            self.client.api.remove_container(container_id, force=True)
        except _engine_errors() as exc:
            gone = ("No such container", "already in progress")  # another thread removes it
            if not any(text in str(exc) for text in gone):
                log.warning("could not remove container %s: %s", container_id[:12], exc)
        with self._lock:
            self._live.discard(container_id)

    def live_containers(self) -> list[str]:
        """Ids of the containers this backend started and has not removed yet."""
        with self._lock:
            return sorted(self._live)

    def remove_all(self) -> None:
        """Force-remove every container this backend instance started (also ones half-created)."""
        with self._lock:
            ids = set(self._live)
        with contextlib.suppress(*_engine_errors()):
            found = self.client.api.containers(
                all=True, filters={"label": f"{LABEL_SESSION}={self.session}"}
            )
            ids |= {entry["Id"] for entry in found}
        for container_id in ids:
            self._remove(container_id)


def memory_in_use(memory: dict[str, Any]) -> int | None:
    """The container's memory use without page cache (what the program holds), from one stats
    sample: usage minus `cache` (cgroup v1) or `file` (v2). The cgroup's max_usage is not used:
    it counts page cache, so a program that only read files looked big."""
    usage = memory.get("usage")
    if not usage:
        return None
    detail = memory.get("stats") or {}
    cache = detail.get("total_cache", detail.get("cache", detail.get("file", 0)))
    return max(int(usage) - int(cache or 0), 0) or None


def _engine_failure(exc: BaseException) -> str:
    """What went away, in words: the engine (connection refused/reset), or the docker error."""
    import requests

    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"the docker engine went away (no answer from it: {exc})"
    return f"docker: {exc}"


def _larger(a: int | None, b: int | None) -> int | None:
    return max(x for x in (a, b, 0) if x is not None) or None
