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
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.errors import CommandError
from harness.masking import mask_secrets

log = logging.getLogger("gxm.shell")


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
            proc = subprocess.run(
                argv,
                cwd=cwd,
                env=full_env,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                stdin=stdin or subprocess.DEVNULL,
                start_new_session=True,
            )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        raise CommandError(argv, None, stderr or f"no answer within {timeout_s:.0f}s") from None
    except FileNotFoundError:
        raise CommandError(argv, 127, f"{argv[0]}: command not found") from None
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stderr or proc.stdout)
    return proc
