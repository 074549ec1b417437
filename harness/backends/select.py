"""Choosing a backend: `local`, `docker`, or `auto` (docker when an engine answers, else local)."""

from __future__ import annotations

import importlib.util

from harness.backends import Backend
from harness.context import Reporter
from harness.errors import InfraError, UsageError

BACKEND_NAMES = ("auto", "local", "docker")


def docker_unavailable_reason() -> str | None:
    """Why the docker backend cannot be used here, or None when it can."""
    if importlib.util.find_spec("harness.backends.docker") is None:
        return "this gxm has no docker backend yet"
    from harness.backends import docker as docker_backend  # pragma: no cover - issue 3

    return docker_backend.unavailable_reason()  # type: ignore[no-any-return]


def open_backend(name: str, reporter: Reporter, **options: object) -> Backend:
    """The backend called `name`; `auto` says which one it took and why."""
    if name not in BACKEND_NAMES:
        raise UsageError(f"unknown backend {name!r}: choose one of {', '.join(BACKEND_NAMES)}")
    if name in ("auto", "docker"):
        reason = docker_unavailable_reason()
        if reason is None:
            from harness.backends.docker import DockerBackend  # pragma: no cover - issue 3

            reporter.info("backend: docker")
            return DockerBackend(reporter=reporter, **options)  # type: ignore[no-any-return]
        if name == "docker":
            raise InfraError(f"docker backend unavailable: {reason}")
        reporter.info(f"backend: local (docker not used: {reason})")
    else:
        reporter.info("backend: local")
    from harness.backends.local import LocalBackend

    return LocalBackend()
