"""`gxm bisect` and `gxm cell --until-fail` arguments, what they print, and bisect.json storage.

Every mistake is one line and exit 2 before anything is downloaded, built or run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from harness import store
from harness.bisect_args import bisect_cell
from harness.cli import main
from harness.errors import UsageError
from harness.matrix import load_matrix
from harness.model import Outcome
from harness.store.bisect_record import BisectRecord, ProbeRecord
from harness.store.records import RunRecord
from harness.until_fail import verdict_lines

REPO = Path(__file__).resolve().parents[2]
MATRIX = str(REPO / "matrix.yaml")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["no_such_fixture"], "gxm: unknown fixture 'no_such_fixture'; known: "),
        (
            ["nested_gopointer", "--metric", "gc_pause_p99_ns", "--outcome", "crash"],
            "gxm: --metric bisects a metric; leave out --outcome and --signature",
        ),
        (["nested_gopointer", "--outcome", "explode"], "gxm: --outcome 'explode': choose one of"),
        (
            ["gc_small_objects", "--metric", "gc_pause_p99_ns", "--threshold", "150"],
            "gxm: --threshold is a percentage between 0 and 100, got 150.0",
        ),
        (["nested_gopointer", "--budget", "0"], "gxm: --budget must be at least 1, got 0"),
    ],
)
def test_bisect_usage_errors_are_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: list[str], message: str
) -> None:
    argv = ["bisect", *extra, "--good", "1.25.5", "--bad", "1.26.1", "--matrix", MATRIX]
    code, out, err = run_cli(capsys, *argv, "--out", str(tmp_path / "out"))
    assert code == 2
    assert err.startswith(message) and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()  # nothing was started


def test_bisect_needs_good_and_bad(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "bisect", "nested_gopointer", "--good", "1.25.5")
    assert code == 2 and "the following arguments are required: --bad" in err


def test_bisect_and_cell_have_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command, words in (("bisect", "--good"), ("cell", "--until-fail")):
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0 and words in capsys.readouterr().out


def test_until_fail_needs_exactly_one_fixture(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = ["cell", "go1.22-default", "--matrix", MATRIX, "--until-fail"]
    code, _, err = run_cli(capsys, *argv, "--out", str(tmp_path / "out"))
    assert code == 2
    assert "--until-fail repeats one fixture; go1.22-default has" in err
    assert err.rstrip().endswith("add --fixtures NAME")
    assert not (tmp_path / "out").exists()


def _runs(*outcomes: str) -> tuple[RunRecord, ...]:
    return tuple(
        RunRecord(i, Outcome(o), signature="panic: boom" if o == "crash" else None)
        for i, o in enumerate(outcomes)
    )


def test_until_fail_names_the_failing_run_its_seed_and_the_runs_to_see_it_again() -> None:
    lines = verdict_lines(_runs("pass", "pass", "pass", "crash"), max_runs=200, seed=5)
    assert lines[0] == (
        "failed at run 4 of at most 200: crash (panic: boom); that run had GXM_SEED=5003 "
        "(the same --seed replays the same seeds)"
    )
    # 1 of 4: the lower Wilson bound is 4.6%, which 65 runs see with 95% confidence
    assert lines[1].startswith(
        "1 failure in 4 runs: to see it again with 95% confidence, run it 65 times"
    )


def test_until_fail_after_a_clean_budget_says_how_low_the_rate_is_shown_to_be() -> None:
    lines = verdict_lines(_runs(*["pass"] * 200), max_runs=200, seed=1)
    assert lines == [
        "stopped at the budget (--max-runs 200): no failure in 200 runs: the failure rate is "
        "below 1.5% (95% confidence)"
    ]


def test_until_fail_never_takes_an_infra_error_for_the_fixture_failing() -> None:
    entry = (RunRecord(0, Outcome.PASS), RunRecord(1, Outcome.INFRA_ERROR, detail="engine gone"))
    assert verdict_lines(entry, max_runs=10, seed=1) == [
        "stopped at run 2: infra-error (engine gone)"
    ]


def test_bisect_record_round_trips_through_the_run_store(tmp_path: Path) -> None:
    run_store = store.RunStore(tmp_path)
    assert run_store.read_bisect() is None
    probe = ProbeRecord("1.26.0", "go1.26.0-default", "probe", "bad", 1, 1, {"crash": 1})
    record = BisectRecord(
        status="complete",
        fixture="nested_gopointer",
        good="1.25.5",
        bad="1.26.1",
        releases=("1.25.5", "1.26.0", "1.26.1"),
        axes=(("godebug", "clobberfree=1"),),
        probes=(probe,),
        first_bad="1.26.0",
        untestable=("1.25.9",),
    )
    run_store.write_bisect(record)
    doc = json.loads((tmp_path / "bisect.json").read_text())
    assert doc["schema"] == "gxm.bisect/1" and doc["probes"][0]["outcomes"] == {"crash": 1}
    assert run_store.read_bisect() == record
    assert ("bisect.json", tmp_path / "bisect.json") in run_store.stored_documents()
    (tmp_path / "bisect.json").write_text('{"schema": "gxm.bisect/9"}')
    with pytest.raises(UsageError, match="expected schema 'gxm.bisect/1'"):
        run_store.read_bisect()


def _bisect_args(**given: object) -> argparse.Namespace:
    values: dict[str, object] = {"cell": None, "goexperiment": "", "bad": "1.26.1"}
    return argparse.Namespace(**(values | given))


def test_bisect_takes_experiment_axes_and_settings_from_a_matrix_cell() -> None:
    matrix = load_matrix(REPO / "matrix.yaml", "nightly")
    cell, settings = bisect_cell(_bisect_args(cell="go1_26-arenas"), matrix)
    plan = next(p for p in matrix.cells if p.cell.id == "go1.26-arenas")
    assert (cell, settings) == (plan.cell, plan.settings)
    cell, settings = bisect_cell(_bisect_args(goexperiment="arenas+cgocheck2"), matrix)
    assert cell.goexperiment == "arenas,cgocheck2" and settings == matrix.cells[0].settings
    with pytest.raises(UsageError, match="names 7 cells of the matrix; name one"):
        bisect_cell(_bisect_args(cell="go1.2*-arenas"), matrix)
