"""gxm's housekeeping in the Docker engine and the cache: `gxm clean` and `gxm doctor`.

- `leftovers()` lists what gxm left behind: containers of gxm processes no longer alive, toolchain
  images no cached toolchain needs, GOCACHE volumes, interrupted base bootstraps.
- `clean()` removes (or, dry, lists) a chosen part of them.
- `doctor_report()` says what works (engine, base image, toolchain images, leftovers) and what
  to do about what does not.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.backends.docker.engine import START_ENGINE, connect, engine_problem
from harness.backends.docker.images import (
    LABEL,
    LABEL_RECIPE,
    LABEL_ROLE,
    LABEL_SESSION,
    base_recipe,
    bootstrap_blocker,
    bootstrap_tag,
    find_image,
    toolchain_tag,
)
from harness.model import DockerSettings, Toolchain
from harness.toolchains import list_cached


@dataclass(frozen=True)
class Leftover:
    """Something gxm left in the engine or the cache. kind: container | image | volume | cache."""

    kind: str
    id: str
    name: str
    reason: str


def leftovers(client: Any, cache: Path | None = None) -> list[Leftover]:
    """Containers labelled dev.gxm (but not those of a gxm process still alive here), toolchain
    images no cached toolchain (or no tag) needs, base images a newer recipe replaced, the GOCACHE
    volumes, and half-made base bootstraps in the cache."""
    cache = cache or _default_cache()
    found = [
        Leftover("container", c["Id"][:12], c["Names"][0].lstrip("/"), _container_reason(c))
        for c in client.api.containers(all=True, filters={"label": LABEL})
        if not _owner_alive(c.get("Labels") or {})
    ]
    wanted = {toolchain_tag(t) for t in list_cached(cache)}
    for image in client.images.list(filters={"label": f"{LABEL_ROLE}=toolchain"}):
        if not image.tags:
            found.append(Leftover("image", image.short_id, "<untagged>", "replaced by a rebuild"))
        elif not set(image.tags) & wanted:
            name = ", ".join(image.tags)
            found.append(Leftover("image", image.short_id, name, "its toolchain is not cached"))
    for image in client.images.list(filters={"label": f"{LABEL_ROLE}=base"}):
        if not image.tags:
            reason = "a base image replaced by a newer recipe"
            found.append(Leftover("image", image.short_id, "<untagged>", reason))
    for volume in client.volumes.list(filters={"label": f"{LABEL_ROLE}=gocache"}):
        found.append(Leftover("volume", volume.name, volume.name, "GOCACHE (rebuilt on demand)"))
    for stale in sorted((cache / "bootstrap").glob(".tmp-base-*")):
        found.append(Leftover("cache", str(stale), stale.name, "an interrupted base bootstrap"))
    return found


def _owner_alive(labels: dict[str, str]) -> bool:
    """Whether the gxm process that started a container still runs here (then it is in use)."""
    pid = labels.get(LABEL_SESSION, "").split("-", 1)[0]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _container_reason(entry: dict[str, Any]) -> str:
    labels = entry.get("Labels") or {}
    return f"run {labels.get('dev.gxm.run', '?')}, {entry.get('State', '?')}"


def _default_cache() -> Path:
    from harness.goenv import cache_dir

    return cache_dir()


def clean(
    client: Any,
    *,
    dry_run: bool,
    images: bool = True,
    volumes: bool = False,
    cache: Path | None = None,
) -> list[Leftover]:
    """Remove gxm's leftovers (containers and interrupted bootstraps always, stale toolchain
    images when `images`, GOCACHE volumes when `volumes`); return what was (or would be) removed.
    """
    chosen = [
        item
        for item in leftovers(client, cache)
        if item.kind in ("container", "cache")
        or (item.kind == "image" and images)
        or (item.kind == "volume" and volumes)
    ]
    if dry_run:
        return chosen
    for item in chosen:
        if item.kind == "container":
            client.api.remove_container(item.id, force=True)
        elif item.kind == "image":
            client.images.remove(item.id, force=True)
        elif item.kind == "volume":
            client.volumes.get(item.id).remove(force=True)
        else:
            shutil.rmtree(item.id, ignore_errors=True)
    return chosen


def doctor_report(
    settings: DockerSettings | None = None, cache: Path | None = None
) -> list[tuple[str, str, str]]:
    """(check, status, fix) rows for `gxm doctor`: engine, base image, toolchain images, cache.

    `status` starts with `ok`, `missing` or `problem`; `fix` is empty when nothing is to be done.
    """
    settings, cache = settings or DockerSettings(), cache or _default_cache()
    try:
        client = connect(timeout_s=10)
        version = client.version()
    except Exception as exc:  # every way of not answering
        return [("docker engine", "problem: " + engine_problem(exc), START_ENGINE)]
    try:
        host = os.environ.get("DOCKER_HOST") or "the default socket or context"
        rows = [("docker engine", f"ok: Docker {version.get('Version')} at {host}", "")]
        rows.append(_base_row(client, settings))
        rows += [_toolchain_row(client, t) for t in list_cached(cache)]
        rows.append(_leftover_row(leftovers(client, cache)))
        return rows
    finally:
        client.close()


def _base_row(client: Any, settings: DockerSettings) -> tuple[str, str, str]:
    if settings.base_image:
        return ("base image", f"ok: configured {settings.base_image} (pulled when absent)", "")
    tag = bootstrap_tag(settings)
    image = find_image(client, tag)
    if image is not None and (image.labels or {}).get(LABEL_RECIPE) != base_recipe(settings):
        status = f"outdated: {tag} ({image.short_id}) lacks elfutils"
        return ("base image", status + " (bootstrapped again by the next docker run)", "")
    if image is not None:
        return ("base image", f"ok: {tag} ({image.short_id}, with elfutils)", "")
    blocker = bootstrap_blocker()
    if blocker:
        return ("base image", f"missing: {tag}, and it cannot be bootstrapped here", blocker)
    return ("base image", f"missing: {tag} (bootstrapped by the next docker run, ~1 min)", "")


def _toolchain_row(client: Any, toolchain: Toolchain) -> tuple[str, str, str]:
    tag = toolchain_tag(toolchain)
    image = find_image(client, tag)
    check = f"toolchain image go{toolchain.version}"
    if image is None:
        return (check, f"missing: {tag} (built by the next docker run)", "")
    return (check, f"ok: {tag} ({image.short_id})", "")


def _leftover_row(found: list[Leftover]) -> tuple[str, str, str]:
    counts = {
        kind: sum(1 for item in found if item.kind == kind) for kind in ("container", "image")
    }
    volumes = sum(1 for item in found if item.kind == "volume")
    if counts["container"] or counts["image"]:
        status = f"problem: {counts['container']} containers, {counts['image']} stale images"
        return ("leftovers", status, "gxm clean")
    return ("leftovers", f"ok: none ({volumes} GOCACHE volumes kept)", "")
