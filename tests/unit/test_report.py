"""Tests for harness.report: crash and pause tables in txt / md / mediawiki, json, exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.report import (
    change_text,
    exit_code_for,
    format_ns,
    render,
    signature_tag,
)
from harness.stats import summarize_runs, verdict
from harness.store import RunStore, load_run

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "runs" / "sample"
SAMPLE_CELLS = [
    "go1.22-default",
    "go1.22-arenas",
    "go1.22-greenteagc",
    "go1.26-default",
    "go1.26-arenas",
]


def _fixture(
    kind: str,
    outcomes: list[str],
    p99_ns: int = 200_000,
    signature: str | None = None,
    expected: tuple[str, ...] = ("pass",),
) -> dict:
    runs = [
        {
            "i": i,
            "outcome": o,
            "exit_code": 0 if o == "pass" else 2,
            "signal": None,
            "seconds": 2.0,
            "signature": signature if o == "crash" else None,
            "metrics": {"gc_pause_p99_ns": p99_ns + i, "gc_cpu_fraction": 0.05}
            if o == "pass"
            else {},
            "result_status": "ok",
            "log": f"logs/x/{i}.stderr",
        }
        for i, o in enumerate(outcomes)
    ]
    return {
        "kind": kind,
        "pattern": "p",
        "expected": list(expected),
        "runs": runs,
        "summary": summarize_runs(runs, kind),
        "verdict": verdict(outcomes, expected),
    }


def _make_run(
    root: Path,
    cells: dict[str, dict],
    listed: list[str] | None = None,
    build: dict[str, str] | None = None,
) -> Path:
    """A run directory with one cell document per entry of `cells` (id → fixtures)."""
    store = RunStore.create(root, "20261127T120000Z-0001")
    for cid, fixtures in cells.items():
        go, exp = cid.removeprefix("go").split("-", 1)
        store.write_cell(
            {
                "cell": {
                    "id": cid,
                    "go": go,
                    "go_resolved": f"{go}.4",
                    "goexperiment": "" if exp == "default" else exp,
                    "backend": "local",
                },
                "build": {"status": (build or {}).get(cid, "ok"), "seconds": 1.0},
                "fixtures": fixtures,
            }
        )
    store.write_run(
        {
            "run_id": store.run_id,
            "status": "complete",
            "backend": "local",
            "started": "2026-11-27T12:00:00Z",
            "matrix": {"profile": "nightly"},
            "cells": list(cells) if listed is None else listed,
        }
    )
    return store.run_dir


def _pipe_tables(markdown: str) -> list[list[list[str]]]:
    """Every pipe table of a Markdown text as rows of cells (escaped `\\|` kept inside cells)."""
    tables: list[list[list[str]]] = []
    previous_was_row = False
    for line in markdown.splitlines():
        is_row = line.startswith("|") and line.endswith("|")
        if is_row:
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line[1:-1])]
            if not previous_was_row:
                tables.append([])
            tables[-1].append(cells)
        previous_was_row = is_row
    return tables


# --- sample run ---------------------------------------------------------------------------------


def test_md_crash_table_is_a_pipe_table_with_a_column_per_cell() -> None:
    md = render(SAMPLE, "md")
    assert "## Crashes" in md and "## GC pauses" in md
    crash, pauses = _pipe_tables(md)
    header, separator, *rows = crash
    assert header == ["fixture"] + [c.replace("-", " ", 1) for c in SAMPLE_CELLS]
    assert all(re.fullmatch(r":?-+:?", s) for s in separator)
    assert all(len(row) == len(header) for row in crash)
    by_fixture = {row[0]: row[1:] for row in rows}
    assert by_fixture["cmem_finalizer"] == [
        "pass 3/3",
        "crash 1/3 SIGSEGV !",
        "unsupported",
        "pass 3/3",
        "pass 3/3",
    ]
    assert by_fixture["gc_small_objects"][4] == "timeout 1/3 !"
    assert all(len(row) == 11 for row in pauses)


def test_txt_report_reads_like_a_dashboard() -> None:
    txt = render(SAMPLE, "txt")
    assert "20261127T104233Z-ab12" in txt
    assert "backend local" in txt and "profile smoke" in txt and "started 2026-11-27" in txt
    assert "runs: pass 22, crash 1, timeout 1" in txt and "unexpected: 2" in txt
    assert "crash 1/3 SIGSEGV !" in txt
    assert "unsupported" in txt and "! = unexpected" in txt
    assert "logs/go1.22-arenas/cmem_finalizer.1.stderr" in txt


def test_pause_table_units_and_change_against_baseline() -> None:
    _, pauses = _pipe_tables(render(SAMPLE, "md"))
    rows = {(r[1], r[2]): r for r in pauses[2:]}
    assert set(rows) == {
        ("1.22", "default"),
        ("1.22", "arenas"),
        ("1.26", "default"),
        ("1.26", "arenas"),
    }  # the unsupported cell did not build: no row
    base, arenas = rows[("1.22", "default")], rows[("1.22", "arenas")]
    assert base[4] == "213µs" and base[5] == "746µs" and base[6] == "6.2%"
    assert base[8] == "52.7 MiB" and base[9] == "3" and base[10] == "base"
    assert arenas[10] == "+8%"
    assert rows[("1.26", "arenas")][9:] == ["2", "?"]  # one run timed out: n < 3


def test_json_round_trips_the_whole_run() -> None:
    document = json.loads(render(SAMPLE, "json"))
    data = load_run(SAMPLE)
    assert document == {"run": data.run, "cells": list(data.cells)}
    on_disk = json.loads((SAMPLE / "cells" / "go1.22-arenas.json").read_text())
    assert on_disk in document["cells"]


def test_mediawiki_uses_the_same_tables() -> None:
    wiki = render(SAMPLE, "mediawiki")
    assert "== Crashes ==" in wiki and '{| class="wikitable"' in wiki
    assert "crash 1/3 SIGSEGV !" in wiki


def test_unknown_format_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown report format"):
        render(SAMPLE, "html5")


def test_sample_exit_code_is_unexpected() -> None:
    assert exit_code_for(SAMPLE) == 1


# --- hand-made runs -----------------------------------------------------------------------------


def test_version_text_stays_text_in_md(tmp_path: Path) -> None:
    bench = _fixture("bench", ["pass"] * 3)
    run_dir = _make_run(tmp_path, {"go1.20-default": {"b": bench}, "go1.20-arenas": {"b": bench}})
    md = render(run_dir, "md")
    crash, pauses = _pipe_tables(md)
    assert crash[0] == ["fixture", "go1.20 default", "go1.20 arenas"]
    assert [row[1] for row in pauses[2:]] == ["1.20", "1.20"]
    assert [row[10] for row in pauses[2:]] == ["base", "+0%"]


def test_md_escapes_pipes_in_values(tmp_path: Path) -> None:
    crashy = _fixture("stress", ["crash", "pass"], signature="panic: bad|frame")
    run_dir = _make_run(tmp_path, {"go1.22-default": {"s": crashy}})
    md = render(run_dir, "md")
    assert "crash 1/2 bad\\|frame !" in md
    crash = _pipe_tables(md)[0]
    assert all(len(row) == 2 for row in crash)


def test_na_and_not_run_cells(tmp_path: Path) -> None:
    cells = {
        "go1.22-default": {"a": _fixture("stress", ["pass"]), "b": _fixture("stress", ["pass"])},
        "go1.22-arenas": {"a": _fixture("stress", ["pass"])},
    }
    run_dir = _make_run(tmp_path, cells, listed=[*cells, "go1.26-default"])
    crash = _pipe_tables(render(run_dir, "md"))[0]
    assert crash[3] == ["b", "pass 1/1", "n/a", "not run"]
    assert exit_code_for(run_dir) == 4  # a listed cell has no result: resume it


def test_build_error_cell_is_shown_per_fixture(tmp_path: Path) -> None:
    failed = {
        "kind": "stress",
        "expected": ["pass"],
        "runs": [],
        "summary": summarize_runs([], "stress"),
        "verdict": "unexpected",
    }
    run_dir = _make_run(
        tmp_path, {"go1.22-default": {"s": failed}}, build={"go1.22-default": "build-error"}
    )
    assert "build-error !" in render(run_dir, "txt")


@pytest.mark.parametrize(
    ("outcomes", "code"),
    [(["pass", "pass"], 0), (["pass", "crash"], 1), (["pass", "infra-error"], 4)],
)
def test_exit_code_for(tmp_path: Path, outcomes: list[str], code: int) -> None:
    run_dir = _make_run(tmp_path, {"go1.22-default": {"s": _fixture("stress", outcomes)}})
    assert exit_code_for(run_dir) == code


def test_exit_code_for_empty_run(tmp_path: Path) -> None:
    assert exit_code_for(_make_run(tmp_path, {})) == 3


# --- small pieces -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (850, "850ns"),
        (31_000, "31.0µs"),
        (212_400, "212µs"),
        (1_204_000, "1.20ms"),
        (3_500_000_000, "3.50s"),
        (None, "-"),
    ],
)
def test_format_ns(ns: float | None, text: str) -> None:
    assert format_ns(ns) == text


@pytest.mark.parametrize(
    ("signature", "tag"),
    [
        ("fatal error: unexpected signal during runtime execution [signal SIGSEGV: x]", "SIGSEGV"),
        ("SIGABRT: abort", "SIGABRT"),
        ("fatal error: cgo argument has Go pointer to unpinned Go pointer", "cgo argument has Go…"),
        ("panic: runtime error: index out of range", "index out of range"),
        (None, ""),
    ],
)
def test_signature_tag(signature: str | None, tag: str) -> None:
    assert signature_tag(signature) == tag


def test_change_text() -> None:
    base = {"median": 200.0, "n": 5}
    assert change_text({"median": 224.0, "n": 5}, base) == "+12%"
    assert change_text({"median": 180.0, "n": 3}, base) == "-10%"
    assert change_text({"median": 180.0, "n": 2}, base) == "?"
    assert change_text(None, base) == "-" and change_text({"median": 1, "n": 5}, None) == "-"
