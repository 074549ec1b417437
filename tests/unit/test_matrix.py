"""matrix.py: matrix.yaml validation (file:line, one line), GitHub include/exclude, selection."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import replace
from pathlib import Path

import pytest

from harness.errors import GxmError, MatrixError, NothingSelectedError, UsageError
from harness.fixtures import load_fixtures
from harness.matrix import (
    Matrix,
    expand,
    load_matrix,
    parse_duration,
    parse_size,
)
from harness.model import Cell, CellPlan, Settings
from harness.selection import github_matrix, github_shard_matrix, select_cells

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "matrices"
FIXTURES = DATA / "fixtures" / "fixtures.yaml"
SDK = DATA / "sdk"
HEAD = 'schema: 1\ngo: ["1.22", "1.26"]\ngoexperiment: ["", arenas]\n'


def load_text(tmp_path: Path, text: str, profile: str | None = None) -> Matrix:
    path = tmp_path / "matrix.yaml"
    path.write_text(text)
    return load_matrix(path, profile, FIXTURES)


def ids(matrix: Matrix) -> list[str]:
    return [plan.cell.id for plan in matrix.cells]


# --- malformed files: every error names the file and the right line, on one line ----------------

BAD = {
    "unknown top-level key, closest suggested": (
        HEAD + "goexperiments: [arenas]\n",
        4,
        "unknown key 'goexperiments' in matrix.yaml (did you mean 'goexperiment'?); allowed:",
    ),
    "YAML syntax error": (HEAD + "include: [{go: '1.22'}\nexclude: []\n", 5, "invalid YAML"),
    "duplicate key": (HEAD + 'go: ["1.21"]\n', 4, "duplicate key 'go' (first at line 2)"),
    "unquoted Go version read as a float": (
        'schema: 1\ngo:\n  - "1.22"\n  - 1.20\n',
        4,
        'write the Go version in quotes, "1.20" (YAML reads 1.20 as the number 1.2)',
    ),
    "Go version too old": ('schema: 1\ngo: ["1.19"]\n', 2, "too old: gxm supports Go 1.21"),
    "malformed Go version": ('schema: 1\ngo: ["1.22rc1"]\n', 2, 'a Go version is "1.N" or "1.N.P"'),
    "experiment outside [a-z0-9,]": (
        'schema: 1\ngo: ["1.22"]\ngoexperiment:\n  - ""\n  - Arenas\n',
        5,
        "goexperiment is",
    ),
    "empty part in an experiment list": (
        'schema: 1\ngo: ["1.22"]\ngoexperiment: ["arenas,"]\n',
        3,
        "goexperiment is",
    ),
    "unknown fixture": (
        HEAD + "fixtures:\n  - cmem_finalizer\n  - gc_small_object\n",
        6,
        "unknown fixture 'gc_small_object' (did you mean 'gc_small_objects'?)",
    ),
    "bad duration": (HEAD + "defaults:\n  duration: 2x\n", 5, "defaults: duration: bad duration"),
    "bad value on the line after its key": (
        HEAD + "defaults:\n  timeout:\n    2x\n",
        6,
        "defaults: timeout: bad duration '2x'",
    ),
    "bad size": (HEAD + "defaults:\n  memory: lots\n", 5, "defaults: memory: bad size 'lots'"),
    "memory below what a container accepts": (
        HEAD + "defaults:\n  memory: 1MiB\n",
        5,
        "less than the 6MiB",
    ),
    "unknown backend": (HEAD + "backend: podman\n", 4, "backend must be auto | local | docker"),
    "jobs 0": (HEAD + "jobs: 0\n", 4, "jobs must be at least 1, got 0"),
    "jobs not a number": (HEAD + "profiles:\n  smoke:\n    jobs: all\n", 6, "jobs must be a whole"),
    "schema missing": ('go: ["1.22"]\n', 1, "missing the required key 'schema'"),
    "schema not 1": ('schema: 2\ngo: ["1.22"]\n', 1, "schema must be 1, got the number 2"),
    "empty go axis": ("schema: 1\ngo: []\n", 2, "the go axis is empty"),
    "no go axis at all": ("schema: 1\nfixtures: all\n", 1, "has no `go` axis"),
    "env value YAML reads as a boolean": (
        HEAD + "defaults:\n  env:\n    GOGC: off\n",
        6,
        'defaults: env: GOGC must be text, got the boolean false; write "off" in quotes',
    ),
    "env name not a variable name": (
        HEAD + "defaults:\n  env: {gogc: '100'}\n",
        5,
        "'gogc' is not a variable name",
    ),
    "env variable gxm sets itself": (
        HEAD + "defaults:\n  env: {GXM_SEED: '3'}\n",
        5,
        "defaults: env: gxm sets GXM_SEED itself (from the run's --seed)",
    ),
    "wrong type for defaults": (HEAD + "defaults: [1, 2]\n", 4, "`defaults` must be a mapping"),
    "repeats below 1": (HEAD + "defaults:\n  repeats: {stress: 0}\n", 5, "at least 1, got 0"),
    "cpus not a number": (HEAD + "defaults:\n  cpus: two\n", 5, "cpus must be a number above 0"),
    "unknown key in an include entry": (
        HEAD + "include:\n  - go: '1.22'\n    repeat: 3\n",
        6,
        "unknown key 'repeat' in include entry (did you mean 'repeats'?)",
    ),
    "exclude on a non-axis key": (
        HEAD + "exclude:\n  - {go: '1.22', timeout: 5s}\n",
        5,
        "unknown key 'timeout' in exclude entry",
    ),
    "include adds a cell without go": (
        HEAD + "include:\n  - goexperiment: cgocheck2\n",
        5,
        "matches no cell, so it adds a new one, which needs `go`",
    ),
    "unknown key in a profile": (
        HEAD + "profiles:\n  smoke:\n    defualts: {}\n",
        6,
        "unknown key 'defualts' in profile 'smoke' (did you mean 'defaults'?)",
    ),
    "error inside a profile that is not the one used": (
        HEAD + "profiles:\n  nightly:\n    go: [1.25]\n",
        6,
        'write the Go version in quotes, "1.25"',
    ),
    "external module without go.mod": (
        HEAD + f"external:\n  mysdk:\n    module: {DATA / 'fixtures' / 'cmd'}\n",
        6,
        "is not a Go module",
    ),
    "external pattern with no main package": (
        HEAD + f"external:\n  mysdk:\n    module: {SDK}\n    packages: ./cmd/lib\n",
        7,
        "matches no main package",
    ),
    "top level is a list": ("- schema: 1\n", 1, "the top level must be `key: value` lines"),
    "empty file": ("", 1, "the file is empty"),
    "exclude removes every cell": (
        'schema: 1\ngo: ["1.22"]\nexclude: [{go: "1.22"}]\n',
        3,
        "has no cells: exclude removes them all",
    ),
}


def test_c_backtrace_is_on_by_default_and_can_be_turned_off(tmp_path: Path) -> None:
    assert all(p.settings.c_backtrace and not p.settings.keep_core for p in
               load_text(tmp_path, HEAD).cells)  # fmt: skip
    text = HEAD + 'defaults: {c_backtrace: false}\ninclude: [{go: "1.26", keep_core: true}]\n'
    plans = {p.cell.id: p.settings for p in load_text(tmp_path, text).cells}
    assert not plans["go1.22-default"].c_backtrace and not plans["go1.22-default"].keep_core
    assert plans["go1.26-arenas"].keep_core


def test_c_backtrace_must_be_a_boolean(tmp_path: Path) -> None:
    with pytest.raises(MatrixError) as info:
        load_text(tmp_path, HEAD + "defaults:\n  c_backtrace: sometimes\n")
    assert str(info.value).startswith(f"{tmp_path / 'matrix.yaml'}:5: ")
    assert "must be true or false" in str(info.value)


@pytest.mark.parametrize("text,line,message", BAD.values(), ids=list(BAD))
def test_malformed_matrix_is_one_line_with_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    with pytest.raises(MatrixError) as info:
        load_text(tmp_path, text)
    error = info.value
    path = tmp_path / "matrix.yaml"
    assert str(error).startswith(f"{path}:{line}: "), str(error)
    assert error.line == line and error.path == str(path)
    assert message in str(error)
    assert "\n" not in str(error)
    assert error.exit_code == 2


@pytest.mark.parametrize("sample", sorted(DATA.glob("bad_*.yaml")), ids=lambda p: p.stem)
def test_bad_sample_files(sample: Path) -> None:
    """Each tests/data/matrices/bad_*.yaml starts with `# expect: <line>: <message>`."""
    expectation = sample.read_text().splitlines()[0].removeprefix("# expect: ")
    with pytest.raises(MatrixError) as info:
        load_matrix(sample, None, FIXTURES)
    assert str(info.value) == f"{sample}:{expectation}"


def test_unknown_profile_lists_the_defined_ones(tmp_path: Path) -> None:
    text = HEAD + "profiles:\n  smoke: {}\n  nightly: {go: ['1.27']}\n"
    with pytest.raises(MatrixError) as info:
        load_text(tmp_path, text, profile="nighty")
    assert str(info.value) == (
        f"{tmp_path / 'matrix.yaml'}:4: profile 'nighty' is not defined (did you mean 'nightly'?);"
        " defined profiles: smoke, nightly"
    )


def test_missing_matrix_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(MatrixError, match="file not found"):
        load_matrix(tmp_path / "nope.yaml", None, FIXTURES)


def test_broken_fixtures_yaml_is_reported_in_that_file(tmp_path: Path) -> None:
    broken = tmp_path / "fixtures.yaml"
    broken.write_text("schema: 1\nfixtures: {x: {kind: stres}}\n")
    (tmp_path / "matrix.yaml").write_text(HEAD)
    with pytest.raises(MatrixError) as info:
        load_matrix(tmp_path / "matrix.yaml", None, broken)
    assert str(info.value).startswith(f"{broken}:2: ")


def test_mutated_files_only_ever_raise_gxm_errors(tmp_path: Path) -> None:
    """A small deterministic fuzz: random edits of a good file never produce a traceback."""
    lines = (DATA / "good.yaml").read_text().replace("module: sdk", f"module: {SDK}").splitlines()
    pieces = ["", ":", "-", "[", "{", '"', "&a", "*a", "1.20", "~", "yes", "\t", "?", "!x", "#"]
    rng = random.Random(20261127)
    path = tmp_path / "matrix.yaml"
    for _ in range(300):
        mutated = list(lines)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(mutated))
            cut = rng.randint(0, len(mutated[i]))
            mutated[i] = (
                mutated[i][:cut] + rng.choice(pieces) + mutated[i][cut + rng.randint(0, 2) :]
            )
        path.write_text("\n".join(mutated))
        try:
            load_matrix(path, rng.choice([None, "nightly"]), FIXTURES)
        except GxmError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(str(path))


# --- a good file --------------------------------------------------------------------------------


def test_a_fixture_knob_can_be_set_per_cell(tmp_path: Path) -> None:
    """GXM_* names gxm does not set itself are fixture knobs (gc_live_heap's GXM_LIVE_HEAP_MB):
    a matrix sets them like GOGC, here per cell through include entries."""
    text = HEAD + "include:\n  - {go: '1.26', env: {GXM_LIVE_HEAP_MB: '128'}}\n"
    by_id = {plan.cell.id: plan.settings for plan in load_text(tmp_path, text).cells}
    assert dict(by_id["go1.26-default"].env)["GXM_LIVE_HEAP_MB"] == "128"
    assert "GXM_LIVE_HEAP_MB" not in dict(by_id["go1.22-default"].env)


def test_good_matrix_applies_profile_defaults_and_include_overrides() -> None:
    matrix = load_matrix(DATA / "good.yaml", None, FIXTURES)
    assert matrix.profile == "smoke" and matrix.profiles == ("smoke", "nightly")
    assert matrix.backend == "local"
    assert matrix.sha256 == hashlib.sha256((DATA / "good.yaml").read_bytes()).hexdigest()
    assert ids(matrix) == ["go1.26-default", "go1.26-arenas", "go1.22-cgocheck2"]
    by_id = {plan.cell.id: plan.settings for plan in matrix.cells}
    default = by_id["go1.26-default"]
    # profile defaults deep-merge: repeats replaced for every kind, env merged per variable
    assert (default.repeats_stress, default.repeats_bench, default.repeats_claim) == (1, 1, 1)
    assert dict(default.env) == {"GOGC": "50", "GODEBUG": "gctrace=0"}
    assert default.duration_s == 90.0 and default.timeout_s == 120.0 and default.grace_s == 0.5
    assert default.build_timeout_s == 900.0 and default.memory_limit_bytes == 512 << 20
    assert default.build_memory_limit_bytes == 2 << 30 and default.cpus == 1.5
    assert default.pids_limit == 1024 and default.bench_warmup == 2
    assert by_id["go1.26-arenas"].duration_s == 5.0  # include merged into the matching cell
    assert by_id["go1.22-cgocheck2"].repeats_for("claim") == 10  # include added a new cell
    assert matrix.docker.base_image == "golang:1.22-bookworm"


def test_external_fixtures_are_selected_by_entry_name() -> None:
    matrix = load_matrix(DATA / "good.yaml", "nightly", FIXTURES)
    assert matrix.cells[0].fixtures == ("cmem_finalizer", "mysdk/a", "mysdk/b", "mysdk/b/inner")
    assert [f.name for f in matrix.fixtures] == list(matrix.cells[0].fixtures)
    external = matrix.fixtures_by_name["mysdk/b/inner"]
    assert external.external and external.package == "./cmd/b/inner"
    assert external.module_dir == SDK.resolve()
    assert ids(matrix)[:3] == ["go1.21-default", "go1.21-arenas", "go1.21-arenas+cgocheck2"]
    assert "go1.22.10-arenas" in ids(matrix) and len(matrix.cells) == 9


def test_top_level_is_used_when_no_smoke_profile(tmp_path: Path) -> None:
    matrix = load_text(tmp_path, HEAD + "profiles:\n  big: {go: ['1.27']}\n")
    assert matrix.profile is None
    assert ids(matrix) == ["go1.22-default", "go1.22-arenas", "go1.26-default", "go1.26-arenas"]
    assert matrix.cells[0].settings == Settings()
    assert ids(load_text(tmp_path, HEAD + "profiles:\n  big: {go: ['1.27']}\n", "big")) == [
        "go1.27-default",
        "go1.27-arenas",
    ]


def test_duplicate_cells_are_merged_and_include_settings_apply_per_key(tmp_path: Path) -> None:
    text = (
        'schema: 1\ngo: ["1.22", "1.22"]\ngoexperiment: ["", "default"]\n'
        "include:\n"
        "  - {go: '1.27', repeats: 5}\n"
        "  - {go: '1.27', goexperiment: '', env: {GOGC: '10'}}\n"
        "  - {timeout: 10s}\n"
        "  - {timeout: 20s, goexperiment: ''}\n"
    )
    matrix = load_text(tmp_path, text)
    assert ids(matrix) == ["go1.22-default", "go1.27-default"]
    first, added = (plan.settings for plan in matrix.cells)
    assert first.timeout_s == 20.0  # a later include overwrites a value an earlier one added
    assert added.repeats_stress == 5 and dict(added.env) == {"GOGC": "10"}
    assert added.timeout_s == Settings().timeout_s  # includes match original cells only


# --- GitHub Actions matrix semantics (the documented examples) -----------------------------------


def test_expand_documented_include_example() -> None:
    include = [
        {"color": "green"},
        {"color": "pink", "animal": "cat"},
        {"fruit": "apple", "shape": "circle"},
        {"fruit": "banana"},
        {"fruit": "banana", "animal": "cat"},
    ]
    result = expand({"fruit": ["apple", "pear"], "animal": ["cat", "dog"]}, include, [])
    assert result == [
        {"fruit": "apple", "animal": "cat", "color": "pink", "shape": "circle"},
        {"fruit": "apple", "animal": "dog", "color": "green", "shape": "circle"},
        {"fruit": "pear", "animal": "cat", "color": "pink"},
        {"fruit": "pear", "animal": "dog", "color": "green"},
        {"fruit": "banana"},
        {"fruit": "banana", "animal": "cat"},
    ]


def test_expand_documented_exclude_example_matches_partially() -> None:
    axes = {
        "os": ["macos-latest", "windows-latest"],
        "version": [12, 14, 16],
        "environment": ["staging", "production"],
    }
    exclude = [
        {"os": "macos-latest", "version": 12, "environment": "production"},
        {"os": "windows-latest", "version": 16},
    ]
    result = expand(axes, [], exclude)
    assert len(result) == 9
    assert {"os": "macos-latest", "version": 12, "environment": "production"} not in result
    assert not [c for c in result if c["os"] == "windows-latest" and c["version"] == 16]


def test_expand_documented_order_and_extra_value_example() -> None:
    axes = {"os": ["windows-latest", "ubuntu-latest"], "node": [14, 16]}
    result = expand(axes, [{"os": "windows-latest", "node": 16, "npm": 6}], [])
    assert result == [
        {"os": "windows-latest", "node": 14},
        {"os": "windows-latest", "node": 16, "npm": 6},
        {"os": "ubuntu-latest", "node": 14},
        {"os": "ubuntu-latest", "node": 16},
    ]


def test_expand_include_only_and_include_after_exclude() -> None:
    sites = [{"site": "production", "datacenter": "a"}, {"site": "staging", "datacenter": "b"}]
    assert expand({}, sites, []) == sites
    # include runs after exclude, so it can add back an excluded combination
    result = expand({"go": ["1.22", "1.26"]}, [{"go": "1.22", "x": 1}], [{"go": "1.22"}])
    assert result == [{"go": "1.26"}, {"go": "1.22", "x": 1}]


def test_include_never_overwrites_original_values() -> None:
    result = expand({"go": ["1.22"], "goexperiment": [""]}, [{"goexperiment": "arenas"}], [])
    assert result == [{"go": "1.22", "goexperiment": ""}, {"goexperiment": "arenas"}]


# --- selection ----------------------------------------------------------------------------------

CELLS = [Cell("1.22", ""), Cell("1.22", "arenas"), Cell("1.26", "arenas"), Cell("1.26", "a,b")]


@pytest.mark.parametrize(
    "patterns,expected",
    [
        (["go1.22-arenas"], ["go1.22-arenas"]),
        (["go1_22-arenas"], ["go1.22-arenas"]),
        (["cell(go1_26-arenas)"], ["go1.26-arenas"]),
        (["go1.2*-arenas"], ["go1.22-arenas", "go1.26-arenas"]),
        (["go1_2?-*"], ["go1.22-default", "go1.22-arenas", "go1.26-arenas", "go1.26-a+b"]),
        (["go1.26-a+b", "go1.22-default"], ["go1.22-default", "go1.26-a+b"]),
        ([], ["go1.22-default", "go1.22-arenas", "go1.26-arenas", "go1.26-a+b"]),
    ],
)
def test_select_cells_by_id_nox_id_and_glob(patterns: list[str], expected: list[str]) -> None:
    assert [c.id for c in select_cells(CELLS, patterns)] == expected


def test_select_cells_works_on_plans() -> None:
    plans = [CellPlan(cell, Settings(), ("x",)) for cell in CELLS]
    assert select_cells(plans, ["go1.26-*"]) == plans[2:]


def test_unknown_pattern_names_it_and_lists_valid_ids() -> None:
    with pytest.raises(NothingSelectedError) as info:
        select_cells(CELLS, ["go1.22-arenas", "go1.22-arena"])
    message = str(info.value)
    assert "'go1.22-arena'" in message and "did you mean 'go1.22-arenas'" in message
    assert "go1.26-a+b" in message and info.value.exit_code == 3


# --- the project's matrix.yaml ------------------------------------------------------------------


PROJECT_FIXTURES = REPO / "go_fixtures" / "fixtures.yaml"


def test_project_matrix_smoke_is_the_default_with_4_cells() -> None:
    matrix = load_matrix(REPO / "matrix.yaml", None, PROJECT_FIXTURES)
    assert matrix.profile == "smoke"
    assert ids(matrix) == ["go1.22-default", "go1.22-arenas", "go1.26-default", "go1.26-arenas"]
    settings = matrix.cells[0].settings
    assert settings.duration_s == 0.5 and (settings.repeats_stress, settings.repeats_bench) == (
        2,
        3,
    )
    assert matrix.cells[0].fixtures == tuple(load_fixtures(PROJECT_FIXTURES))


def test_project_matrix_pauses_profile_runs_gc_short_cycles_for_30_s() -> None:
    """The profile the README sends a reader to for a pooled p99 to about 10%."""
    matrix = load_matrix(REPO / "matrix.yaml", "pauses", PROJECT_FIXTURES)
    assert ids(matrix) == [
        "go1.22-default",
        "go1.22-nogreenteagc",
        "go1.26-default",
        "go1.26-nogreenteagc",
    ]
    for plan in matrix.cells:
        assert plan.fixtures == ("gc_short_cycles",)
        assert (plan.settings.duration_s, plan.settings.repeats_bench) == (30.0, 10)
        assert plan.settings.timeout_s == 120.0  # a run that goes on past its 30 s is stopped


def test_project_matrix_nightly_has_35_experiment_cells() -> None:
    matrix = load_matrix(REPO / "matrix.yaml", "nightly", PROJECT_FIXTURES)
    matrix = replace(matrix, cells=tuple(p for p in matrix.cells if not p.cell.axes))
    assert len(matrix.cells) == 35 == len(set(ids(matrix)))
    assert {plan.cell.go for plan in matrix.cells} == {f"1.{n}" for n in range(21, 28)}
    assert {plan.cell.goexperiment for plan in matrix.cells} == {
        "",
        "arenas",
        "cgocheck2",
        "greenteagc",
        "nogreenteagc",
    }


# --- GitHub Actions matrix output ---------------------------------------------------------------


def test_github_matrix_shape() -> None:
    out = github_matrix(CELLS[:2])
    assert json.loads(json.dumps(out)) == {
        "include": [
            {
                "cell": "go1.22-default",
                "nox_id": "go1_22-default",
                "nox_session": "cell(go1_22-default)",
                "go": "1.22",
                "goexperiment": "",
                "godebug": "",
                "buildmode": "",
                "cgo": "on",
                "name": "go1.22-default",
                "selection": "--cells go1.22-default",
            },
            {
                "cell": "go1.22-arenas",
                "nox_id": "go1_22-arenas",
                "nox_session": "cell(go1_22-arenas)",
                "go": "1.22",
                "goexperiment": "arenas",
                "godebug": "",
                "buildmode": "",
                "cgo": "on",
                "name": "go1.22-arenas",
                "selection": "--cells go1.22-arenas",
            },
        ]
    }


def test_github_shard_matrix_has_one_job_per_shard() -> None:
    out = github_shard_matrix(3)
    assert [job["selection"] for job in out["include"]] == [
        "--shard 1/3",
        "--shard 2/3",
        "--shard 3/3",
    ]
    assert len({job["name"] for job in out["include"]}) == 3
    with pytest.raises(UsageError):
        github_shard_matrix(0)


def test_github_matrix_limit_and_empty() -> None:
    many = [
        Cell(f"1.{n}", e)
        for n in range(21, 50)
        for e in ("", "a", "b", "c", "d", "e", "f", "g", "h")
    ]
    assert len(many) > 256
    assert len(github_matrix(many[:256])["include"]) == 256
    with pytest.raises(UsageError, match="256"):
        github_matrix(many)
    with pytest.raises(NothingSelectedError):
        github_matrix([])


# --- durations and sizes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("500ms", 0.5),
        ("2s", 2.0),
        ("1m", 60.0),
        ("1m30s", 90.0),
        ("1h", 3600.0),
        (3, 3.0),
        ("2.5", 2.5),
    ],
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "2x", "-1s", "0", 0, True, None, "1 m", "s", [1]])
def test_parse_duration_rejects(text: object) -> None:
    with pytest.raises(UsageError, match="bad duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    "text,size",
    [("512MiB", 512 << 20), ("1GiB", 1 << 30), ("2G", 2 << 30), ("100M", 100 << 20),
     ("100MB", 100_000_000), (4096, 4096), ("1.5GiB", 3 << 29), ("64k", 64 << 10)],
)  # fmt: skip
def test_parse_size(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "1XB", "-1G", 0, 1.5, False, None])
def test_parse_size_rejects(text: object) -> None:
    with pytest.raises(UsageError, match="bad size"):
        parse_size(text)


def test_jobs_comes_from_the_profile_else_the_top_level_else_is_left_to_the_machine(
    tmp_path: Path,
) -> None:
    assert load_text(tmp_path, HEAD).jobs is None  # the CPUs gxm may use (harness.schedule)
    text = HEAD + "jobs: 3\nprofiles:\n  smoke: {jobs: 1}\n  nightly: {}\n"
    assert load_text(tmp_path, text).jobs == 1
    assert load_text(tmp_path, text, "nightly").jobs == 3


def _lines_of(value: object) -> object:
    """A parsed YAML value with every line number and raw scalar it carries, for comparing."""
    from harness.yamlsrc import YMap, YSeq

    if isinstance(value, YMap):
        items = {k: _lines_of(v) for k, v in value.items()}
        return (value.line, value.key_lines, value.value_lines, value.raws, items)
    if isinstance(value, YSeq):
        return (value.line, value.item_lines, value.raws, [_lines_of(v) for v in value])
    return value


@pytest.mark.parametrize(
    "path",
    [
        REPO / "matrix.yaml",
        REPO / "go_fixtures" / "fixtures.yaml",
        REPO / "go_fixtures" / "claims.yaml",
    ]
    + sorted(DATA.glob("*.yaml")),
    ids=lambda p: p.name,
)
def test_libyaml_and_the_python_parser_give_the_same_values_and_lines(path: Path) -> None:
    """gxm parses with libyaml when PyYAML has it (fast), and with the pure-Python parser when a
    file is wrong (its messages): both must read a file the same, lines included."""
    import yaml

    from harness import yamlsrc

    text = path.read_text(encoding="utf-8")
    assert yamlsrc._FAST_LOADER is yaml.CSafeLoader  # the wheels have libyaml: the fast path runs
    try:
        fast = _lines_of(yamlsrc._parse_with(yaml.CSafeLoader, text, str(path)))
    except MatrixError as error:
        fast = str(error)
    try:
        slow = _lines_of(yamlsrc._parse_with(yaml.SafeLoader, text, str(path)))
    except MatrixError as error:
        slow = str(error)
    if isinstance(slow, str):  # a bad sample: what gxm says comes from the Python parser
        with pytest.raises(MatrixError) as said:
            yamlsrc.parse_yaml(text, str(path))
        assert str(said.value) == slow
    else:
        assert fast == slow
