"""A user's own Go module as fixtures: the matrix's `external:` entries (schema 1).

An entry names a module and what exercises it: its main programs (`command: main`, the default),
its tests (`command: test`, `go test -c` binaries) or its benchmarks (`command: bench`), with keys
in the spirit of `go test` (`packages`, `run`, `skip`, `short`, `tags`, `bench`, `benchtime`,
`count`, `cpu`, `shuffle`, `flags`, per-run `timeout`, `env`). Every matched package becomes one
fixture `<entry>/<dir>`, found by reading the files (no Go toolchain needed); packages a test entry
matches that have no test files are listed on the entry (`ExternalEntry.untested`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import UsageError
from harness.fixtures import DEFAULT_EXPECTED, FIXTURE_NAME, Expected, parse_expected, parse_kind
from harness.gotest import test_flags
from harness.model import EXTERNAL_COMMANDS, ExternalSpec, Fixture, Outcome
from harness.yamlsrc import (
    YMap,
    check_keys,
    describe,
    parse_duration,
    require_int,
    require_map,
    require_seq,
    require_str,
)

TEST_KEYS = ("run", "skip", "short", "tags", "bench", "benchtime", "count", "cpu", "shuffle")
EXTERNAL_KEYS = (
    "module", "packages", "kind", "expected", "command", *TEST_KEYS, "flags", "timeout", "env",
    "gctrace",
)  # fmt: skip
_SKIP_DIRS = ("testdata", "vendor")  # and names starting with `.` or `_`, as `go ./...` skips them
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ExternalEntry:
    """One `external:` entry and what it expanded to (shown by `gxm list`)."""

    name: str
    module_dir: Path
    command: str
    packages: str
    fixtures: tuple[str, ...]
    untested: tuple[str, ...] = ()  # packages matched by a test entry that have no test files


def expansion_lines(entries: Sequence[ExternalEntry], fixtures: Mapping[str, Fixture]) -> list[str]:
    """What each external entry expands to, for `gxm list`: its fixtures with their packages and
    go command, and the packages of a test entry that have no test files."""
    lines = []
    for entry in entries:
        verb = {"main": "go build", "test": "go test -c", "bench": "go test -c, -test.bench"}
        lines.append(f"{entry.name}: {entry.command} {entry.packages} in {entry.module_dir}")
        for name in entry.fixtures:
            fixture = fixtures.get(name)
            if fixture is not None:
                lines.append(f"  {name:<30} {fixture.package}  ({verb[entry.command]})")
        spec = next((f.spec for n in entry.fixtures if (f := fixtures.get(n)) and f.spec), None)
        if spec is not None and spec.is_test:
            flags = [f for f in test_flags(spec, 0) if not f.startswith(("-test.v=", "-test.t"))]
            lines.append(f"  each binary runs: {' '.join(flags) or '(no flags)'}, -test.timeout")
        if entry.untested:
            lines.append(f"  no test files (skipped): {', '.join(entry.untested)}")
    return lines


def load_externals(
    block: YMap, matrix_path: Path, catalogue: dict[str, Fixture]
) -> list[ExternalEntry]:
    """Add the fixtures of each matrix `external:` entry to `catalogue` and return the entries.

    A module path is relative to the matrix file.
    """
    entries: list[ExternalEntry] = []
    for name in block:
        where = f"external {name!r}"
        if not FIXTURE_NAME.match(name) or name in catalogue:
            reason = "is a fixture of fixtures.yaml" if name in catalogue else "is not a plain name"
            raise block.error(name, f"{where} {reason}; pick another name")
        entry = require_map(block, name, where, null_ok=False)
        check_keys(entry, EXTERNAL_KEYS, where, required=("module",))
        module = _module_dir(entry, matrix_path, where)
        packages = "./..."
        if "packages" in entry:
            packages = require_str(entry, "packages", f"{where}: packages")
        spec = parse_spec(entry, where)
        default_kind = "bench" if spec.command == "bench" else "stress"
        kind = parse_kind(entry, "kind", where) if "kind" in entry else default_kind
        expected = parse_expected(entry, "expected", where)
        try:
            found = external_fixtures(name, module, packages, kind, expected, spec)
        except UsageError as exc:
            key = "packages" if "packages" in entry else "module"
            raise entry.error(key, f"{where}: {exc}", True) from None
        catalogue.update((fixture.name, fixture) for fixture in found)
        untested = untested_packages(module, packages) if spec.is_test else ()
        fixture_names = tuple(f.name for f in found)
        entries.append(ExternalEntry(name, module, spec.command, packages, fixture_names, untested))
    return entries


def parse_spec(entry: YMap, where: str) -> ExternalSpec:
    """The `command` of an entry and its `go test`-like keys (test keys only with test/bench)."""
    command = entry.get("command", "main")
    if command not in EXTERNAL_COMMANDS:
        allowed = " | ".join(EXTERNAL_COMMANDS)
        raise entry.error(
            "command", f"{where}: command must be {allowed}, got {describe(command)}", True
        )
    if command == "main":
        for key in (*TEST_KEYS, "flags"):
            if key in entry:
                raise entry.error(key, f"{where}: {key} applies to command: test or bench")
    text = {
        key: require_str(entry, key, f"{where}: {key}")
        for key in TEST_KEYS
        if key in entry and key not in ("short", "tags", "count")
    }
    return ExternalSpec(
        command=str(command),
        run=text.get("run", ""),
        skip=text.get("skip", ""),
        short=_flag(entry, "short", where, False),
        tags=_words(entry, "tags", where),
        bench=text.get("bench", "."),
        benchtime=text.get("benchtime", ""),
        count=require_int(entry, "count", f"{where}: count", minimum=1)
        if "count" in entry
        else None,
        cpu=text.get("cpu", ""),
        shuffle=text.get("shuffle", ""),
        flags=_test_flags(entry, where),
        timeout_s=_timeout(entry, where),
        env=tuple(sorted(_env(entry, where).items())),
        gctrace=_flag(entry, "gctrace", where, True),
    )


def _flag(entry: YMap, key: str, where: str, default: bool) -> bool:
    value = entry.get(key, default)
    if not isinstance(value, bool):
        raise entry.error(key, f"{where}: {key} must be true or false, got {describe(value)}", True)
    return value


def _words(entry: YMap, key: str, where: str) -> tuple[str, ...]:
    items = require_seq(entry, key, f"{where}: {key}")
    for i, item in enumerate(items):
        if not isinstance(item, str) or not re.match(r"^[A-Za-z0-9_.\-]+$", item):
            raise items.error(
                i, f"{where}: {key} lists build tags like integration, got {describe(item)}"
            )
    return tuple(items)


def _test_flags(entry: YMap, where: str) -> tuple[str, ...]:
    items = require_seq(entry, "flags", f"{where}: flags")
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item.startswith("-test."):
            message = (
                f"{where}: flags are test binary flags like -test.failfast, got {describe(item)}"
            )
            raise items.error(i, message)
    return tuple(items)


def _timeout(entry: YMap, where: str) -> float | None:
    if "timeout" not in entry:
        return None
    try:
        return parse_duration(entry["timeout"])
    except UsageError as exc:
        raise entry.error("timeout", f"{where}: timeout: {exc}", True) from None


def _env(entry: YMap, where: str) -> dict[str, str]:
    block = require_map(entry, "env", f"{where}: env")
    env: dict[str, str] = {}
    for name in block:
        if not _ENV_NAME.match(name) or name == "GOEXPERIMENT" or name.startswith("GXM_"):
            raise block.error(name, f"{where}: env: {name!r} is not a variable gxm lets you set")
        env[name] = require_str(block, name, f"{where}: env: {name}")
    return env


def _module_dir(entry: YMap, matrix_path: Path, where: str) -> Path:
    text = require_str(entry, "module", f"{where}: module")
    try:
        module = (Path(matrix_path).resolve().parent / text).resolve()
        found = (module / "go.mod").is_file()
    except (OSError, ValueError):
        raise entry.error(
            "module", f"{where}: module {text!r} is not a usable path", True
        ) from None
    if not found:
        message = f"{where}: module {text!r} is not a Go module: {module}/go.mod does not exist"
        raise entry.error("module", message, True)
    return module


def external_fixtures(
    name: str,
    module_dir: Path,
    packages: str,
    kind: str,
    expected: Expected | Mapping[str, Sequence[Outcome]] = DEFAULT_EXPECTED,
    spec: ExternalSpec | None = None,
) -> list[Fixture]:
    """The main packages (or, for a test entry, the test packages) of a user's Go module matched
    by `packages`, as fixtures `<name>/<dir>`.

    `packages` is `./dir` (that one package) or `./dir/...` (every main package below it, skipping
    testdata, vendor, `.`/`_` directories and nested modules, as `go` does). A package's name is
    its directory relative to the pattern root; the root itself is named just `<name>`. Finds
    packages by reading `package` clauses, so no Go toolchain is needed. Raises UsageError when
    the pattern is malformed, its directory is missing, or it matches no main package.
    """
    module_dir = Path(module_dir).resolve()
    root_rel, recursive = _split_pattern(packages)
    root = module_dir / root_rel
    if not root.is_dir():
        raise UsageError(f"packages {packages!r}: directory {root} does not exist")
    dirs = _package_dirs(root, module_dir) if recursive else [root]
    table = tuple(expected.items()) if isinstance(expected, Mapping) else tuple(expected)
    found: list[Fixture] = []
    spec = spec or ExternalSpec()
    wanted = _has_tests if spec.is_test else _is_main_package
    for directory in dirs:
        if not wanted(directory):
            continue
        rel = directory.relative_to(root).as_posix()
        package = _package_name(directory, module_dir)
        found.append(
            Fixture(
                name=name if rel == "." else f"{name}/{rel}",
                kind=kind,
                pattern=f"external{'' if spec.command == 'main' else ' ' + spec.command}: "
                f"{package} in {module_dir}",
                module_dir=module_dir,
                package=package,
                expected=tuple((k, tuple(v)) for k, v in table),
                external=True,
                spec=spec,
            )
        )
    if not found:
        what = "package with test files" if spec.is_test else "main package"
        raise UsageError(f"packages {packages!r} matches no {what} under {root}")
    return found


def untested_packages(module_dir: Path, packages: str) -> tuple[str, ...]:
    """The packages `packages` matches that have Go files but no test files (`./util`)."""
    module_dir = Path(module_dir).resolve()
    root_rel, recursive = _split_pattern(packages)
    root = module_dir / root_rel
    dirs = _package_dirs(root, module_dir) if recursive else [root]
    return tuple(_package_name(d, module_dir) for d in dirs if _go_files(d) and not _has_tests(d))


def _package_name(directory: Path, module_dir: Path) -> str:
    rel = directory.relative_to(module_dir).as_posix()
    return "." if rel == "." else "./" + rel


def _go_files(directory: Path) -> list[Path]:
    try:
        return sorted(p for p in directory.iterdir() if p.suffix == ".go" and p.is_file())
    except OSError:
        return []


def _has_tests(directory: Path) -> bool:
    """Whether `go test` finds test files here (`*_test.go` not marked `//go:build ignore`)."""
    tests = [p for p in _go_files(directory) if p.name.endswith("_test.go")]
    return any(_package_clause(p) is not None for p in tests)


def _split_pattern(packages: str) -> tuple[str, bool]:
    """`./cmd/...` -> (`cmd`, True); `./cmd/x` -> (`cmd/x`, False); `.` / `./...` -> module root."""
    text = packages.strip()
    recursive = text == "..." or text.endswith("/...")
    base = text[: -len("...")].rstrip("/") if recursive else text.rstrip("/")
    if base in ("", "."):
        return ".", recursive
    if not base.startswith("./") or "*" in base or ".." in base.split("/") or "..." in base:
        example = '"./cmd/..." or "./cmd/tool"'
        raise UsageError(f"packages {packages!r}: write a directory of the module like {example}")
    return base[2:], recursive


def _package_dirs(root: Path, module_dir: Path) -> list[Path]:
    """`root` and the directories below it that `go` would visit for `root/...`, sorted."""
    result: list[Path] = []
    for current, subdirs, _ in os.walk(root, followlinks=False):
        here = Path(current)
        if here != module_dir and here != root and (here / "go.mod").exists():
            subdirs[:] = []
            continue  # a nested module is not part of this one
        subdirs[:] = sorted(
            d for d in subdirs if not d.startswith((".", "_")) and d not in _SKIP_DIRS
        )
        result.append(here)
    return sorted(result)


def _is_main_package(directory: Path) -> bool:
    files = _go_files(directory)
    return any(_package_clause(p) == "main" for p in files if not p.name.endswith("_test.go"))


def _package_clause(path: Path) -> str | None:
    """The package name a Go file declares; None for unreadable or `//go:build ignore` files."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[:65536]
    except OSError:
        return None
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
        elif text.startswith("//", pos):
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            if re.match(r"//go:build\s+ignore\s*$", text[pos:end]):
                return None
            pos = end
        elif text.startswith("/*", pos):
            end = text.find("*/", pos + 2)
            pos = len(text) if end < 0 else end + 2
        else:
            match = re.match(r"package\s+([A-Za-z_][A-Za-z0-9_]*)", text[pos:])
            return match.group(1) if match else None
    return None
