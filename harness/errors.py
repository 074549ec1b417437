"""The one error hierarchy of gxm.

Library code raises these; only `cli.main` catches them, prints the one-line message to stderr and
exits with the kind's code (2 usage/input, 3 nothing selected, 4 infrastructure).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_NOTHING_SELECTED = 3
EXIT_INFRA = 4


class GxmError(Exception):
    """Base of every error gxm reports to its user. The message says what to do next."""

    exit_code = EXIT_USAGE


class UsageError(GxmError):
    """Bad command-line usage or bad input file (exit 2)."""

    exit_code = EXIT_USAGE


class MatrixError(UsageError):
    """A matrix.yaml / fixtures.yaml problem; the message starts with `file:line: `."""

    def __init__(self, path: object, line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.detail = message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


class NothingSelectedError(GxmError):
    """The selection (profile, --cells, --fixtures) matched nothing (exit 3)."""

    exit_code = EXIT_NOTHING_SELECTED


class InfraError(GxmError):
    """The harness, toolchain provider or engine failed; never blamed on a cell (exit 4)."""

    exit_code = EXIT_INFRA


class CommandError(InfraError):
    """A host command failed: carries its exit code and the tail of its stderr."""

    def __init__(self, argv: list[str], exit_code: int | None, stderr_tail: str) -> None:
        self.argv = argv
        self.returncode = exit_code
        self.stderr_tail = stderr_tail
        status = "timed out" if exit_code is None else f"exited {exit_code}"
        tail = stderr_tail.strip().splitlines()[-1:] or [""]
        super().__init__(
            f"`{' '.join(argv[:4])}{' …' if len(argv) > 4 else ''}` {status}: {tail[0]}"
        )
