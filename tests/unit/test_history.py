"""Tests for harness.history: compare (outcome changes first, then significant metric changes)
and trend (a step is flagged only when significant and persistent)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.report import history, plots
from harness.stats import summarize_runs, verdict
from harness.store import RunStore, load_run
from harness.store.records import CellResult, RunDocument, RunRecord


def _runs(values: list[float], outcomes: list[str] | None = None) -> list[dict]:
    outcomes = outcomes or ["pass"] * len(values)
    return [
        {
            "i": i,
            "outcome": o,
            "signature": "fatal error: unexpected signal [signal SIGSEGV]"
            if o == "crash"
            else None,
            "metrics": {"gc_pause_p99_ns": v, "wall_ns": 1e9} if o == "pass" else {},
            "log": f"logs/x/{i}.stderr",
        }
        for i, (v, o) in enumerate(zip(values, outcomes, strict=True))
    ]


def _entry(kind: str, runs: list[dict]) -> dict:
    outcomes = [r["outcome"] for r in runs]
    return {
        "kind": kind,
        "expected": ["pass"],
        "runs": runs,
        "summary": summarize_runs([RunRecord.from_json(r) for r in runs], kind),
        "verdict": verdict(outcomes, ["pass"]),
    }


def make_run(root: Path, run_id: str, cells: dict[str, dict[str, dict]]) -> Path:
    store = RunStore.create(root, run_id)
    for cid, fixtures in cells.items():
        go, exp = cid.removeprefix("go").split("-", 1)
        cell = {"id": cid, "go": go, "go_resolved": f"{go}.1", "goexperiment": ""}
        cell["goexperiment"] = "" if exp == "default" else exp
        store.write_cell(
            CellResult.from_json({"cell": cell, "build": {"status": "ok"}, "fixtures": fixtures})
        )
    store.write_run(
        RunDocument.from_json({"run_id": run_id, "status": "complete", "cells": list(cells)})
    )
    return store.run_dir


def _level(rng: random.Random, centre: float, n: int = 10) -> list[float]:
    return [rng.gauss(centre, centre * 0.08) for _ in range(n)]


# --- compare ------------------------------------------------------------------------------------


def test_compare_lists_outcome_changes_then_significant_metric_changes(tmp_path: Path) -> None:
    rng = random.Random(5)
    before = {
        "go1.22-default": {
            "b": _entry("bench", _runs(_level(rng, 200_000))),
            "s": _entry("stress", _runs([1.0] * 3)),
            "steady": _entry("bench", _runs(_level(rng, 100_000))),
        }
    }
    after = {
        "go1.22-default": {
            "b": _entry("bench", _runs(_level(rng, 250_000))),
            "s": _entry("stress", _runs([1.0] * 3, ["pass", "crash", "pass"])),
            "steady": _entry("bench", _runs(_level(rng, 100_000))),
        }
    }
    a = make_run(tmp_path, "20261101T000000Z-0001", before)
    b = make_run(tmp_path, "20261102T000000Z-0002", after)
    cmp = history.compare(a, b)
    assert [(c.cell, c.fixture, c.before, c.after) for c in cmp.outcome_changes] == [
        ("go1.22-default", "s", "pass 3/3", "crash 1/3 SIGSEGV !")
    ]
    assert cmp.outcome_changes[0].rate.text == "~ 1/3 vs 0/3 (p=1.000)"
    assert [(d.fixture, d.metric) for d in cmp.metric_changes] == [("b", "gc_pause_p99_ns")]
    assert cmp.metric_changes[0].change.delta_text.startswith("+2")
    assert cmp.exit_code == 1  # an outcome became unexpected
    text = history.render_comparison(cmp, "md")
    assert text.index("## Outcome changes") < text.index("## Significant metric changes")
    assert "| go1.22-default | s         | pass 3/3 | crash 1/3 SIGSEGV ! |" in text
    assert history.compare(b, a).exit_code == 0  # a fix is news, not a failure


def test_compare_ignores_counts_and_noise(tmp_path: Path) -> None:
    rng = random.Random(9)
    a = make_run(
        tmp_path, "r1", {"go1.22-default": {"b": _entry("bench", _runs(_level(rng, 1e5, 3)))}}
    )
    b = make_run(
        tmp_path, "r2", {"go1.22-default": {"b": _entry("bench", _runs(_level(rng, 1e5, 10)))}}
    )
    cmp = history.compare(a, b)
    assert cmp.outcome_changes == () and cmp.metric_changes == ()
    assert cmp.metrics_tested == 2


def test_compare_notes_cells_missing_on_one_side(tmp_path: Path) -> None:
    a = make_run(tmp_path, "r1", {"go1.22-default": {"s": _entry("stress", _runs([1.0]))}})
    b = make_run(tmp_path, "r2", {"go1.22-arenas": {"s": _entry("stress", _runs([1.0]))}})
    changes = {(c.cell, c.before, c.after) for c in history.compare(a, b).outcome_changes}
    assert changes == {
        ("go1.22-default", "pass 1/1", "not run"),
        ("go1.22-arenas", "not run", "pass 1/1"),
    }


# --- steps --------------------------------------------------------------------------------------


def _series(levels: list[float], seed: int = 1) -> list[list[float]]:
    rng = random.Random(seed)
    return [_level(rng, level) for level in levels]


def test_a_persistent_step_is_flagged_where_it_starts() -> None:
    steps, pending = history.find_steps(_series([100, 100, 100, 100, 125, 125, 125]))
    assert [s.index for s in steps] == [4] and pending is None
    assert steps[0].change.delta_text.startswith("+2")


def test_one_outlying_run_is_not_a_step() -> None:
    steps, pending = history.find_steps(_series([100, 100, 100, 125, 100, 100]))
    assert steps == [] and pending is None


def test_a_change_in_the_latest_run_is_pending_until_confirmed() -> None:
    steps, pending = history.find_steps(_series([100, 100, 100, 130]))
    assert steps == [] and pending is not None and pending.index == 3


def test_noise_alone_flags_nothing() -> None:
    flagged = 0
    for seed in range(10):
        steps, _ = history.find_steps(_series([100] * 8, seed=seed))
        flagged += len(steps)
    assert flagged <= 1


def test_runs_without_data_are_skipped() -> None:
    series = _series([100, 100, 100, 125, 125])
    series.insert(2, [])
    steps, _ = history.find_steps(series)
    assert [s.index for s in steps] == [4]


# --- trend --------------------------------------------------------------------------------------


def _history(tmp_path: Path, levels: list[float]) -> Path:
    rng = random.Random(3)
    for i, level in enumerate(levels):
        cells = {
            "go1.22-default": {"b": _entry("bench", _runs(_level(rng, level)))},
            "go1.22-arenas": {"b": _entry("bench", _runs(_level(rng, 100_000)))},
        }
        make_run(tmp_path, f"2026110{i + 1}T000000Z-000{i}", cells)
    return tmp_path


def test_trend_table_flags_the_step_and_draws_a_plot(tmp_path: Path) -> None:
    root = _history(tmp_path / "results", [100_000, 100_000, 100_000, 130_000, 130_000])
    runs = history.load_history(root)
    found = history.trends(runs, metric="gc_pause_p99_ns")
    assert [(t.fixture, t.metric) for t in found] == [("b", "gc_pause_p99_ns")]
    headers, rows = history.trend_rows(found[0])
    assert headers == ["run", "go1.22-default", "go1.22-arenas"]
    assert len(rows) == 5 and rows[0][0] == "20261101T000000Z-0000"
    assert "step +" in rows[3][1]
    assert not any("step" in row[2] for row in rows)
    drawn = plots.write_trend_plots(found, tmp_path / "trends")
    path = drawn[("b", "gc_pause_p99_ns")]
    assert path.name == "trend-b-gc_pause_p99_ns.png" and path.stat().st_size > 0
    text = history.render_trends(found, "md", {k: str(v) for k, v in drawn.items()})
    assert "## b: gc_pause_p99_ns" in text and f"]({path})" in text


def test_trend_selection_errors(tmp_path: Path) -> None:
    runs = history.load_history(_history(tmp_path / "results", [100_000, 100_000]))
    with pytest.raises(UsageError, match="no bench fixture 'nope'"):
        history.trends(runs, fixture="nope")
    with pytest.raises(UsageError, match="no run has metric"):
        history.trends(runs, metric="no_such_metric")
    # by default the pause and GC CPU metrics, of which these runs only have the p99
    assert [t.metric for t in history.trends(runs, fixture="b")] == ["gc_pause_p99_ns"]


def test_load_history_skips_broken_runs(tmp_path: Path) -> None:
    root = _history(tmp_path / "results", [100_000])
    broken = root / "20261109T000000Z-dead"
    broken.mkdir()
    (broken / "run.json").write_text("{not json")
    runs = history.load_history(root)
    assert [r.run_id for r in runs] == ["20261101T000000Z-0000"]
    assert load_run(root / "20261101T000000Z-0000").run_id == runs[0].run_id


def test_trend_plots_are_reused_when_their_inputs_are_unchanged(tmp_path: Path) -> None:
    runs = history.load_history(_history(tmp_path / "results", [100_000, 100_000]))
    found = history.trends(runs, metric="gc_pause_p99_ns")
    out = tmp_path / "trends"
    path = plots.write_trend_plots(found, out, reuse=True)[("b", "gc_pause_p99_ns")]
    path.write_bytes(b"kept")  # not drawn again: same inputs
    plots.write_trend_plots(found, out, reuse=True)
    assert path.read_bytes() == b"kept"
    more = history.load_history(_history(tmp_path / "more", [100_000, 100_000, 120_000]))
    plots.write_trend_plots(history.trends(more, metric="gc_pause_p99_ns"), out, reuse=True)
    assert path.read_bytes() != b"kept"  # new data: drawn again


def test_cli_compare_and_trend(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    root = _history(tmp_path / "results", [100_000, 100_000, 100_000, 130_000, 130_000])
    first, last = "20261101T000000Z-0000", "20261105T000000Z-0004"
    assert main(["compare", first, last, "--out", str(root), "--format", "md"]) == 0
    out = capsys.readouterr().out
    assert f"# gxm compare {first} → {last}" in out
    assert "| go1.22-default | b         | gc_pause_p99_ns |" in out
    code = main(["trend", "--metric", "gc_pause_p99_ns", "--out", str(root)])
    captured = capsys.readouterr()
    assert code == 0 and "step +" in captured.out
    assert (root / "trends" / "trend-b-gc_pause_p99_ns.png").is_file()
    assert main(["trend", "--out", str(tmp_path / "empty")]) == 2
    assert "no runs under" in capsys.readouterr().err
