"""The data that flows between pipeline stages: frozen dataclasses and the closed outcome set.

Every stage takes and returns these, so a stage can be tested on its own with values built by hand.
The string forms (cell ids, outcome names) are contracts (docs/contracts.md).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_EXPERIMENT_NAME = "default"


class Outcome(str, enum.Enum):
    """The closed set of outcomes of one run (or of one cell's build)."""

    PASS = "pass"
    FAIL = "fail"  # a test suite reported failing tests and exited normally (gxm.cell/2)
    CRASH = "crash"
    CORRUPT = "corrupt"
    TIMEOUT = "timeout"
    OOM = "oom"
    BUILD_ERROR = "build-error"
    UNSUPPORTED = "unsupported"
    INFRA_ERROR = "infra-error"

    def __str__(self) -> str:
        return self.value


FIXTURE_KINDS = ("stress", "bench", "claim")


def experiment_id(goexperiment: str) -> str:
    """`""` → `default`, `arenas,cgocheck2` → `arenas+cgocheck2` (the canonical cell ids)."""
    return goexperiment.replace(",", "+") if goexperiment else DEFAULT_EXPERIMENT_NAME


# The axes a cell has besides `go` and `goexperiment`, in id order. Each is absent from
# `Cell.axes` at its default (`godebug` "", `buildmode` "", `cgo` on).
AXIS_NAMES = ("godebug", "buildmode", "cgo")
BUILD_MODES = ("race", "asan", "msan")
CGO_OFF = "off"
NO_CGO_ID = "nocgo"


def has_extra_axes(cell_section: Mapping[str, Any]) -> bool:
    """Whether a stored cell document's `cell` section has a GODEBUG, build-mode or cgo axis
    (documents written before those axes have none of the keys)."""
    return bool(
        cell_section.get("godebug")
        or cell_section.get("buildmode")
        or cell_section.get("cgo") == CGO_OFF
    )


def godebug_id(godebug: str) -> str:
    """`clobberfree=1,gccheckmark=1` → `clobberfree_1+gccheckmark_1` (shell-, nox-, file-safe)."""
    return "+".join(setting.replace("=", "_") for setting in godebug.split(",") if setting)


def axis_id(name: str, value: str) -> str:
    """The id suffix part of one non-default axis: `clobberfree_1`, `race`, `nocgo`."""
    if name == "godebug":
        return godebug_id(value)
    if name == "cgo":
        return NO_CGO_ID
    return value


def make_axes(
    godebug: str = "", buildmode: str = "", cgo: bool = True
) -> tuple[tuple[str, str], ...]:
    """`Cell.axes` for these values, defaults left out, in AXIS_NAMES order."""
    values = {"godebug": godebug, "buildmode": buildmode, "cgo": "" if cgo else CGO_OFF}
    return tuple((name, values[name]) for name in AXIS_NAMES if values[name])


@dataclass(frozen=True, order=True)
class Cell:
    """One (Go version, GOEXPERIMENT value) pair: the unit that is built once.

    `go` is the version as the matrix asks for it (`1.22` or `1.22.10`); the resolved patch release
    is recorded in results, never in the id. `axes` holds further axes (GODEBUG, build mode) as
    (name, value) pairs; an axis left at its default is simply absent, so adding an axis never
    changes the ids of existing cells.
    """

    go: str
    goexperiment: str = ""
    axes: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        """`go1.22-arenas`; a non-default axis adds `-clobberfree_1`, `-race`, `-nocgo` (in that
        order), so `go1.26-default-clobberfree_1-race`."""
        parts = [f"go{self.go}", experiment_id(self.goexperiment)]
        parts += [axis_id(name, value) for name, value in self.axes]
        return "-".join(parts)

    def axis(self, name: str) -> str:
        """The value of one extra axis ("" at its default)."""
        return dict(self.axes).get(name, "")

    @property
    def godebug(self) -> str:
        return self.axis("godebug")

    @property
    def buildmode(self) -> str:
        return self.axis("buildmode")

    @property
    def cgo_enabled(self) -> bool:
        return self.axis("cgo") != CGO_OFF

    @property
    def build_cell(self) -> Cell:
        """The cell whose build this one runs: GODEBUG is a run setting, so one build serves every
        GODEBUG value of a (go, experiment, build mode, cgo)."""
        return Cell(self.go, self.goexperiment, tuple(a for a in self.axes if a[0] != "godebug"))

    @property
    def baseline(self) -> Cell:
        """What this cell is compared with: the same Go and experiment with every other axis at
        its default; for a cell with no other axis, the same Go with the default experiment."""
        return Cell(self.go, self.goexperiment) if self.axes else Cell(self.go)

    @property
    def nox_id(self) -> str:
        """The nox session parameter id: `.` replaced by `_` so `nox -k` can name it."""
        return self.id.replace(".", "_")

    @property
    def experiments(self) -> tuple[str, ...]:
        return tuple(e for e in self.goexperiment.split(",") if e)


MAX_REPEATS = 10_000  # runs per fixture per cell; more is a typo (1e9 ate gigabytes planning)


@dataclass(frozen=True)
class Settings:
    """Run settings of a cell: matrix `defaults`, overridden by profile and include entries."""

    repeats_stress: int = 3
    repeats_bench: int = 3
    repeats_claim: int = 3
    bench_warmup: int = 1
    duration_s: float = 2.0
    timeout_s: float = 60.0
    grace_s: float = 5.0
    build_timeout_s: float = 900.0
    memory_limit_bytes: int = 1 << 30
    build_memory_limit_bytes: int = 4 << 30
    log_limit_bytes: int = 64 << 20  # per stream of a run: head and tail kept, the rest dropped
    cpus: float = 2.0
    pids_limit: int = 4096
    env: tuple[tuple[str, str], ...] = ()
    c_backtrace: bool = True  # a full C backtrace from a core where the host allows it
    keep_core: bool = False  # keep that core beside the logs (it is removed otherwise)

    def repeats_for(self, kind: str) -> int:
        return int(getattr(self, f"repeats_{kind}"))


EXTERNAL_COMMANDS = ("main", "test", "bench")


@dataclass(frozen=True)
class ExternalSpec:
    """How a user's package is exercised: a main program, its tests, or its benchmarks.

    The test keys mirror `go test` flags (`run` = -run, `skip` = -skip, `short`, `tags`, `bench`,
    `benchtime`, `count`, `cpu`, `shuffle`); `flags` are further test binary flags as typed for
    the binary (`-test.failfast`). `timeout_s` is the per-run timeout (go's own -test.timeout for
    tests); `gctrace` adds GODEBUG=gctrace=1 so GC figures exist for programs without gxm's probe.
    """

    command: str = "main"
    run: str = ""
    skip: str = ""
    short: bool = False
    tags: tuple[str, ...] = ()
    bench: str = "."
    benchtime: str = ""
    count: int | None = None
    cpu: str = ""
    shuffle: str = ""
    flags: tuple[str, ...] = ()
    timeout_s: float | None = None
    env: tuple[tuple[str, str], ...] = ()
    gctrace: bool = True

    @property
    def is_test(self) -> bool:
        return self.command in ("test", "bench")


@dataclass(frozen=True)
class Fixture:
    """One fixture: a main package of a Go module, and what is expected of it per experiment.

    `expected` maps an experiment key (`default`, `arenas`, `arenas+cgocheck2`, or `*` for any) to
    the outcomes that count as expected there. `module_dir` is the Go module holding `package`
    (our go_fixtures/ or a user's external module).
    """

    name: str
    kind: str
    pattern: str
    module_dir: Path
    package: str
    expected: tuple[tuple[str, tuple[Outcome, ...]], ...] = (("*", (Outcome.PASS,)),)
    min_go: str | None = None
    requires_experiments: tuple[str, ...] = ()
    external: bool = False
    spec: ExternalSpec | None = None  # external fixtures: main program, tests or benchmarks

    @property
    def is_test(self) -> bool:
        """A user's test package: built with `go test -c`, run with test2json."""
        return self.spec is not None and self.spec.is_test

    @property
    def package_dir(self) -> Path:
        """The package's source directory (where `go test` runs its tests)."""
        return (self.module_dir / self.package).resolve()

    @property
    def binary_name(self) -> str:
        """File name `go build -o DIR` (or `go test -c -o DIR`) gives this package: the last
        element of its path (of the module path for the module root), `.test` for tests."""
        last = self.package.rstrip("/").rsplit("/", 1)[-1]
        if last == ".":
            last = module_path(self.module_dir).rsplit("/", 1)[-1] or "main"
        return f"{last}.test" if self.is_test else last

    def expected_outcomes(
        self, goexperiment: str, axes: tuple[tuple[str, str], ...] = ()
    ) -> tuple[Outcome, ...]:
        """What counts as expected in a cell. A key naming an axis (`race`, `asan`, `nocgo`,
        `clobberfree=1`, maybe with experiments: `arenas+race`) wins when all its parts hold in
        the cell, the one with most parts first; else the experiment key as before (exact, then
        each experiment of the cell in order, then `*`)."""
        axis_match = _axis_key_match(self.expected, goexperiment, axes)
        if axis_match is not None:
            return axis_match
        table = dict(self.expected)
        key = experiment_id(goexperiment)
        if key in table:
            return table[key]
        for part in (e for e in goexperiment.split(",") if e):
            if part in table:
                return table[part]
        return table.get("*", (Outcome.PASS,))


def _axis_key_conditions(axes: tuple[tuple[str, str], ...]) -> set[str]:
    """The expectation-key words a cell's extra axes satisfy: `race`, `nocgo`, `clobberfree=1`."""
    words = {value for name, value in axes if name == "buildmode"}
    words |= {NO_CGO_ID for name, value in axes if name == "cgo" and value == CGO_OFF}
    for name, value in axes:
        if name == "godebug":
            words |= {setting for setting in value.split(",") if setting}
    return words


def is_axis_word(word: str) -> bool:
    return word in BUILD_MODES or word == NO_CGO_ID or "=" in word


def _axis_key_match(
    expected: tuple[tuple[str, tuple[Outcome, ...]], ...],
    goexperiment: str,
    axes: tuple[tuple[str, str], ...],
) -> tuple[Outcome, ...] | None:
    have = _axis_key_conditions(axes)
    experiments = {e for e in goexperiment.split(",") if e} or {DEFAULT_EXPERIMENT_NAME}
    best: tuple[int, tuple[Outcome, ...]] | None = None
    for key, outcomes in expected:
        words = key.split("+")
        if not any(is_axis_word(w) for w in words):
            continue
        holds = all(w in have if is_axis_word(w) else w in experiments for w in words)
        if holds and (best is None or len(words) > best[0]):
            best = (len(words), outcomes)
    return best[1] if best else None


@dataclass(frozen=True)
class DockerSettings:
    """The matrix's `docker:` block: a base image, or how to bootstrap one offline."""

    base_image: str = ""
    bootstrap_mirror: str = "http://deb.debian.org/debian"
    bootstrap_suite: str = "bookworm"


@dataclass(frozen=True)
class CellPlan:
    """One cell to build, the settings its runs use, and the fixtures selected for it."""

    cell: Cell
    settings: Settings
    fixtures: tuple[str, ...]


@dataclass(frozen=True)
class Toolchain:
    """A provisioned Go distribution."""

    version: str  # resolved, e.g. "1.22.10"
    goroot: Path
    sha256: str  # of the wheel it came from: labels images, keys caches

    @property
    def go(self) -> Path:
        return self.goroot / "bin" / "go"


@dataclass(frozen=True)
class ExecSpec:
    """One process to run on a backend: a build or a fixture run."""

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    cwd: Path
    stdout_path: Path
    stderr_path: Path
    timeout_s: float
    grace_s: float = 5.0
    memory_limit_bytes: int | None = None
    cpus: float | None = None
    pids_limit: int | None = None
    label: str = ""  # names the run and cell, e.g. "run-20261127-1040/go1.22-arenas/cgo_stress#3"
    mounts: tuple[tuple[Path, bool], ...] = ()  # (host path, writable) a container must see
    stdin_null: bool = True
    log_limit_bytes: int = 64 << 20  # per output file: head and tail kept (backends.logcap)
    # Core dumps of the process: None leaves the inherited limit; False forbids them (limit 0);
    # True raises the soft limit to the hard one (unlimited in a container) so a crash leaves a
    # core in `cwd` for a full C backtrace (harness.symbolize).
    core_dumps: bool | None = None
    # CPUs the process is pinned to (the backend's CPU numbers, see `Backend.pinnable_cpus`);
    # empty: not pinned. Bench runs, which run alone, are pinned so their figures are steadier.
    cpuset: tuple[int, ...] = ()

    @property
    def run_id(self) -> str:
        """The run this spec belongs to: the first part of its label (`run-…/cell/fixture#i`)."""
        return self.label.split("/", 1)[0] if self.label else "adhoc"


@dataclass(frozen=True)
class ExecResult:
    """What happened to one process. Exactly what was observed, no interpretation yet."""

    exit_code: int | None  # None when killed by a signal
    signal: int | None  # the terminating signal number, if any
    timed_out: bool
    oom_killed: bool
    seconds: float
    peak_rss_bytes: int | None = None
    infra_error: str | None = None  # the backend itself failed (could not start, engine gone)
    log_bytes_dropped: int = 0  # output over the spec's log limit, dropped from the middle
    # CPU seconds the rest of the host used meanwhile (backends.cpuuse; local backend only)
    others_cpu_s: float | None = None


@dataclass(frozen=True)
class Classified:
    outcome: Outcome
    signature: str | None = None
    detail: str | None = None


def module_path(module_dir: Path) -> str:
    """The module path a go.mod declares (`example.com/sdk`); "" when there is none."""
    try:
        text = (Path(module_dir) / "go.mod").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    match = re.search(r"^\s*module\s+\"?([^\s\"]+)\"?", text, re.MULTILINE)
    return match.group(1) if match else ""


_SEMVER = re.compile(r"^1\.(\d+)(?:\.(\d+))?$")


def go_version_key(version: str) -> tuple[int, int, int]:
    """Sort key for `1.22` / `1.22.10` / `go1.22.10` (a bare minor sorts before its patches)."""
    match = _SEMVER.match(version.removeprefix("go"))
    if not match:
        raise ValueError(f"not a Go version: {version!r}")
    minor, patch = match.groups()
    return (1, int(minor), int(patch) if patch is not None else -1)
