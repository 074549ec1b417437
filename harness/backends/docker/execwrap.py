"""gxmexec: the small program every container runs first (go_fixtures/tools/gxmexec).

A container's exit code cannot tell a program's own exit(137) from death by SIGKILL, and the
engine's rotated log copy loses the head of a flood (where Go prints `fatal error:`). gxmexec,
between tini and the program, forwards signals, writes the program's stdout and stderr capped
(head and tail kept) into a per-run exchange directory, and records there how the program ended
and its peak RSS (`status.json`). It is built once per source version with the host's Go (static,
CGO off) into the cache and mounted read-only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from harness import goenv
from harness.atomic import file_lock
from harness.hostcmd import run_command
from harness.model import ExecSpec, Toolchain

SOURCE = Path(__file__).resolve().parents[3] / "go_fixtures" / "tools" / "gxmexec" / "main.go"
STATUS_FILE = "status.json"


@dataclass(frozen=True)
class Ending:
    """How the program ended, as gxmexec saw it."""

    exit_code: int | None
    signal: int | None
    dropped_bytes: int
    start_error: str | None = None
    peak_rss_bytes: int | None = None  # the program's (wait4's ru_maxrss), when it was waited for


def wrapper_binary(toolchain: Toolchain, cache: Path) -> Path:
    """The gxmexec binary for the current source, built on first use (any Go ≥ 1.21 will do)."""
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    target = cache / "tools" / f"gxmexec-{digest}" / "gxmexec"
    if target.is_file():
        return target
    with file_lock(cache / "locks" / "gxmexec.lock"):
        if target.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        env = goenv.go_env(
            toolchain, "", cache / "gocache" / f"go{toolchain.version}", {}, cache=cache
        )
        env["CGO_ENABLED"] = "0"
        tmp = target.with_name(".gxmexec.tmp")
        run_command(
            [str(toolchain.go), "build", "-o", str(tmp), "./tools/gxmexec"],
            timeout_s=600,
            env=env,
            cwd=SOURCE.parents[2],
        )
        os.replace(tmp, target)
    return target


def new_exchange(cache: Path) -> Path:
    """A fresh directory for one run's capped output and status (removed by the caller)."""
    (cache / "exec").mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="x-", dir=cache / "exec"))


def wrapped(spec: ExecSpec, wrapper: Path, exchange: Path) -> ExecSpec:
    """`spec` run through gxmexec: its argv prefixed, the wrapper and the exchange mounted."""
    return replace(
        spec,
        argv=(str(wrapper), str(exchange), str(spec.log_limit_bytes), *spec.argv),
        mounts=(*spec.mounts, (wrapper.parent, False), (exchange, True)),
    )


def collect(exchange: Path, spec: ExecSpec) -> Ending | None:
    """Move the capped output into the spec's log files; return how the program ended, or None
    when gxmexec could not say (killed with the container: SIGKILL, OOM of the wrapper)."""
    outputs = [exchange / "stdout", exchange / "stderr"]
    if any(p.exists() for p in outputs):
        spec.stdout_path.parent.mkdir(parents=True, exist_ok=True)
        if Path(spec.stdout_path) == Path(spec.stderr_path):
            with open(spec.stdout_path, "wb") as merged:
                for path in outputs:
                    if path.exists():
                        with open(path, "rb") as part:
                            shutil.copyfileobj(part, merged)
        else:
            for path, target in zip(outputs, (spec.stdout_path, spec.stderr_path), strict=True):
                if path.exists():
                    shutil.copyfile(path, target)
    try:
        status = json.loads((exchange / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return Ending(
        exit_code=status.get("exit_code"),
        signal=status.get("signal"),
        dropped_bytes=int(status.get("dropped") or 0),
        start_error=status.get("start_error"),
        peak_rss_bytes=int(status.get("max_rss_bytes") or 0) or None,
    )
