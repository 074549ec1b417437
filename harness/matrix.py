"""matrix.yaml (schema 1): load and validate it and expand it into cells.

`load_matrix` turns the file (with one profile applied) into `CellPlan`s: a cell, its settings and
its fixtures. Every problem in the file is one `MatrixError` line `file:line: what is allowed`.
`expand` is the pure GitHub Actions matrix expansion (exclude first, then include), shared by the
CLI and the noxfile. Selecting cells (`--cells`) and CI output live in `harness.selection`.
The `defaults:` blocks and include overrides are parsed by `harness.settings`.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import harness
from harness.axes import parse_axis_value
from harness.errors import MatrixError
from harness.external import ExternalEntry, load_externals
from harness.fixtures import (
    FIXTURE_NAME,
    check_go_version,
    load_fixtures,
    select_fixtures,
)
from harness.model import (
    CGO_OFF,
    Cell,
    CellPlan,
    DockerSettings,
    Fixture,
    go_version_key,
    make_axes,
)
from harness.settings import (
    DEFAULTS_KEYS,
    Partial,
    merge_settings,
    parse_setting,
    parse_settings_block,
    to_settings,
)
from harness.yamlsrc import (
    YMap,
    YSeq,
    check_keys,
    describe,
    parse_duration,
    parse_size,
    parse_yaml,
    read_source,
    require_int,
    require_map,
    require_seq,
    require_str,
    suggest,
)

__all__ = [
    "CellPlan", "DockerSettings", "Matrix", "expand", "load_matrix",
    "parse_duration", "parse_size",
]  # fmt: skip

log = logging.getLogger("gxm.matrix")

SCHEMA = 1
BACKENDS = ("auto", "local", "docker")
AXES = ("go", "goexperiment", "godebug", "buildmode", "cgo")
PROFILE_KEYS = ("backend", "jobs", *AXES, "fixtures", "include", "exclude", "defaults")
MATRIX_KEYS = ("schema", *PROFILE_KEYS, "profiles", "docker", "external")
INCLUDE_KEYS = (*AXES, "fixtures", *DEFAULTS_KEYS)
MIN_GO = (1, 21)
MAX_JOBS = 1024
EXPERIMENT_VALUE = re.compile(r"^[a-z0-9]+(,[a-z0-9]+)*$")


@dataclass(frozen=True)
class Matrix:
    """A validated matrix file with one profile applied; `fixtures` are those some cell selects."""

    path: Path
    sha256: str
    profile: str | None
    backend: str
    cells: tuple[CellPlan, ...]
    fixtures: tuple[Fixture, ...]
    docker: DockerSettings
    profiles: tuple[str, ...]
    externals: tuple[ExternalEntry, ...] = ()
    jobs: int | None = None  # runs at a time; None: the CPUs gxm may use (harness.schedule)

    @property
    def fixtures_by_name(self) -> dict[str, Fixture]:
        return {f.name: f for f in self.fixtures}


# --- expansion ---------------------------------------------------------------------------------


def expand(
    axes: Mapping[str, Sequence[Any]],
    include: Sequence[Mapping[str, Any]],
    exclude: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """GitHub Actions matrix expansion, in GitHub's order.

    The product of `axes` (first axis varies slowest), minus every combination that an `exclude`
    entry matches on all of its keys; then each `include` entry is merged into every original
    combination whose values it does not contradict (values added by an earlier include may be
    overwritten, original ones never), or, if it fits none, appended as a new combination. New
    combinations are never matched by later includes.
    """
    keys = list(axes)
    product = itertools.product(*(axes[k] for k in keys)) if keys else ()
    originals = [dict(zip(keys, values, strict=True)) for values in product]
    originals = [c for c in originals if not any(_all_match(c, e) for e in exclude)]
    combos = [dict(c) for c in originals]
    added: list[dict[str, Any]] = []
    for entry in include:
        fits = [i for i, original in enumerate(originals) if _fits(original, entry)]
        for i in fits:
            combos[i].update(entry)
        if not fits:
            added.append(dict(entry))
    return combos + added


def _all_match(combo: Mapping[str, Any], entry: Mapping[str, Any]) -> bool:
    return all(k in combo and combo[k] == v for k, v in entry.items())


def _fits(original: Mapping[str, Any], entry: Mapping[str, Any]) -> bool:
    return all(original[k] == v for k, v in entry.items() if k in original)


# --- loading -----------------------------------------------------------------------------------


def default_fixtures_path() -> Path:
    """go_fixtures/fixtures.yaml beside the harness package."""
    return Path(harness.__file__).resolve().parent.parent / "go_fixtures" / "fixtures.yaml"


def load_matrix(
    path: Path, profile: str | None = None, fixtures_path: Path | None = None
) -> Matrix:
    """Load, validate and expand `path` with `profile` (None: `smoke` if defined, else top level).

    Every profile is validated, not only the one used, so a typo in `nightly` shows up in a smoke
    run. Raises MatrixError (exit 2) naming file and line for any problem in either file.
    """
    data = read_source(Path(path))
    doc = parse_yaml(data, str(path))
    anchors = tuple(key for key in doc if key.startswith("x-"))  # room for `x-base: &base {...}`
    check_keys(doc, (*MATRIX_KEYS, *anchors), "matrix.yaml", required=("schema",))
    if type(doc["schema"]) is not int or doc["schema"] != SCHEMA:
        raise doc.error("schema", f"schema must be 1, got {describe(doc['schema'])}", True)
    catalogue = dict(load_fixtures(Path(fixtures_path or default_fixtures_path())))
    externals = load_externals(require_map(doc, "external", "`external`"), Path(path), catalogue)
    groups = {entry.name: list(entry.fixtures) for entry in externals}
    profiles = _profiles(doc)
    chosen = _choose_profile(doc, profiles, profile)
    docker = _docker(doc)
    plans: dict[str | None, tuple[str, int | None, list[CellPlan]]] = {}
    for name in [*profiles, *([] if "smoke" in profiles else [None])]:
        overlay = profiles[name] if name else YMap(doc.source, doc.line)
        plans[name] = _plan(doc, name, overlay, catalogue, groups, warn=name == chosen)
    backend, jobs, cells = plans[chosen]
    used = {name for plan in cells for name in plan.fixtures}
    return Matrix(
        path=Path(path),
        sha256=hashlib.sha256(data).hexdigest(),
        profile=chosen,
        backend=backend,
        cells=tuple(cells),
        fixtures=tuple(f for name, f in catalogue.items() if name in used),
        docker=docker,
        profiles=tuple(profiles),
        externals=tuple(externals),
        jobs=jobs,
    )


def _profiles(doc: YMap) -> dict[str, YMap]:
    block = require_map(doc, "profiles", "`profiles`")
    profiles: dict[str, YMap] = {}
    for name in block:
        if not FIXTURE_NAME.match(name):
            raise block.error(name, f"bad profile name {name!r}: use letters, digits, _ - and .")
        profiles[name] = require_map(block, name, f"profile {name!r}")
        check_keys(profiles[name], PROFILE_KEYS, f"profile {name!r}")
    return profiles


def _choose_profile(doc: YMap, profiles: dict[str, YMap], wanted: str | None) -> str | None:
    if wanted is None:
        return "smoke" if "smoke" in profiles else None
    if wanted not in profiles:
        defined = ", ".join(profiles) or "none"
        line = doc.key_line("profiles") if "profiles" in doc else None
        hint = suggest(wanted, profiles)
        message = f"profile {wanted!r} is not defined{hint}; defined profiles: {defined}"
        raise MatrixError(doc.source, line, message)
    return wanted


def _docker(doc: YMap) -> DockerSettings:
    block = require_map(doc, "docker", "`docker`")
    check_keys(block, ("base_image", "bootstrap"), "docker")
    boot = require_map(block, "bootstrap", "docker: bootstrap")
    check_keys(boot, ("mirror", "suite"), "docker: bootstrap")
    found = DockerSettings()
    base_image, mirror, suite = found.base_image, found.bootstrap_mirror, found.bootstrap_suite
    if block.get("base_image") is not None:
        base_image = require_str(block, "base_image", "docker: base_image").strip()
    if "mirror" in boot:
        mirror = require_str(boot, "mirror", "docker: bootstrap: mirror")
        if not re.match(r"^(https?|file)://\S+$", mirror):
            raise boot.error("mirror", "docker: bootstrap: mirror must be an http(s):// URL", True)
    if "suite" in boot:
        suite = require_str(boot, "suite", "docker: bootstrap: suite")
        if not re.match(r"^[a-z][a-z0-9-]*$", suite):
            raise boot.error("suite", "docker: bootstrap: suite must be like bookworm", True)
    return DockerSettings(base_image, mirror, suite)


def _plan(
    doc: YMap,
    name: str | None,
    overlay: YMap,
    catalogue: dict[str, Fixture],
    groups: dict[str, list[str]],
    warn: bool = False,
) -> tuple[str, int | None, list[CellPlan]]:
    """The backend, jobs and cell plans of the top level with profile `overlay` laid over it."""
    owner = {key: overlay if key in overlay else doc for key in PROFILE_KEYS}
    where = f"profile {name!r}" if name else "the top level"
    backend = owner["backend"].get("backend", "auto")
    if backend not in BACKENDS:
        message = f"backend must be {' | '.join(BACKENDS)}, got {describe(backend)}"
        raise owner["backend"].error("backend", message, True)
    if "go" not in owner["go"]:
        raise overlay.error(None, f'{where} has no `go` axis: add e.g. go: ["1.22", "1.26"]')
    axes = {"go": _go_axis(owner["go"])}
    axes.update({key: _value_axis(owner[key], key) for key in AXES[1:]})
    selection = tuple(catalogue)
    if "fixtures" in owner["fixtures"]:
        selection = select_fixtures(owner["fixtures"], "fixtures", catalogue, groups)
    exclude = [_axis_values(e, AXES, "exclude") for e in _entry_maps(owner["exclude"], "exclude")]
    include_maps = list(_entry_maps(owner["include"], "include"))
    include = [_include_entry(e, catalogue, groups) for e in include_maps]
    base = parse_settings_block(require_map(doc, "defaults", "`defaults`"), "defaults")
    if name:
        defaults = require_map(overlay, "defaults", f"{where}: defaults")
        base = merge_settings(base, parse_settings_block(defaults, f"{where}: defaults"))
    if warn:
        _warn_unused_excludes(doc.source, axes, exclude)
    combos = expand(axes, include, exclude)
    if not combos:
        raise owner["exclude"].error("exclude", f"{where} has no cells: exclude removes them all")
    jobs = owner["jobs"]
    runs_at_once = (
        require_int(jobs, "jobs", "jobs", minimum=1, maximum=MAX_JOBS) if "jobs" in jobs else None
    )
    return str(backend), runs_at_once, _cell_plans(combos, include_maps, base, selection)


def _warn_unused_excludes(source: str, axes: dict[str, Any], exclude: list[dict[str, Any]]) -> None:
    """An exclude that matches nothing is legal (as on GitHub) but usually a typo: say so."""
    combos = expand(axes, [], [])
    for entry in exclude:
        if not any(_all_match(combo, entry) for combo in combos):
            log.warning("%s: exclude entry %s matches no cell", source, entry)


# --- axes and include/exclude entries ----------------------------------------------------------

Located = Callable[[str], MatrixError]


def _go_axis(owner: YMap) -> list[str]:
    seq = _axis_seq(owner, "go")
    if not seq:
        raise owner.error("go", 'the go axis is empty: list at least one version, e.g. ["1.22"]')
    return _unique(_go_version(seq[i], seq.raw(i), _at_item(seq, i)) for i in range(len(seq)))


def _value_axis(owner: YMap, key: str) -> list[str]:
    """An axis besides `go` as canonical values ("" = default); [""] when the matrix omits it."""
    if key not in owner:
        return [""]
    seq = _axis_seq(owner, key)
    if not seq:
        raise owner.error(key, f'the {key} axis is empty: use [""] for default')
    return _unique(_axis_value(key, seq[i], _at_item(seq, i)) for i in range(len(seq)))


def _axis_value(key: str, value: object, error: Located) -> str:
    """One value of `goexperiment`, `godebug`, `buildmode` or `cgo` in its canonical form."""
    if key == "goexperiment":
        return _experiment(value, error)
    try:
        return parse_axis_value(key, value)
    except ValueError as exc:
        raise error(str(exc)) from None


def _axis_seq(owner: YMap, key: str) -> YSeq:
    """An axis as a list; a single value (`go: "1.22"`) reads as a one-item list."""
    value = owner.get(key)
    if isinstance(value, YSeq):
        return value
    if isinstance(value, YMap):
        raise owner.error(key, f"`{key}` must be a list of values, got a mapping", True)
    seq = YSeq(owner.source, owner.value_line(key))
    if value is not None:
        seq.append(value)
        seq.item_lines.append(owner.value_line(key))
        seq.raws.append(owner.raw(key))
    return seq


def _at_item(seq: YSeq, index: int) -> Located:
    return lambda message: seq.error(index, message)


def _at_value(block: YMap, key: str) -> Located:
    return lambda message: block.error(key, message, True)


def _go_version(value: object, raw: str | None, error: Located) -> str:
    version = check_go_version(value, raw, error, "go")
    if go_version_key(version)[:2] < MIN_GO:
        raise error(f"go {version} is too old: gxm supports Go 1.21 and newer")
    return version


def _experiment(value: object, error: Located) -> str:
    """A GOEXPERIMENT value: "" (or `default`) for the toolchain default, else `a,b` names."""
    if value in ("", "default"):
        return ""
    if not isinstance(value, str) or not EXPERIMENT_VALUE.match(value):
        got = describe(value)
        raise error(f'goexperiment is "" (default) or a,b names of [a-z0-9] only, got {got}')
    return value


def _unique(values: Any) -> list[Any]:
    return list(dict.fromkeys(values))


def _entry_maps(owner: YMap, key: str) -> YSeq:
    """The `include`/`exclude` list, each item checked to be a non-empty mapping."""
    seq = require_seq(owner, key, f"`{key}`")
    for i, item in enumerate(seq):
        if not isinstance(item, YMap) or not item:
            example = '{go: "1.22", goexperiment: arenas}'
            raise seq.error(
                i, f"each {key} entry is a mapping like {example}, got {describe(item)}"
            )
    return seq


def _axis_values(entry: YMap, allowed: Sequence[str], where: str) -> dict[str, Any]:
    check_keys(entry, allowed, f"{where} entry")
    values: dict[str, Any] = {}
    if "go" in entry:
        values["go"] = _go_version(entry["go"], entry.raw("go"), _at_value(entry, "go"))
    for key in AXES[1:]:
        if key in entry:
            values[key] = _axis_value(key, entry[key], _at_value(entry, key))
    return values


def _include_entry(
    entry: YMap, catalogue: dict[str, Fixture], groups: dict[str, list[str]]
) -> dict[str, Any]:
    """Axis values plus each override key parsed on its own (GitHub merges includes per key)."""
    values = _axis_values(entry, INCLUDE_KEYS, "include")
    for key in entry:
        if key == "fixtures":
            values[key] = select_fixtures(entry, key, catalogue, groups)
        elif key in DEFAULTS_KEYS:
            values[key] = parse_setting(entry, key, "include")
    return values


def _cell_plans(
    combos: list[dict[str, Any]], include: list[YMap], base: Partial, selection: tuple[str, ...]
) -> list[CellPlan]:
    """One CellPlan per distinct cell id; a later duplicate lays its overrides over the first."""
    found: dict[str, tuple[Cell, Partial, tuple[str, ...]]] = {}
    for combo in combos:
        if "go" not in combo:
            source = next(
                (e for e in include if "go" not in e and set(e) <= set(combo)), include[0]
            )
            raise source.error(
                None, "this include entry matches no cell, so it adds a new one, which needs `go`"
            )
        axes = make_axes(
            combo.get("godebug", ""), combo.get("buildmode", ""), combo.get("cgo", "") != CGO_OFF
        )
        cell = Cell(go=combo["go"], goexperiment=combo.get("goexperiment", ""), axes=axes)
        _, extras, names = found.get(cell.id, (cell, {}, selection))
        for key in DEFAULTS_KEYS:
            if key in combo:
                extras = merge_settings(extras, combo[key])
        found[cell.id] = (cell, extras, combo.get("fixtures", names))
    return [
        CellPlan(cell, to_settings(merge_settings(base, extras)), names)
        for cell, extras, names in found.values()
    ]
