"""gxm's images and volumes (the engine connection is `engine.py`).

- **Base image**: `docker.base_image` from the matrix (`{go}` is replaced by the Go version; pulled
  when absent; it must have gcc), else `gxm-base:<suite>`, bootstrapped offline once with
  debootstrap (a minimal Debian with gcc, libc6-dev and elfutils: BASE_PACKAGES) and
  `docker import`.
- **Toolchain image** per Go version: base + the cached GOROOT at IMAGE_GOROOT, tagged
  `gxm-go:<version>-<sha12>` and labelled with the toolchain's sha256 and the base image id, so
  it is reused until one of those inputs changes.
- **GOCACHE volume** per Go version (`gxm-gocache-go1.22.10`), owned by the user containers run as.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import shutil
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.atomic import file_lock
from harness.context import Reporter
from harness.errors import CommandError, InfraError
from harness.hostcmd import run_command
from harness.model import DockerSettings, Toolchain

log = logging.getLogger("gxm.images")

LABEL = "dev.gxm"  # on every container, volume and image gxm makes
LABEL_ROLE = "dev.gxm.role"  # base | toolchain | gocache
LABEL_TOOLCHAIN_SHA = "dev.gxm.toolchain-sha256"
LABEL_BASE_ID = "dev.gxm.base-id"
LABEL_GO_VERSION = "dev.gxm.go-version"
LABEL_OWNER = "dev.gxm.owner"
LABEL_RECIPE = "dev.gxm.recipe"
LABEL_SESSION = "dev.gxm.session"  # `<pid>-<token>` of the backend that started a container
# Not /usr/local/go: a configured golang:* base already has its own Go there.
IMAGE_GOROOT = "/opt/gxm/go"
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BOOTSTRAP_TIMEOUT_S = 1800.0
HEARTBEAT_S = 15.0
# --- locks and progress --------------------------------------------------------------------------


@contextlib.contextmanager
def _heartbeat(reporter: Reporter, what: str) -> Iterator[None]:
    """A `still <what> (Ns)` line every HEARTBEAT_S while a long silent step runs."""
    stop = threading.Event()
    started = time.monotonic()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            reporter.info(f"  … still {what} ({time.monotonic() - started:.0f}s)")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def find_image(client: Any, ref: str) -> Any | None:
    from docker.errors import ImageNotFound

    try:
        return client.images.get(ref)
    except ImageNotFound:
        return None


# --- the base image ------------------------------------------------------------------------------


# What the bootstrapped base image holds: gcc and libc6-dev for cgo (gcc pulls in binutils) and
# elfutils (eu-addr2line, eu-stack) to name C frames of crashes (harness.symbolize). Not gdb:
# debootstrap cannot resolve its dependencies (libsource-highlight4v5) in bookworm. The
# image is labelled with a hash of this recipe, so a change rebuilds images made before it.
BASE_PACKAGES = ("gcc", "libc6-dev", "elfutils")


def bootstrap_tag(settings: DockerSettings) -> str:
    return f"gxm-base:{settings.bootstrap_suite}"


def base_recipe(settings: DockerSettings) -> str:
    """The identity of a bootstrapped base image's contents (its `dev.gxm.recipe` label)."""
    text = f"{settings.bootstrap_suite} {','.join(BASE_PACKAGES)}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _is_current_base(image: Any, settings: DockerSettings) -> bool:
    return (image.labels or {}).get(LABEL_RECIPE) == base_recipe(settings)


def base_reference(settings: DockerSettings, go_version: str) -> str:
    """The base image a Go version's toolchain image is built FROM."""
    if settings.base_image:
        return settings.base_image.replace("{go}", go_version)
    return bootstrap_tag(settings)


def bootstrap_blocker() -> str | None:
    """Why this process cannot bootstrap a base image, with the fix; None when it can."""
    missing = [tool for tool in ("debootstrap", "tar") if shutil.which(tool) is None]
    if missing:
        return (
            f"{' and '.join(missing)} missing: install with `sudo apt-get install "
            f"{' '.join(missing)}`, or set docker.base_image to an image with gcc"
        )
    if os.geteuid() != 0:
        return "debootstrap needs root: run gxm once as root, or set docker.base_image"
    return None


def ensure_base(
    client: Any, settings: DockerSettings, go_version: str, reporter: Reporter, cache: Path
) -> Any:
    """The base image for `go_version`: present, else pulled (configured) or bootstrapped."""
    ref = base_reference(settings, go_version)
    found = find_image(client, ref)
    if settings.base_image:
        return found if found is not None else _pull(client, ref, reporter)
    if found is not None and _is_current_base(found, settings):
        return found
    with file_lock(cache / "locks" / "docker-base.lock"):
        found = find_image(client, ref)  # another gxm may have made it while we waited
        if found is not None and _is_current_base(found, settings):
            return found
        if found is not None:
            reporter.info(f"base image: {ref} predates the current recipe (elfutils)")
        return bootstrap_base(client, settings, reporter, cache)


def _pull(client: Any, ref: str, reporter: Reporter) -> Any:
    from docker.errors import DockerException
    from docker.utils import parse_repository_tag

    repository, tag = parse_repository_tag(ref)
    reporter.info(f"base image: pulling {ref}")
    try:
        with _heartbeat(reporter, f"pulling {ref}"):
            for event in client.api.pull(repository, tag or "latest", stream=True, decode=True):
                if "error" in event:
                    raise InfraError(f"could not pull {ref}: {event['error']}")
        return client.images.get(ref)
    except DockerException as exc:
        raise InfraError(
            f"could not pull the base image {ref}: {exc}; make it present (`docker load`), or "
            "leave docker.base_image empty to bootstrap one offline"
        ) from exc


def bootstrap_base(client: Any, settings: DockerSettings, reporter: Reporter, cache: Path) -> Any:
    """debootstrap a minimal Debian with BASE_PACKAGES and import it as `gxm-base:<suite>`."""
    blocker = bootstrap_blocker()
    if blocker:
        raise InfraError(
            f"no base image {bootstrap_tag(settings)} and cannot bootstrap one: {blocker}"
        )
    (cache / "bootstrap").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".tmp-base-", dir=cache / "bootstrap"))
    started = time.monotonic()
    try:
        rootfs = work / "rootfs"
        reporter.info(
            f"base image: bootstrapping Debian {settings.bootstrap_suite} from "
            f"{settings.bootstrap_mirror} with debootstrap (once; about a minute)"
        )
        argv = ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}"]
        argv += [settings.bootstrap_suite, str(rootfs), settings.bootstrap_mirror]
        with _heartbeat(reporter, "bootstrapping the base image"):
            _run_step(argv, "debootstrap failed (is the Debian mirror reachable?)")
        _trim_rootfs(rootfs)
        reporter.info(f"base image: importing it as {bootstrap_tag(settings)}")
        archive = work / "rootfs.tar"
        _run_step(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(archive), "."], "tar")
        image = _import(client, archive, settings)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    reporter.info(
        f"base image: {bootstrap_tag(settings)} ready ({time.monotonic() - started:.0f}s)"
    )
    return image


def _run_step(argv: list[str], what: str) -> None:
    try:
        run_command(argv, timeout_s=BOOTSTRAP_TIMEOUT_S, env={"PATH": IMAGE_PATH, "LANG": "C"})
    except CommandError as exc:
        raise InfraError(f"{what}: {exc}") from exc


def _trim_rootfs(rootfs: Path) -> None:
    """Drop apt's package cache and lists: nothing in the image installs packages later."""
    for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for entry in (rootfs / junk).glob("*"):
            if entry.is_file() and entry.name != "lock":
                entry.unlink()
    for binary_cache in (rootfs / "var/cache/apt").glob("*.bin"):
        binary_cache.unlink()


def _import(client: Any, archive: Path, settings: DockerSettings) -> Any:
    from docker.errors import DockerException

    repository, tag = bootstrap_tag(settings).split(":", 1)
    changes = [
        f"LABEL {LABEL}=1 {LABEL_ROLE}=base dev.gxm.suite={settings.bootstrap_suite} "
        f"{LABEL_RECIPE}={base_recipe(settings)}",
        f"ENV PATH={IMAGE_PATH}",
        'CMD ["/bin/sh"]',
    ]
    try:
        client.api.import_image(src=str(archive), repository=repository, tag=tag, changes=changes)
        return client.images.get(bootstrap_tag(settings))
    except DockerException as exc:
        raise InfraError(f"docker import of the bootstrapped base failed: {exc}") from exc


# --- the toolchain image -------------------------------------------------------------------------


def toolchain_tag(toolchain: Toolchain) -> str:
    return f"gxm-go:{toolchain.version}-{toolchain.sha256[:12]}"


def toolchain_labels(toolchain: Toolchain, base_id: str, recipe: str) -> dict[str, str]:
    """The labels that say which inputs a toolchain image was built from (`recipe`: its
    Dockerfile, recorded by hash so a changed recipe rebuilds the image)."""
    return {
        LABEL: "1",
        LABEL_ROLE: "toolchain",
        LABEL_TOOLCHAIN_SHA: toolchain.sha256,
        LABEL_BASE_ID: base_id,
        LABEL_RECIPE: hashlib.sha256(recipe.encode()).hexdigest()[:16],
        LABEL_GO_VERSION: toolchain.version,
    }


def is_current(labels: dict[str, str] | None, wanted: dict[str, str]) -> bool:
    """Whether an image with `labels` was built from exactly the inputs `wanted` names."""
    labels = labels or {}
    return all(labels.get(key) == value for key, value in wanted.items())


def dockerfile(base_id: str) -> str:
    """FROM the base (by id, so the label cannot lie) + the GOROOT; checks gcc and go work.

    /root is opened (0755): host paths under a root user's home (~/.cache/gxm) are mounted at the
    same paths, and the non-root container user must be able to reach them. The text names no
    image reference, so the same base reached by two names gives the same toolchain image.
    """
    no_gcc = (
        "gxm: the base image has no gcc: use an image with gcc and libc6-dev "
        "(golang:{go}-bookworm) or leave docker.base_image empty to bootstrap one"
    )
    return (
        f"FROM {base_id}\n"
        f"COPY go {IMAGE_GOROOT}\n"
        f"ENV GOROOT={IMAGE_GOROOT} PATH={IMAGE_GOROOT}/bin:{IMAGE_PATH}\n"
        f"RUN command -v gcc >/dev/null || {{ echo '{no_gcc}' >&2; exit 1; }}\n"
        f"RUN {IMAGE_GOROOT}/bin/go version && chmod 0755 /root\n"
    )


def ensure_toolchain_image(
    client: Any, toolchain: Toolchain, base: Any, base_ref: str, reporter: Reporter, cache: Path
) -> Any:
    """The toolchain image for `toolchain` on `base`: reused when its labels match, else built."""
    recipe = dockerfile(base.id)
    wanted = toolchain_labels(toolchain, base.id, recipe)
    tag = toolchain_tag(toolchain)
    found = find_image(client, tag)
    if found is not None and is_current(found.labels, wanted):
        log.debug("toolchain image %s (%s) reused", tag, found.short_id)
        return found
    with file_lock(cache / "locks" / f"docker-go{toolchain.version}.lock"):
        found = find_image(client, tag)
        if found is not None and is_current(found.labels, wanted):
            return found
        reporter.info(f"toolchain image: building {tag} ({base_ref} + go{toolchain.version})")
        try:
            return _build_toolchain_image(client, toolchain, recipe, wanted, reporter, cache)
        except InfraError as exc:
            raise InfraError(f"{exc} (base image {base_ref})") from exc


def _build_toolchain_image(
    client: Any,
    toolchain: Toolchain,
    recipe: str,
    labels: dict[str, str],
    reporter: Reporter,
    cache: Path,
) -> Any:
    from docker.errors import DockerException

    tag = toolchain_tag(toolchain)
    started = time.monotonic()
    with tempfile.TemporaryFile(dir=cache) as context:
        _write_context(context, toolchain, recipe)
        context.seek(0)
        try:
            with _heartbeat(reporter, f"building {tag}"):
                stream = client.api.build(
                    fileobj=context,
                    custom_context=True,
                    tag=tag,
                    labels=labels,
                    rm=True,
                    forcerm=True,
                    pull=False,
                    decode=True,
                )
                _follow_build(stream, tag, reporter)
            image = client.images.get(tag)
        except DockerException as exc:
            raise InfraError(f"building the toolchain image {tag} failed: {exc}") from exc
    reporter.info(f"toolchain image: {tag} ready ({time.monotonic() - started:.0f}s)")
    return image


def _write_context(handle: Any, toolchain: Toolchain, text: str) -> None:
    """The build context as a tar stream: the Dockerfile and the GOROOT as `go/`."""
    with tarfile.open(fileobj=handle, mode="w") as archive:
        data = text.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
        archive.addfile(info, io.BytesIO(data))
        archive.add(str(toolchain.goroot), arcname="go")


def _follow_build(stream: Iterator[dict[str, Any]], tag: str, reporter: Reporter) -> None:
    """Show each build step; raise with the engine's message when the build fails."""
    output: list[str] = []
    for event in stream:
        if "error" in event:
            tail = "".join(output[-5:]).strip()
            raise InfraError(f"building {tag} failed: {event['error'].strip()} {tail}".strip())
        text = str(event.get("stream", ""))
        output.append(text)
        if text.startswith("Step "):
            reporter.detail(f"  {text.strip()}")


# --- the GOCACHE volume --------------------------------------------------------------------------


def gocache_volume_name(toolchain: Toolchain) -> str:
    return f"gxm-gocache-go{toolchain.version}"


def ensure_gocache_volume(client: Any, toolchain: Toolchain, image_id: str, owner: str) -> str:
    """The per-Go-version GOCACHE volume, created owned by `owner` (`uid:gid`) the first time."""
    from docker.errors import DockerException, NotFound

    name = gocache_volume_name(toolchain)
    try:
        volume = client.volumes.get(name)
    except NotFound:
        volume = None
    if volume is not None and (volume.attrs.get("Labels") or {}).get(LABEL_OWNER) == owner:
        return name
    try:
        if volume is not None:
            volume.remove(force=True)
        labels = {LABEL: "1", LABEL_ROLE: "gocache", LABEL_GO_VERSION: toolchain.version}
        client.volumes.create(name, labels={**labels, LABEL_OWNER: owner})
        client.containers.run(
            image_id,
            ["chown", owner, "/gocache"],
            user="0:0",
            network_mode="none",
            volumes={name: {"bind": "/gocache", "mode": "rw"}},
            labels={LABEL: "1", "dev.gxm.run": "setup"},
            remove=True,
        )
    except DockerException as exc:
        with contextlib.suppress(DockerException):
            client.volumes.get(name).remove(force=True)
        raise InfraError(f"could not prepare the GOCACHE volume {name}: {exc}") from exc
    return name
