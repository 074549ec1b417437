"""Where builds and fixture runs happen: one small interface, two implementations.

`local` runs host subprocesses; `docker` runs containers. Everything above this interface is
backend-agnostic. A backend is a context manager: whatever it started is gone after `__exit__`.

Paths in an `ExecSpec` are host paths. The docker backend mounts each of `mounts` at the same path
inside the container, so specs never need translating.
"""

from __future__ import annotations

from typing import Protocol

from harness.model import ExecResult, ExecSpec, Toolchain


class Backend(Protocol):
    name: str

    def __enter__(self) -> Backend: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def prepare(self, toolchain: Toolchain) -> None:
        """Make `toolchain` usable by `execute` (docker: its toolchain image). Idempotent."""

    def pinnable_cpus(self) -> tuple[int, ...]:
        """The CPU numbers an `ExecSpec.cpuset` may name here (() when pinning is not possible)."""
        ...

    def execute(self, spec: ExecSpec, toolchain: Toolchain) -> ExecResult:
        """Run one process to completion under the spec's limits and report what happened.

        Never raises for the process's own failure (crash, timeout, OOM are results). Backend
        failures are returned as `ExecResult.infra_error`.
        """
        ...
