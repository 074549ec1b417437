"""The one way gxm runs a host command (pip, go, debootstrap …).

Every command is logged as a replayable `[shell]` line (like sweet's trace), bounded by a timeout,
and raises `CommandError` with its exit code and the tail of its stderr when it fails. Fixture runs
do not come through here: they go through a backend, which owns process groups and limits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

from harness.errors import CommandError
from harness.masking import mask_secrets

log = logging.getLogger("gxm.shell")

# Host commands running now (their pids), and a lock held while one starts: without cgroups the
# local backend ends a run's orphans by sweeping gxm's children, and these are no orphans.
_starting = threading.Lock()
_running: set[int] = set()


@contextlib.contextmanager
def host_commands_held() -> Iterator[frozenset[int]]:
    """While held no host command starts; yields the pids of those running now."""
    with _starting:
        yield frozenset(_running)


def shell_line(
    argv: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> str:
    """A line a user can paste into a shell to run the same command again."""
    env_part = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
    cmd = " ".join(shlex.quote(str(a)) for a in argv)
    line = f"{env_part} {cmd}".strip()
    return mask_secrets(f"(cd {shlex.quote(str(cwd))} && {line})" if cwd else line)


def run_command(
    argv: Sequence[str],
    *,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    check: bool = True,
    stdin_path: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `argv`, capture its output as text, and raise `CommandError` if it fails or times out.

    `env` replaces the environment entirely (an allow-list built by the caller); `extra_env` is
    added on top of it (or of os.environ when `env` is None). Only `extra_env` is shown in the log.
    `stdin_path` feeds a file to the command's stdin (else it reads nothing).
    """
    full_env = dict(os.environ if env is None else env)
    full_env.update(extra_env or {})
    argv = [str(a) for a in argv]
    log.info("[shell] %s", shell_line(argv, extra_env, cwd))
    try:
        with contextlib.ExitStack() as files:
            stdin = files.enter_context(open(stdin_path, "rb")) if stdin_path else None
            proc = _run_registered(argv, cwd, full_env, timeout_s, stdin)
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        raise CommandError(argv, None, stderr or f"no answer within {timeout_s:.0f}s") from None
    except FileNotFoundError:
        raise CommandError(argv, 127, f"{argv[0]}: command not found") from None
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stderr or proc.stdout)
    return proc


def _run_registered(
    argv: list[str],
    cwd: Path | None,
    env: dict[str, str],
    timeout_s: float,
    stdin: IO[bytes] | None,
) -> subprocess.CompletedProcess[str]:
    """subprocess.run, with the child's pid in `_running` from its start to its reaping."""
    with _starting:
        popen = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=stdin or subprocess.DEVNULL,
            start_new_session=True,
        )
        _running.add(popen.pid)
    try:
        with popen:
            try:
                stdout, stderr = popen.communicate(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                popen.kill()
                stdout, stderr = popen.communicate()
                raise subprocess.TimeoutExpired(
                    argv, timeout_s, stdout.encode(), stderr.encode()
                ) from None
            except BaseException:
                popen.kill()
                raise
    finally:
        _running.discard(popen.pid)
    return subprocess.CompletedProcess(argv, popen.returncode, stdout, stderr)
