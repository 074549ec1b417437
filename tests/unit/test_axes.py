"""The GODEBUG, build-mode and cgo axes: ids, matrix axes, expectations, GODEBUG merging, support
reasons, CLI selection, CI matrix and reports of runs with and without them."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from harness import axes
from harness.errors import MatrixError, NothingSelectedError
from harness.fixtures import load_fixtures
from harness.matrix import load_matrix
from harness.model import Cell, Fixture, Outcome, Toolchain, make_axes
from harness.report.document import render
from harness.report.tables import AXES_BASELINE_NOTE, baseline_id, has_axis_cells
from harness.selection import Selection, github_matrix, select_cells, selected_plans
from harness.store import load_run
from harness.store.records import CELL_AXIS_KEYS, CellInfo, CellResult

REPO = Path(__file__).resolve().parents[2]
SAMPLE_RUN = REPO / "tests" / "data" / "runs" / "sample"


def write(tmp_path: Path, body: str, name: str = "matrix.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


# --- ids ------------------------------------------------------------------------------------------


def test_cells_without_extra_axes_keep_their_ids() -> None:
    assert Cell("1.22", "arenas").id == "go1.22-arenas"
    assert Cell("1.22", "arenas", make_axes()).id == "go1.22-arenas"
    assert Cell("1.26", "arenas,cgocheck2").nox_id == "go1_26-arenas+cgocheck2"


def test_extra_axes_add_a_readable_safe_suffix_in_a_fixed_order() -> None:
    cell = Cell("1.26", "", make_axes("clobberfree=1,gccheckmark=1", "race", cgo=False))
    assert cell.id == "go1.26-default-clobberfree_1+gccheckmark_1-race-nocgo"
    assert cell.nox_id == "go1_26-default-clobberfree_1+gccheckmark_1-race-nocgo"
    assert Cell("1.22", "arenas", make_axes(buildmode="asan")).id == "go1.22-arenas-asan"
    for text in (cell.id, cell.nox_id):
        assert all(ch.isalnum() or ch in "._-+" for ch in text), text


def test_a_godebug_cell_shares_its_build_and_has_its_baseline_without_the_axes() -> None:
    cell = Cell("1.26", "arenas", make_axes("clobberfree=1", "race"))
    assert cell.build_cell == Cell("1.26", "arenas", make_axes(buildmode="race"))
    assert cell.baseline == Cell("1.26", "arenas")
    assert Cell("1.26", "arenas").baseline == Cell("1.26")
    assert cell.godebug == "clobberfree=1" and cell.buildmode == "race" and cell.cgo_enabled


# --- matrix ---------------------------------------------------------------------------------------


def test_matrix_axes_expand_with_include_exclude_and_profiles(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        schema: 1
        go: ["1.26"]
        godebug: ["", "clobberfree=1"]
        buildmode: ["", race]
        cgo: [on, off]
        exclude: [{buildmode: race, cgo: off}]
        include: [{go: "1.26", buildmode: asan}]
        profiles:
          sanitizers:
            go: ["1.22"]
            godebug: [""]
            buildmode: [asan, msan]
            cgo: [on]
            include: []
            exclude: []
        """,
    )
    ids = [plan.cell.id for plan in load_matrix(path, None).cells]
    assert ids == [
        "go1.26-default",
        "go1.26-default-nocgo",
        "go1.26-default-race",
        "go1.26-default-clobberfree_1",
        "go1.26-default-clobberfree_1-nocgo",
        "go1.26-default-clobberfree_1-race",
        "go1.26-default-asan",
    ]
    profile = [plan.cell.id for plan in load_matrix(path, "sanitizers").cells]
    assert profile == ["go1.22-default-asan", "go1.22-default-msan"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('godebug: ["clobberfree"]', 'godebug is "" (default) or settings like'),
        ("buildmode: [tsan]", "race, asan, msan; got the text 'tsan' (did you mean 'msan'?)"),
        ("cgo: [maybe]", "cgo is on or off, got the text 'maybe'"),
        ("godebug: []", "the godebug axis is empty"),
    ],
)
def test_bad_axis_values_name_file_and_line(tmp_path: Path, line: str, expected: str) -> None:
    path = write(tmp_path, f'schema: 1\ngo: ["1.26"]\n{line}\n')
    with pytest.raises(MatrixError) as info:
        load_matrix(path, None)
    assert str(info.value).startswith(f"{path}:3: ")
    assert expected in str(info.value)


def test_shipped_nightly_keeps_every_old_cell_and_adds_axis_columns_on_the_newest_two() -> None:
    cells = [plan.cell for plan in load_matrix(REPO / "matrix.yaml", "nightly").cells]
    old = [c for c in cells if not c.axes]
    assert len(old) == 35 and all(c.id.count("-") == 1 for c in old)
    extra = [c for c in cells if c.axes]
    assert {c.go for c in extra} == {"1.26", "1.27"}
    assert {c.goexperiment for c in extra} == {""}
    assert {c.id.split("-", 2)[2] for c in extra} >= {"race", "asan", "msan", "clobberfree_1"}


# --- selection and CI ---------------------------------------------------------------------------


def test_axis_filters_and_globs_select_cells(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        schema: 1
        go: ["1.26"]
        godebug: ["", "clobberfree=1,efence=1"]
        buildmode: ["", race]
        """,
    )
    matrix = load_matrix(path, None)

    def ids(**filters: tuple[str, ...]) -> list[str]:
        return [p.cell.id for p in selected_plans(Selection(**filters), matrix)]

    assert ids(buildmode=("race",)) == [
        "go1.26-default-race",
        "go1.26-default-clobberfree_1+efence_1-race",
    ]
    assert ids(godebug=("clobberfree=1+efence=1",), buildmode=("default",)) == [
        "go1.26-default-clobberfree_1+efence_1"
    ]
    with pytest.raises(NothingSelectedError, match="matched no cell"):
        ids(cgo=("off",))
    globbed = select_cells(list(matrix.cells), ["cell(go1_26-*-race)"])
    assert [p.cell.id for p in globbed] == ids(buildmode=("race",))


def test_github_matrix_carries_the_axis_keys() -> None:
    entry = github_matrix([Cell("1.26", "", make_axes("clobberfree=1", "asan", False))])["include"][
        0
    ]
    assert entry["cell"] == "go1.26-default-clobberfree_1-asan-nocgo"
    assert (entry["godebug"], entry["buildmode"], entry["cgo"]) == ("clobberfree=1", "asan", "off")
    assert entry["nox_session"] == "cell(go1_26-default-clobberfree_1-asan-nocgo)"


# --- expectations -------------------------------------------------------------------------------


def test_expectation_keys_name_axes_and_the_most_specific_wins() -> None:
    fixture = Fixture(
        "f", "stress", "p", REPO, "./cmd/f",
        expected=(
            ("*", (Outcome.PASS,)),
            ("arenas", (Outcome.CORRUPT,)),
            ("clobberfree=1", (Outcome.CORRUPT,)),
            ("asan", (Outcome.CRASH,)),
            ("clobberfree=1+asan", (Outcome.TIMEOUT,)),
            ("nocgo", (Outcome.UNSUPPORTED,)),
        ),
    )  # fmt: skip
    assert fixture.expected_outcomes("") == (Outcome.PASS,)
    assert fixture.expected_outcomes("arenas") == (Outcome.CORRUPT,)
    assert fixture.expected_outcomes("", make_axes(buildmode="race")) == (Outcome.PASS,)
    assert fixture.expected_outcomes("", make_axes("clobberfree=1")) == (Outcome.CORRUPT,)
    assert fixture.expected_outcomes("", make_axes("gctrace=1,clobberfree=1", "race")) == (
        Outcome.CORRUPT,
    )
    assert fixture.expected_outcomes("", make_axes(buildmode="asan")) == (Outcome.CRASH,)
    assert fixture.expected_outcomes("", make_axes("clobberfree=1", "asan")) == (Outcome.TIMEOUT,)
    assert fixture.expected_outcomes("", make_axes(cgo=False)) == (Outcome.UNSUPPORTED,)


def test_fixtures_yaml_accepts_axis_keys_and_the_new_fixtures_expect_their_bug(
    tmp_path: Path,
) -> None:
    fixtures = load_fixtures(REPO / "go_fixtures" / "fixtures.yaml")
    kept = fixtures["c_keeps_gobuf"]
    assert kept.expected_outcomes("") == (Outcome.PASS, Outcome.CORRUPT)  # usually pass
    assert kept.expected_outcomes("", make_axes("clobberfree=1")) == (Outcome.CORRUPT,)
    assert fixtures["cglue_overflow"].expected_outcomes("", make_axes(buildmode="asan")) == (
        Outcome.CRASH,
    )
    assert fixtures["race_c_callback"].expected_outcomes("", make_axes(buildmode="race")) == (
        Outcome.CRASH,
    )
    (tmp_path / "cmd" / "x").mkdir(parents=True)
    bad = write(
        tmp_path,
        """
        schema: 1
        fixtures:
          x:
            kind: stress
            package: ./cmd/x
            pattern: p
            expected: {"race=": crash}
        """,
        "fixtures.yaml",
    )
    with pytest.raises(MatrixError, match="axis values"):
        load_fixtures(bad)


# --- GODEBUG and support ------------------------------------------------------------------------


def test_axis_godebug_merges_into_the_matrix_env_and_wins_a_conflict() -> None:
    merged = axes.run_godebug("gctrace=1,clobberfree=0", "clobberfree=1,efence=1")
    assert merged == axes.RunGodebug("gctrace=1,clobberfree=1,efence=1", ("clobberfree=0",))
    assert axes.run_godebug(None, "efence=1") == axes.RunGodebug("efence=1")
    assert axes.run_godebug("gctrace=1", "") == axes.RunGodebug("gctrace=1")
    assert axes.run_godebug(None, "") is None


def test_a_godebug_key_the_toolchain_does_not_declare_is_a_reason(tmp_path: Path) -> None:
    runtime = tmp_path / "go" / "src" / "runtime"
    runtime.mkdir(parents=True)
    (runtime / "runtime1.go").write_text(
        'var dbgvars = []*dbgVar{\n\t{name: "clobberfree", value: &debug.clobberfree},\n'
        '\t{name: "efence", value: &debug.efence},\n}\n'
    )
    godebugs = tmp_path / "go" / "src" / "internal" / "godebugs"
    godebugs.mkdir(parents=True)
    (godebugs / "table.go").write_text(
        'var All = []Info{\n\t{Name: "panicnil", Package: "runtime"},\n}\n'
    )
    toolchain = Toolchain("1.22.10", tmp_path / "go", "0" * 64)
    assert axes.known_godebug_keys(toolchain) == {"clobberfree", "efence", "panicnil"}
    assert axes.unsupported_godebug_reason(toolchain, "clobberfree=1,panicnil=1") is None
    assert (
        axes.unsupported_godebug_reason(toolchain, "clobberfree=1,decoratemappings=0")
        == "go1.22.10 does not know GODEBUG key decoratemappings"
    )


def test_build_mode_flags_env_and_reasons() -> None:
    msan = Cell("1.26", "", make_axes(buildmode="msan"))
    assert axes.build_flags(msan) == ("-msan",)
    assert axes.build_env(msan, None) == {"CC": "clang"}
    assert axes.build_env(msan, "gcc") == {}
    assert axes.build_env(Cell("1.26", "", make_axes(cgo=False)), None) == {"CGO_ENABLED": "0"}
    gcc_log = "# runtime/cgo\ngcc: error: unrecognized argument to '-fsanitize=' option: 'memory'\n"
    reason = axes.probe_failure_reason(msan, {"CC": "gcc"}, gcc_log)
    assert reason.startswith("msan needs clang: CC=gcc cannot build with -msan (gcc: error:")
    race = Cell("1.26", "", make_axes(buildmode="race", cgo=False))
    assert axes.probe_failure_reason(race, {}, "go: -race requires cgo; enable cgo by setting "
                                     "CGO_ENABLED=1\n") == (
        "race is not supported here: go: -race requires cgo; enable cgo by setting CGO_ENABLED=1"
    )  # fmt: skip
    log = "package x/cmd/y: build constraints exclude all Go files in /m/cmd/y\n"
    assert axes.cgo_only_reason(log) == f"needs cgo (CGO_ENABLED=0): {log.strip()}"
    assert axes.cgo_only_reason("main.go:3: undefined: x\n") is None


# --- results and reports ------------------------------------------------------------------------


def test_old_cell_documents_read_and_write_back_without_axis_keys() -> None:
    for path in sorted((SAMPLE_RUN / "cells").glob("*.json")):
        doc = json.loads(path.read_text())
        cell = CellResult.from_json(doc).to_json()["cell"]
        assert not set(cell) & set(CELL_AXIS_KEYS), path.name
        assert {k: cell[k] for k in doc["cell"]} == doc["cell"], path.name


def test_old_run_reports_show_nothing_of_the_axes() -> None:
    data = load_run(SAMPLE_RUN)
    assert not has_axis_cells(data)
    arenas = data.cell("go1.22-arenas")
    assert arenas is not None and baseline_id(arenas.cell) == "go1.22-default"
    for fmt in ("txt", "md", "mediawiki", "benchstat", "junit"):
        text = render(SAMPLE_RUN, fmt)
        assert AXES_BASELINE_NOTE[:40] not in text and "buildmode" not in text, fmt


def test_axis_cells_name_their_baseline_in_reports(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name in ("run.json",):
        (run_dir / name).write_text((SAMPLE_RUN / name).read_text())
    (run_dir / "cells").mkdir()
    base = json.loads((SAMPLE_RUN / "cells" / "go1.22-default.json").read_text())
    race = json.loads(json.dumps(base))
    race["cell"].update(
        id="go1.22-default-race", godebug="", buildmode="race", cgo="on", baseline="go1.22-default"
    )
    for doc in (base, race):
        (run_dir / "cells" / f"{doc['cell']['id']}.json").write_text(json.dumps(doc))
    data = load_run(run_dir)
    assert has_axis_cells(data)
    race_doc = data.cell("go1.22-default-race")
    assert race_doc is not None and baseline_id(race_doc.cell) == "go1.22-default"
    text = render(run_dir, "txt")
    assert "compared with the same Go and experiment with those at their default" in text
    bench = render(run_dir, "benchstat")
    assert "buildmode: race" in bench and "buildmode: default" in bench


def test_claims_about_experiments_leave_sanitizer_godebug_and_cgo_off_cells_out() -> None:
    from harness.claims.runs import CellFilter

    default = CellFilter(experiment="default")

    def cell(**keys: str) -> CellInfo:
        return CellInfo.from_json({"id": "go1.26-default", "go": "1.26", "goexperiment": ""} | keys)

    assert default.matches(cell())
    for axis in ({"buildmode": "race"}, {"godebug": "clobberfree=1"}, {"cgo": "off"}):
        assert not default.matches(cell(**axis)), axis
    assert default.matches(cell(godebug="", cgo="on"))
