"""Running a provisioned Go: the allow-listed environment it runs in and the probes gxm asks it.

`go_env` is the only environment any `go` of gxm sees (host or container): HOME, GOPATH and
GOCACHE under the per-user cache (`cache_dir`), never the shell's whole environment. The probes
(`experiment_supported`, `binary_runtime_version`) ask the toolchain itself rather than guess
from version numbers; `experiment_status` names what a requested GOEXPERIMENT turned out to do.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.errors import InfraError
from harness.hostcmd import run_command
from harness.model import Toolchain

GO_TIMEOUT_S = 120.0
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def cache_dir() -> Path:
    """The per-user cache: $GXM_CACHE, else $XDG_CACHE_HOME/gxm, else ~/.cache/gxm."""
    if os.environ.get("GXM_CACHE"):
        return Path(os.environ["GXM_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "gxm"
    return Path.home() / ".cache" / "gxm"


def _cache_of(toolchain: Toolchain) -> Path:
    """The cache a toolchain was provisioned into; the default cache for a foreign GOROOT."""
    entry = toolchain.goroot.parent
    return entry.parent.parent if entry.parent.name == "toolchains" else cache_dir()


def gocache_dir(cache: Path, toolchain: Toolchain) -> Path:
    """One GOCACHE per Go version, shared by every run (and by the docker backend's volume name)."""
    return cache / "gocache" / f"go{toolchain.version}"


def go_env(
    toolchain: Toolchain,
    goexperiment: str,
    gocache: Path,
    extra: Mapping[str, str],
    *,
    cache: Path | None = None,
) -> dict[str, str]:
    """The allow-listed environment for running `go` of `toolchain`: never the shell's whole one.

    HOME and GOPATH live under the cache (created here); CC passes through when set; `extra`
    (matrix env such as GOGC or GODEBUG) is applied last and wins.
    """
    base = cache or _cache_of(toolchain)
    home, gopath = base / "home", base / "gopath"
    for directory in (home, gopath):
        directory.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": f"{toolchain.goroot / 'bin'}:{SYSTEM_PATH}",
        "GOROOT": str(toolchain.goroot),
        "HOME": str(home),
        "GOCACHE": str(gocache),
        "GOPATH": str(gopath),
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "-buildvcs=false",
        "GOPROXY": "off",
        "CGO_ENABLED": "1",
    }
    if os.environ.get("CC"):
        env["CC"] = os.environ["CC"]
    if goexperiment:
        env["GOEXPERIMENT"] = goexperiment
    env.update(extra)
    return env


def _run_go(
    toolchain: Toolchain, args: Sequence[str], goexperiment: str = ""
) -> subprocess.CompletedProcess[str]:
    gocache = gocache_dir(_cache_of(toolchain), toolchain)
    env = go_env(toolchain, goexperiment, gocache, {})
    return run_command([str(toolchain.go), *args], env=env, timeout_s=GO_TIMEOUT_S, check=False)


def experiment_supported(toolchain: Toolchain, goexperiment: str) -> bool:
    """Whether this Go knows every experiment in `goexperiment` (`go env GOEXPERIMENT` accepts it).

    An unknown one (`go: unknown GOEXPERIMENT x`) gives False; any other failure is an InfraError.
    """
    if not goexperiment:
        return True
    proc = _run_go(toolchain, ["env", "GOEXPERIMENT"], goexperiment)
    if proc.returncode == 0:
        return True
    if "unknown GOEXPERIMENT" in proc.stderr:
        return False
    raise InfraError(
        f"`go env GOEXPERIMENT` of go{toolchain.version} failed: {proc.stderr.strip()[-300:]}"
    )


def binary_runtime_version(toolchain: Toolchain, binary: Path) -> str:
    """The runtime.Version() a built binary reports, read with `go version BINARY`."""
    proc = _run_go(toolchain, ["version", str(binary)])
    if proc.returncode != 0:
        raise InfraError(
            f"`go version {binary}` failed: {(proc.stderr or proc.stdout).strip()[-300:]}"
        )
    return parse_go_version_output(proc.stdout)


# --- reading the answers ------------------------------------------------------------------------


def parse_go_version_output(output: str) -> str:
    """`go version FILE` → the runtime version: `f: go1.26.6-X:arenas` → `go1.26.6-X:arenas`."""
    lines = [line for line in output.strip().splitlines() if line.strip()]
    if not lines or ": go" not in lines[-1]:
        raise InfraError(f"unexpected `go version` output: {output.strip()[-200:]!r}")
    return lines[-1].rsplit(": ", 1)[1].strip()


def experiment_status(requested: str, effective: tuple[str, ...]) -> str:
    """`default` (nothing requested), `same-as-default` (requested, but the binary's effective set
    is empty: the toolchain already does that by default) or `active`."""
    if not requested:
        return "default"
    return "active" if effective else "same-as-default"
