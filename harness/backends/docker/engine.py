"""The Docker engine connection.

`connect()` honours DOCKER_HOST, else the docker CLI's current context, else the default socket;
`engine_problem()` turns a failed connection into a sentence saying what to do.
"""

from __future__ import annotations

import os
from typing import Any

START_ENGINE = (
    "start one with `sudo dockerd &` (or `sudo systemctl start docker`); install it with "
    "`sudo apt-get install docker.io`"
)


def connect(timeout_s: int = 120) -> Any:
    """A docker-py client for DOCKER_HOST, else the CLI's current context, else the default socket.

    Raises docker.errors.DockerException when no engine answers (see `engine_problem`).
    """
    import docker
    from docker.context import ContextAPI
    from docker.context.config import get_current_context_name

    if not os.environ.get("DOCKER_HOST"):
        name = os.environ.get("DOCKER_CONTEXT") or get_current_context_name()
        context = ContextAPI.get_context(name) if name and name != "default" else None
        if context is not None and context.Host:
            return docker.DockerClient(
                base_url=context.Host, version="auto", timeout=timeout_s, tls=context.TLSConfig
            )
    return docker.from_env(version="auto", timeout=timeout_s)


def engine_problem(exc: BaseException) -> str:
    """Why connecting failed, in words that say what to do about it."""
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    text = str(exc)
    if "Permission denied" in text or "PermissionError" in text:
        return (
            f"permission denied on the Docker socket ({host}): run as root, or add yourself to "
            "the docker group (`sudo usermod -aG docker $USER`, then log in again)"
        )
    if "No such file or directory" in text or "FileNotFoundError" in text:
        return f"no Docker engine socket at {host}: {START_ENGINE}"
    if "Connection refused" in text:
        return f"nothing answers at {host} (connection refused): {START_ENGINE}"
    return f"the Docker engine at {host} does not answer ({text[:200]}): {START_ENGINE}"
