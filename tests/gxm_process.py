"""Running the real `gxm` command line in a subprocess, as a user would, for integration tests."""

from __future__ import annotations

import functools
import os
import resource
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def gxm(
    *args: str,
    cwd: Path,
    timeout: float = 900,
    hard_core_limit: int | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m harness ARGS` in `cwd`, with this checkout's harness first on the path (and
    `env` instead of this process's environment when given).

    `hard_core_limit` lowers gxm's own core size limits (soft and hard) to that many bytes: a
    host where gxm's process cannot allow core dumps, without changing any host setting.
    """
    limit = None
    if hard_core_limit is not None:
        core = (hard_core_limit, hard_core_limit)
        limit = functools.partial(resource.setrlimit, resource.RLIMIT_CORE, core)
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=cwd,
        text=True,
        capture_output=True,
        timeout=timeout,
        env={**(os.environ if env is None else env), "PYTHONPATH": str(REPO)},
        preexec_fn=limit,
    )


def python_c(program: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -c PROGRAM` in the repository (this checkout's harness importable), output
    captured as text: for what needs a fresh interpreter (imports, threads, signals)."""
    return subprocess.run(
        [sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )
