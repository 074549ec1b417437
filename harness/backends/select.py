"""Choosing a backend: `local`, `docker`, or `auto` (docker when an engine answers, else local)."""

from __future__ import annotations

from pathlib import Path

from harness.backends import Backend
from harness.context import Reporter
from harness.errors import InfraError, UsageError
from harness.model import DockerSettings

BACKEND_NAMES = ("auto", "local", "docker")


def docker_unavailable_reason(settings: DockerSettings | None = None) -> str | None:
    """Why the docker backend cannot be used here (engine, docker-py, base image), or None."""
    from harness.backends import docker as docker_backend

    return docker_backend.unavailable_reason(settings)


def open_backend(
    name: str,
    reporter: Reporter,
    *,
    settings: DockerSettings | None = None,
    cache: Path | None = None,
) -> Backend:
    """The backend called `name`; `auto` says which one it took and why."""
    if name not in BACKEND_NAMES:
        raise UsageError(f"unknown backend {name!r}: choose one of {', '.join(BACKEND_NAMES)}")
    if name in ("auto", "docker"):
        reason = docker_unavailable_reason(settings)
        if reason is None:
            from harness.backends.docker import DockerBackend

            reporter.info("backend: docker")
            return DockerBackend(reporter=reporter, settings=settings, cache=cache)
        if name == "docker":
            raise InfraError(f"docker backend unavailable: {reason}")
        reporter.info(f"backend: local (docker not used: {reason})")
    else:
        reporter.info("backend: local")
    from harness.backends.local import LocalBackend

    return LocalBackend()
