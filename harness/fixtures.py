"""The fixture catalogue: go_fixtures/fixtures.yaml (schema 1), external modules, requirements.

`load_fixtures` reads and validates fixtures.yaml (every problem is a one-line `file:line` error),
`external_fixtures` turns a user's Go module into fixtures by finding its main packages without
needing Go, and `fixture_applies` says why a fixture cannot run in a cell (the runner records such
a fixture as `unsupported`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

from harness.errors import MatrixError
from harness.model import FIXTURE_KINDS, Cell, Fixture, Outcome, experiment_id, go_version_key
from harness.yamlsrc import (
    YMap,
    YSeq,
    check_keys,
    describe,
    load_yaml,
    require_map,
    require_seq,
    require_str,
    suggest,
)

SCHEMA = 1
FIXTURE_KEYS = ("kind", "package", "pattern", "min_go", "requires", "expected")
FIXTURE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
GO_VERSION = re.compile(r"^1\.\d+(\.\d+)?$")
EXPERIMENT_NAME = re.compile(r"^[a-z0-9]+$")
# `*`, or experiments and axis values joined by `+` (or `,`): `arenas`, `race`, `nocgo`,
# `clobberfree=1`, `default+asan` (see Fixture.expected_outcomes).
EXPECTED_KEY = re.compile(r"^(\*|[a-z0-9]+(=[a-z0-9]+)?([+,][a-z0-9]+(=[a-z0-9]+)?)*)$")
PACKAGE_PATH = re.compile(r"^\./[A-Za-z0-9_.\-/]+$")
OUTCOMES = tuple(o.value for o in Outcome)
Expected = tuple[tuple[str, tuple[Outcome, ...]], ...]
DEFAULT_EXPECTED: Expected = (("*", (Outcome.PASS,)),)


def load_fixtures(path: Path) -> dict[str, Fixture]:
    """Every fixture of a fixtures.yaml by name, in file order; its module is the file's folder."""
    doc = load_yaml(path)
    check_keys(doc, ("schema", "fixtures"), "fixtures.yaml", required=("schema", "fixtures"))
    if type(doc["schema"]) is not int or doc["schema"] != SCHEMA:
        raise doc.error("schema", f"schema must be 1, got {describe(doc['schema'])}", True)
    entries = require_map(doc, "fixtures", "`fixtures`", null_ok=False)
    if not entries:
        raise doc.error("fixtures", "`fixtures` lists no fixture")
    module_dir = Path(path).resolve().parent
    fixtures: dict[str, Fixture] = {}
    for name, entry in entries.items():
        if not FIXTURE_NAME.match(name):
            raise entries.error(name, f"bad fixture name {name!r}: use letters, digits, _ - and .")
        if not isinstance(entry, YMap):
            raise entries.error(name, f"fixture {name!r} must be a mapping, got {describe(entry)}")
        fixtures[name] = _fixture(name, entry, module_dir)
    return fixtures


def _fixture(name: str, entry: YMap, module_dir: Path) -> Fixture:
    where = f"fixture {name!r}"
    check_keys(entry, FIXTURE_KEYS, where, required=("kind", "package", "pattern"))
    package = require_str(entry, "package", f"{where}: package")
    if not PACKAGE_PATH.match(package) or ".." in package.split("/"):
        raise entry.error(
            "package", f"{where}: package must be a directory like ./cmd/{name}", True
        )
    if not (module_dir / package).is_dir():
        raise entry.error("package", f"{where}: package directory {package} does not exist", True)
    min_go = None
    if entry.get("min_go") is not None:
        min_go = check_go_version(entry["min_go"], entry.raw("min_go"), _at(entry, "min_go"), where)
    return Fixture(
        name=name,
        kind=parse_kind(entry, "kind", where),
        pattern=require_str(entry, "pattern", f"{where}: pattern").strip(),
        module_dir=module_dir,
        package=package.rstrip("/"),
        expected=parse_expected(entry, "expected", where),
        min_go=min_go,
        requires_experiments=_requires(entry, where),
    )


def _at(entry: YMap, key: str) -> Callable[[str], MatrixError]:
    return lambda message: entry.error(key, message, True)


def parse_kind(entry: YMap, key: str, where: str) -> str:
    """A fixture kind: stress | bench | claim."""
    kind = entry.get(key)
    if kind not in FIXTURE_KINDS:
        hint = suggest(kind, FIXTURE_KINDS) if isinstance(kind, str) else ""
        message = f"{where}: kind must be {' | '.join(FIXTURE_KINDS)}, got {describe(kind)}{hint}"
        raise entry.error(key, message, True)
    return str(kind)


def check_go_version(
    value: object, raw: str | None, error: Callable[[str], MatrixError], where: str
) -> str:
    """A quoted Go version "1.N" or "1.N.P"; an unquoted 1.20 gets a hint to quote it."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = raw or str(value)
        read_as = f" (YAML reads {text} as the number {value!r})" if text != repr(value) else ""
        raise error(f'{where}: write the Go version in quotes, "{text}"{read_as}')
    if not isinstance(value, str) or not GO_VERSION.match(value.removeprefix("go")):
        raise error(f'{where}: a Go version is "1.N" or "1.N.P" in quotes, got {describe(value)}')
    return value.removeprefix("go")


def _requires(entry: YMap, where: str) -> tuple[str, ...]:
    items = require_seq(entry, "requires", f"{where}: requires")
    for i, item in enumerate(items):
        if not isinstance(item, str) or not EXPERIMENT_NAME.match(item):
            raise items.error(
                i, f"{where}: requires lists experiments like arenas, got {describe(item)}"
            )
    return tuple(items)


def parse_expected(entry: YMap, key: str, where: str) -> Expected:
    """An `expected` table: experiment key (`default`, `arenas+cgocheck2`, `*`) -> outcome(s)."""
    if entry.get(key) is None:
        return DEFAULT_EXPECTED
    table = require_map(entry, key, f"{where}: expected", null_ok=False)
    result: list[tuple[str, tuple[Outcome, ...]]] = []
    for exp_key, value in table.items():
        if not EXPECTED_KEY.match(exp_key):
            allowed = (
                '"*", "default", experiments like arenas+cgocheck2, or axis values '
                "(race, asan, msan, nocgo, clobberfree=1), alone or joined by +"
            )
            raise table.error(exp_key, f"{where}: expected keys are {allowed}, got {exp_key!r}")
        result.append((experiment_id(exp_key), _outcomes(table, exp_key, value, where)))
    return tuple(result) or DEFAULT_EXPECTED


def _outcomes(table: YMap, key: str, value: object, where: str) -> tuple[Outcome, ...]:
    values = list(value) if isinstance(value, YSeq) else [value]
    if not values:
        raise table.error(key, f"{where}: expected[{key!r}] lists no outcome", True)
    for item in values:
        if item not in OUTCOMES:
            hint = suggest(item, OUTCOMES) if isinstance(item, str) else ""
            got = f"{describe(item)}{hint}"
            raise table.error(
                key, f"{where}: expected outcomes are {', '.join(OUTCOMES)}; got {got}", True
            )
    return tuple(Outcome(item) for item in values)


def select_fixtures(
    owner: YMap, key: str, catalogue: Mapping[str, Fixture], groups: Mapping[str, list[str]]
) -> tuple[str, ...]:
    """`all`, or a list of fixture names and external entry names (each: all of its fixtures)."""
    value = owner.get(key)
    if value == "all":
        return tuple(catalogue)
    if not isinstance(value, YSeq) or not value:
        message = f'`{key}` must be "all" or a non-empty list of names, got {describe(value)}'
        raise owner.error(key, message, True)
    names: list[str] = []
    for i, name in enumerate(value):
        if isinstance(name, str) and name in groups:
            names.extend(groups[name])
        elif isinstance(name, str) and name in catalogue:
            names.append(name)
        else:
            known = list(dict.fromkeys([*catalogue, *groups]))
            shown = repr(name) if isinstance(name, str) else describe(name)
            hint = suggest(name, known) if isinstance(name, str) else ""
            message = f"unknown fixture {shown}{hint}; known: {', '.join(known)}"
            raise value.error(i, message)
    return tuple(dict.fromkeys(names))


def fixture_applies(fixture: Fixture, cell: Cell, go_resolved: str | None = None) -> str | None:
    """Why `fixture` cannot run in `cell` (its min_go or required experiments), or None if it can.

    With only the matrix version (`1.22`, newest patch not yet known) min_go is compared on the
    minor version; with `go_resolved` (`1.22.10`) it is exact.
    """
    if fixture.min_go:
        version = (go_resolved or cell.go).removeprefix("go")
        try:
            have = go_version_key(version)
        except ValueError:  # an odd resolved version (a release candidate): judge by the matrix's
            version, have = cell.go, go_version_key(cell.go)
        need = go_version_key(fixture.min_go)
        if have[2] < 0 or need[2] < 0:
            have, need = have[:2] + (0,), need[:2] + (0,)
        if have < need:
            return f"needs Go >= {fixture.min_go}, cell has Go {version}"
    missing = [e for e in fixture.requires_experiments if e not in cell.experiments]
    if missing:
        return (
            f"needs GOEXPERIMENT {','.join(missing)}, cell has {experiment_id(cell.goexperiment)}"
        )
    return None
