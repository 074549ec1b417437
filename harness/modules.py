"""A user's module dependencies: downloaded once on the host, then every build is offline.

`download` runs `go mod download` on the host with the user's own GOPROXY / GOPRIVATE / GONOSUMDB /
GOFLAGS / credentials settings into gxm's module cache; builds (`build_env`, `build_mounts`) then
run with GOPROXY=off and `-mod=mod` from that cache (read-only inside build containers), or with
`-mod=vendor` when the module has a vendor/ directory. A dependency that cannot be had is one
error naming the module and the proxy setting: exit 2 when the proxy says it does not exist (the
module's requirement is wrong), exit 4 when the proxy could not be asked.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from harness import goenv, toolchains
from harness.errors import GxmError, InfraError, UsageError
from harness.hostcmd import run_command
from harness.model import CellPlan, Fixture, Toolchain, go_version_key

DOWNLOAD_TIMEOUT_S = 900.0
# What the user's own environment may say about fetching modules (credentials included).
PASSED_THROUGH = (
    "GOPROXY", "GOPRIVATE", "GONOPROXY", "GONOSUMDB", "GONOSUMCHECK", "GOSUMDB", "GOINSECURE",
    "GOAUTH", "NETRC", "SSH_AUTH_SOCK", "GIT_SSH_COMMAND", "HTTPS_PROXY", "HTTP_PROXY",
    "NO_PROXY", "https_proxy", "http_proxy", "no_proxy",
)  # fmt: skip
DEFAULT_GOPROXY = "https://proxy.golang.org,direct"
_NOT_THERE = re.compile(
    r"not found|no such file|404|410|unknown revision|invalid version|no matching versions"
)
_FAILED_MODULE = re.compile(r"^go: (?:downloading )?(?P<module>[^\s@:]+@[^\s:]+): (?P<why>.+)$")


def module_cache(cache: Path) -> Path:
    """gxm's module cache (GOMODCACHE), shared by every run and Go version."""
    return cache / "modcache"


def has_vendor(module_dir: Path) -> bool:
    return (Path(module_dir) / "vendor" / "modules.txt").is_file()


def requires_modules(module_dir: Path) -> bool:
    """Whether go.mod has a `require` (only then is there anything to download)."""
    try:
        text = (Path(module_dir) / "go.mod").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(r"^\s*require\b", text, re.MULTILINE) is not None


def build_env(cache: Path, module_dir: Path) -> dict[str, str]:
    """What a build adds to the Go environment: offline, from gxm's module cache or vendor/."""
    mode = "-mod=vendor" if has_vendor(module_dir) else "-mod=mod"
    return {
        "GOMODCACHE": str(module_cache(cache)),
        "GOPROXY": "off",
        "GOFLAGS": f"-buildvcs=false {mode}",
        "GOSUMDB": "off",  # with GOPROXY=off the sums of go.sum are all there is to check
    }


def build_mounts(cache: Path, module_dir: Path) -> list[Path]:
    """Read-only mounts a build container needs besides the module: the module cache, when the
    module has dependencies there."""
    modcache = module_cache(cache)
    if has_vendor(module_dir) or not requires_modules(module_dir) or not modcache.is_dir():
        return []
    return [modcache]


def download_env(toolchain: Toolchain, cache: Path, host_env: Mapping[str, str]) -> dict[str, str]:
    """The environment of `go mod download`: gxm's Go environment plus the user's fetch settings."""
    env = goenv.go_env(toolchain, "", goenv.gocache_dir(cache, toolchain), {}, cache=cache)
    env.pop("GOPROXY")
    env.update({k: host_env[k] for k in PASSED_THROUGH if host_env.get(k)})
    netrc = Path(host_env.get("HOME", "~")).expanduser() / ".netrc"
    if "NETRC" not in env and netrc.is_file():
        env["NETRC"] = str(netrc)
    env["GOFLAGS"] = " ".join(
        ["-buildvcs=false", "-modcacherw", *host_env.get("GOFLAGS", "").split()]
    )
    env["GOMODCACHE"] = str(module_cache(cache))
    return env


def download(
    toolchain: Toolchain, module_dir: Path, cache: Path, host_env: Mapping[str, str] | None = None
) -> bool:
    """`go mod download` for a module with requirements and no vendor/; False when none was
    needed. Raises UsageError / InfraError (one line naming the module and GOPROXY) on failure."""
    if has_vendor(module_dir) or not requires_modules(module_dir):
        return False
    host = dict(os.environ if host_env is None else host_env)
    env = download_env(toolchain, cache, host)
    with _unchanged(module_dir, ("go.mod", "go.sum")):
        proc = run_command(
            [str(toolchain.go), "mod", "download"],
            env=env,
            timeout_s=DOWNLOAD_TIMEOUT_S,
            cwd=module_dir,
            check=False,
        )
    if proc.returncode != 0:
        raise download_error(module_dir, env.get("GOPROXY", DEFAULT_GOPROXY), proc.stderr)
    return True


@contextlib.contextmanager
def _unchanged(module_dir: Path, names: Sequence[str]) -> Iterator[None]:
    """Put the files `names` of the user's module back as they were (or absent) afterwards:
    `go mod download` adds missing sums to go.sum, and gxm never edits a user's module."""
    before = {}
    for name in names:
        path = Path(module_dir) / name
        before[path] = path.read_bytes() if path.is_file() else None
    try:
        yield
    finally:
        for path, data in before.items():
            current = path.read_bytes() if path.is_file() else None
            if current == data:
                continue
            if data is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(data)


def download_selected(
    plans: Sequence[CellPlan],
    fixtures: Mapping[str, Fixture],
    cache: Path,
    say: Callable[[str], None],
) -> None:
    """`go mod download` once per selected external module that needs it, with the newest Go of
    the selection (a go.mod may ask for a recent one), before any build."""
    module_dirs = sorted(
        {fixtures[n].module_dir for p in plans for n in p.fixtures if fixtures[n].external}
    )
    needing = [d for d in module_dirs if requires_modules(d) and not has_vendor(d)]
    if not needing:
        return
    newest = max((p.cell.go for p in plans), key=go_version_key)
    toolchain = toolchains.provision(newest, cache)
    for module_dir in needing:
        say(f"go mod download in {module_dir} (go{toolchain.version})")
        download(toolchain, module_dir, cache)


def download_error(module_dir: Path, goproxy: str, stderr: str) -> GxmError:
    """The one-line error for a failed `go mod download`, from go's own output."""
    module, why = "a dependency", ""
    for line in stderr.splitlines():
        match = _FAILED_MODULE.match(line.strip())
        if match:
            module, why = match["module"], match["why"]
            break
    if not why:
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        why = lines[-1].removeprefix("go: ") if lines else "go mod download failed"
    message = f"{module_dir}/go.mod: cannot download module {module} (GOPROXY={goproxy}): {why}"
    return UsageError(message) if _NOT_THERE.search(why) else InfraError(message)
