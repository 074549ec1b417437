"""Which packages a failed `go build` / `go test -c` failed on, and why: go's own words per package.

One `go build -o DIR/ PKG…` serves every package of a module in a cell, so one package that cannot
be built there must not take the others down with it. `attribute_failures` reads go's error output
and names the packages it blames: a package whose build constraints exclude every file in this cell
(an arena-only program in a default cell) is `unsupported` there, one that does not compile is a
`build-error`. The builder then builds the rest again without them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.model import Outcome, module_path

DETAIL_MAX_CHARS = 2000

_CONSTRAINTS = re.compile(
    r"^package (?P<path>\S+): build constraints exclude all Go files in (?P<dir>\S+)\s*$"
)
_OTHER_LOAD_ERROR = re.compile(r"^package (?P<path>\S+): (?P<msg>.+)$")
_COMPILE_HEADER = re.compile(r"^# (?P<path>\S+?)(?: \[(?P<test>\S+\.test)\])?\s*$")
_FILE_POSITION = re.compile(r"^(?P<file>[^\s:]+\.(?:go|c|h|s|cc|cpp|m)):\d+(?::\d+)?: ")
_SUMMARY = re.compile(r"^(FAIL|ok|\?)\s")


@dataclass(frozen=True)
class PackageFailure:
    """Why one package could not be built in a cell: `unsupported` or `build-error`."""

    package: str  # as the fixture names it: `./cmd/x` (or `.` for the module root)
    outcome: Outcome
    detail: str


def relative_package(import_path: str, module: str) -> str | None:
    """`example.com/sdk/cmd/x` → `./cmd/x`, the module itself → `.`; None for another module."""
    if import_path == module:
        return "."
    if module and import_path.startswith(module + "/"):
        return "./" + import_path[len(module) + 1 :]
    return None


def _package_of_file(file: str, packages: Iterable[str]) -> str | None:
    """The package (`./cmd/x`) a module-relative file path like `cmd/x/main.go` belongs to."""
    directory = "./" + file.rsplit("/", 1)[0] if "/" in file else "."
    return directory if directory in set(packages) else None


def attribute_failures(
    output: str, module_dir: Path, packages: Iterable[str], goexperiment: str
) -> dict[str, PackageFailure]:
    """The packages (of `packages`) go's error `output` blames, each with its outcome and detail.

    An empty result means go's output names none of them (a module-wide problem such as a broken
    go.mod): the caller must then fail the whole build.
    """
    wanted = set(packages)
    module = module_path(module_dir)
    experiment = f"GOEXPERIMENT={goexperiment}" if goexperiment else "the default GOEXPERIMENT"
    found: dict[str, list[str]] = {}
    excluded: set[str] = set()
    current: str | None = None
    for line in output.splitlines():
        if _SUMMARY.match(line):
            current = None
            continue
        constraint = _CONSTRAINTS.match(line)
        if constraint:
            package = relative_package(constraint["path"], module)
            if package in wanted:
                excluded.add(package)
                found.setdefault(package, []).append(
                    f"build constraints exclude all Go files in {package} under {experiment}"
                )
            current = None
            continue
        header = _COMPILE_HEADER.match(line)
        load = _OTHER_LOAD_ERROR.match(line)
        position = _FILE_POSITION.match(line)
        if header:
            current = relative_package(header["path"], module)
            current = current if current in wanted else None
        elif load:
            package = relative_package(load["path"], module)
            if package in wanted:
                found.setdefault(package, []).append(line)
            current = None
        elif position and current is None:
            package = _package_of_file(position["file"], wanted)
            if package:
                found.setdefault(package, []).append(line)
        elif current is not None:
            found.setdefault(current, []).append(line)
    return _failures(found, excluded)


def _failures(found: Mapping[str, list[str]], excluded: set[str]) -> dict[str, PackageFailure]:
    """Excluded by build constraints and nothing else: unsupported; anything else: build-error."""
    return {
        package: PackageFailure(
            package,
            Outcome.UNSUPPORTED if package in excluded and len(lines) == 1 else Outcome.BUILD_ERROR,
            _clip("\n".join(lines)),
        )
        for package, lines in found.items()
    }


def _clip(text: str) -> str:
    return text if len(text) <= DETAIL_MAX_CHARS else text[: DETAIL_MAX_CHARS - 1] + "…"


def failure_summary(failures: Mapping[str, PackageFailure]) -> str:
    """`./cmd/a unsupported, ./cmd/b build-error`: one line for progress output."""
    return ", ".join(f"{p} {f.outcome.value}" for p, f in sorted(failures.items()))
