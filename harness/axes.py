"""The axes a cell has besides Go and GOEXPERIMENT: a GODEBUG value, a build mode, cgo on/off.

A GODEBUG value is a run setting (`run_godebug` merges it into the runs' environment); a build
mode and cgo are build settings (`build_flags`, `build_env`). Support is checked, never assumed:
`unknown_godebug_keys` reads the keys a toolchain knows from its own sources, and `PROBE_SOURCE`
is a program `harness.build` builds in the cell's build mode before the fixtures, so a sanitizer
the platform or C compiler cannot do (`probe_failure_reason`) makes the cell `unsupported`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.model import BUILD_MODES, CGO_OFF, Cell, Toolchain
from harness.yamlsrc import describe, suggest

# Where a Go distribution declares the GODEBUG keys it knows: the runtime's own table and the
# table of the settings read through internal/godebug (Go 1.21+).
_GODEBUG_TABLES = (
    ("src/runtime/runtime1.go", re.compile(r'\{name:\s*"(?P<key>[a-z0-9]+)"')),
    ("src/internal/godebugs/table.go", re.compile(r'\bName:\s*"(?P<key>[a-z0-9]+)"')),
)
GODEBUG_VALUE = re.compile(r"^[a-z0-9]+=[a-z0-9]+(,[a-z0-9]+=[a-z0-9]+)*$")
CGO_ONLY_TEXT = "build constraints exclude all Go files"
PROBE_SOURCE = (
    'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("gxm build-mode probe") }\n'
)
PROBE_MODULE = "module gxm.dev/probe\n\ngo 1.21\n"


@dataclass(frozen=True)
class RunGodebug:
    """The GODEBUG the runs of a cell see: the matrix env's merged with the axis value."""

    value: str
    overridden: tuple[str, ...] = ()  # matrix settings the axis replaced (`gctrace=1`)


def parse_axis_value(name: str, value: object) -> str:
    """A `godebug`, `buildmode` or `cgo` value as a matrix writes it → its canonical form ("" at
    the default; `off` for cgo off). ValueError saying what is allowed."""
    if name == "cgo":
        if value is True or value in ("on", "default", ""):  # YAML reads a bare `on` as true
            return ""
        if value is False or value == "off":
            return CGO_OFF
        raise ValueError(f"cgo is on or off, got {describe(value)}")
    if value in ("", "default"):
        return ""
    if name == "godebug":
        if isinstance(value, str) and GODEBUG_VALUE.match(value):
            return value
        example = '"clobberfree=1,efence=1"'
        raise ValueError(
            f'godebug is "" (default) or settings like {example}, got {describe(value)}'
        )
    if isinstance(value, str) and value in BUILD_MODES:
        return value
    hint = suggest(value, BUILD_MODES) if isinstance(value, str) else ""
    modes = ", ".join(BUILD_MODES)
    raise ValueError(f'buildmode is "" (default), {modes}; got {describe(value)}{hint}')


def parse_godebug(value: str) -> dict[str, str]:
    """`a=1,b=2` → {a: 1, b: 2}; entries without `=` are kept with an empty value."""
    settings: dict[str, str] = {}
    for item in value.split(","):
        key, _, setting = item.strip().partition("=")
        if key:
            settings[key] = setting
    return settings


def run_godebug(matrix_godebug: str | None, axis_godebug: str) -> RunGodebug | None:
    """The merged GODEBUG (axis wins on a conflict, the replaced settings named), or None when
    neither sets one."""
    if not axis_godebug:
        return RunGodebug(matrix_godebug) if matrix_godebug else None
    base = parse_godebug(matrix_godebug or "")
    axis = parse_godebug(axis_godebug)
    overridden = tuple(f"{k}={base[k]}" for k in axis if k in base and base[k] != axis[k])
    merged = {**base, **axis}
    return RunGodebug(",".join(f"{k}={v}" for k, v in merged.items()), overridden)


def known_godebug_keys(toolchain: Toolchain) -> frozenset[str]:
    """Every GODEBUG key this Go distribution declares (empty when its sources are missing)."""
    keys: set[str] = set()
    for relative, pattern in _GODEBUG_TABLES:
        path = toolchain.goroot / relative
        if path.is_file():
            keys |= {m["key"] for m in pattern.finditer(path.read_text(errors="replace"))}
    return frozenset(keys)


def unsupported_godebug_reason(toolchain: Toolchain, godebug: str) -> str | None:
    """Why this Go cannot honour `godebug` (a key it does not know: Go ignores those silently,
    so a run would test nothing), or None. Without readable sources nothing is claimed."""
    known = known_godebug_keys(toolchain)
    if not godebug or not known:
        return None
    unknown = [key for key in parse_godebug(godebug) if key not in known]
    if not unknown:
        return None
    return f"go{toolchain.version} does not know GODEBUG key {', '.join(unknown)}"


def build_flags(cell: Cell) -> tuple[str, ...]:
    """The `go build` flags of the cell's build mode: `-race`, `-asan`, `-msan`, or none."""
    return (f"-{cell.buildmode}",) if cell.buildmode else ()


def build_env(cell: Cell, inherited_cc: str | None) -> dict[str, str]:
    """Environment a build mode or cgo setting adds: CGO_ENABLED=0 for cgo off; CC=clang for msan
    unless a CC was given (MemorySanitizer exists only in clang)."""
    env: dict[str, str] = {}
    if not cell.cgo_enabled:
        env["CGO_ENABLED"] = "0"
    if cell.buildmode == "msan" and not inherited_cc:
        env["CC"] = "clang"
    return env


def write_probe(directory: Path) -> Path:
    """A one-package module the build-mode probe builds; returns its directory."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "go.mod").write_text(PROBE_MODULE)
    (directory / "main.go").write_text(PROBE_SOURCE)
    return directory


def probe_failure_reason(cell: Cell, env: dict[str, str], log_text: str) -> str:
    """Why the probe could not be built in the cell's mode, in one line saying what is needed."""
    lines = [line.strip() for line in log_text.splitlines() if line.strip()]
    telling = [line for line in lines if not line.startswith("#")]
    tail = (telling or lines or ["no output"])[-1][:200]
    mode = cell.buildmode or "cgo off"
    if cell.buildmode == "msan":
        return f"msan needs clang: CC={env.get('CC', 'gcc')} cannot build with -msan ({tail})"
    if cell.buildmode == "asan":
        return f"asan needs a C compiler with libasan: {tail}"
    return f"{mode} is not supported here: {tail}"


def cgo_only_reason(log_text: str) -> str | None:
    """The reason a package cannot be built with cgo off, when that is why its build failed."""
    for line in log_text.splitlines():
        if CGO_ONLY_TEXT in line:
            return f"needs cgo (CGO_ENABLED=0): {line.strip()[:200]}"
    return None
