"""The docker backend's container configuration (pure): what `client.containers.create` gets for an
ExecSpec, container names and labels, and how a container's end state reads as an ExecResult's
exit code, signal, start failure and duration. See harness.backends.docker for the rules.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.backends.docker import images
from harness.model import ExecSpec, Toolchain

NOBODY = (65534, 65534)
SCRATCH_VARS = ("HOME", "GOPATH", "TMPDIR")
TMPFS_OPTIONS = "rw,exec,nosuid,nodev,mode=1777"
DEFAULT_TMPFS_BYTES = 1 << 30  # a tmpfs is charged to the container's memory; this caps it too
LABEL_SESSION = images.LABEL_SESSION
_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]+")


def container_user() -> tuple[int, int]:
    """The caller's uid:gid; nobody when that is root (containers never run as root)."""
    uid, gid = os.geteuid(), os.getegid()
    return NOBODY if uid == 0 else (uid, gid)


def container_name(label: str, suffix: str) -> str:
    """A valid, readable, unique container name from a spec's label."""
    readable = _NAME_UNSAFE.sub("_", label.replace("/", ".").replace("#", "-")).strip("_.-")
    return f"gxm-{readable[:80] or 'exec'}-{suffix}"


def container_labels(spec: ExecSpec, session: str) -> dict[str, str]:
    """dev.gxm (what `gxm clean` looks for), the run, the spec's label, the backend instance."""
    return {
        images.LABEL: "1",
        "dev.gxm.run": spec.run_id,
        "dev.gxm.label": spec.label,
        LABEL_SESSION: session,
    }


def map_goroot(text: str, host_goroot: Path) -> str:
    """Replace the host GOROOT (as a whole path element) by the image's."""
    pattern = re.escape(str(host_goroot).rstrip("/")) + r"(?=$|[/:])"
    return re.sub(pattern, images.IMAGE_GOROOT, text)


def container_env(spec: ExecSpec, toolchain: Toolchain) -> dict[str, str]:
    """The spec's environment with GOROOT paths mapped; a host CC path is dropped (the image's
    gcc is the pinned compiler)."""
    env = {key: map_goroot(value, toolchain.goroot) for key, value in spec.env}
    if env.get("CC", "").startswith("/"):
        del env["CC"]
    return env


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def container_mounts(
    spec: ExecSpec, toolchain: Toolchain, env: dict[str, str], gocache_volume: str | None
) -> list[dict[str, Any]]:
    """Bind mounts at the same paths (the GOROOT and GOCACHE ones replaced by the image's tree and
    the volume), parents before children so nesting works."""
    from docker.types import Mount

    gocache = env.get("GOCACHE")
    goroot = str(toolchain.goroot)
    mounts: dict[str, Any] = {}
    tmpdir = env.get("TMPDIR")
    for path, writable in spec.mounts:
        target = str(path)
        if _within(target, goroot) or target in (gocache, tmpdir) or target in mounts:
            continue  # TMPDIR is a tmpfs inside the container, never a host directory
        mounts[target] = Mount(target, target, type="bind", read_only=not writable)
    if gocache and gocache_volume:
        mounts[gocache] = Mount(gocache, gocache_volume, type="volume", read_only=False)
    return [mounts[key] for key in sorted(mounts, key=lambda p: (p.count("/"), p))]


def scratch_tmpfs(
    spec: ExecSpec, env: dict[str, str], user: tuple[int, int] = NOBODY
) -> dict[str, str]:
    """Size-limited tmpfs for /tmp and TMPDIR always (a fixture filling its temp dir fills
    container memory, never the host disk), and for HOME/GOPATH unless a writable mount holds
    them. The size is the spec's memory limit: tmpfs pages are charged to it anyway. The scratch
    ones belong to the container's user: docker resets a tmpfs to 0755 root when it is also the
    working directory, as a fixture's scratch dir is."""
    writable = [str(path) for path, rw in spec.mounts if rw]
    options = f"{TMPFS_OPTIONS},size={spec.memory_limit_bytes or DEFAULT_TMPFS_BYTES}"
    tmpfs = {"/tmp": options}
    for var in SCRATCH_VARS:
        path = env.get(var)
        if not path or not path.startswith("/"):
            continue
        if var == "TMPDIR" or not any(_within(path, w) for w in writable):
            tmpfs[path] = f"{options},uid={user[0]},gid={user[1]}"
    return tmpfs


def container_config(
    spec: ExecSpec,
    toolchain: Toolchain,
    *,
    image: str,
    user: tuple[int, int],
    gocache_volume: str | None,
    name: str,
    session: str = "",
) -> dict[str, Any]:
    """The keyword arguments of `client.containers.create` for one spec."""
    env = container_env(spec, toolchain)
    config: dict[str, Any] = {
        "image": image,
        "command": [map_goroot(arg, toolchain.goroot) for arg in spec.argv],
        "environment": env,
        "working_dir": str(spec.cwd),
        "user": f"{user[0]}:{user[1]}",
        "name": name,
        "labels": container_labels(spec, session),
        "network_mode": "none",
        "read_only": True,
        "tmpfs": scratch_tmpfs(spec, env, user),
        "mounts": container_mounts(spec, toolchain, env, gocache_volume),
        "init": True,
        # a fixture is untrusted code: no capability, no privilege gained through exec
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        # the engine's own copy of the output: two files of half the cap, so a flood cannot
        # fill the engine's disk (what gxm keeps of it is capped again, head and tail)
        "log_config": {
            "type": "json-file",
            "config": {"max-size": str(max(spec.log_limit_bytes // 2, 1 << 20)), "max-file": "2"},
        },
    }
    if spec.memory_limit_bytes is not None:
        config["mem_limit"] = spec.memory_limit_bytes
        config["memswap_limit"] = spec.memory_limit_bytes  # no swap: over the limit is OOM
    if spec.cpus is not None:
        config["nano_cpus"] = int(spec.cpus * 1e9)
    if spec.pids_limit is not None:
        config["pids_limit"] = spec.pids_limit
    if spec.cpuset:
        config["cpuset_cpus"] = ",".join(str(cpu) for cpu in spec.cpuset)
    if spec.core_dumps is not None:
        config["ulimits"] = [core_ulimit(spec.core_dumps)]
    return config


def core_ulimit(core_dumps: bool) -> Any:
    """The container's core size limit: unlimited so a crash leaves a core in the run's
    directory, or 0 (the engine's own limit, often unlimited, must not leak cores)."""
    from docker.types import Ulimit

    limit = -1 if core_dumps else 0
    return Ulimit(name="core", soft=limit, hard=limit)


def exit_status(exit_code: int) -> tuple[int | None, int | None]:
    """(exit code, signal) from a container's ExitCode, as the local backend reports them.

    tini (pid 1) exits 128+N when the program died of signal N (an OOM kill or our SIGKILL shows
    137); Go's own crashes exit 2 and stay exit codes. A program that exits 129..159 on purpose
    would be read as a signal: Go fixtures never do.
    """
    if 128 < exit_code < 160:
        return None, exit_code - 128
    return exit_code, None


def start_failure(exit_code: int | None, stderr_path: Path) -> str | None:
    """tini's message when it could not exec the program (exit 126/127): an infra error, as a
    failed start is on the local backend; None for a program that ran."""
    if exit_code not in (126, 127):
        return None
    try:
        with open(stderr_path, "rb") as handle:
            first = handle.read(2000).decode(errors="replace").splitlines()[:1]
    except OSError:
        return None
    if first and first[0].startswith("[FATAL tini"):
        return f"could not start the program: {first[0].split('] ', 1)[-1]}"
    return None


def docker_seconds(state: dict[str, Any]) -> float | None:
    """FinishedAt − StartedAt of a container state (nanosecond RFC 3339 times), if both are set."""
    try:
        start, end = (_parse_time(state[key]) for key in ("StartedAt", "FinishedAt"))
    except (KeyError, ValueError):
        return None
    seconds = end - start
    return seconds if seconds >= 0 else None


def _parse_time(text: str) -> float:
    main, _, rest = text.rstrip("Z").partition(".")
    fraction = float("0." + rest) if rest else 0.0
    stamp = datetime.fromisoformat(main + "+00:00").timestamp()
    if stamp <= 0:
        raise ValueError(text)
    return stamp + fraction
