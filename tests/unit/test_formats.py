"""Tests for harness.formats: benchstat text checked by a parser written to the Go benchmark data
format rules (golang.org/design/14313-benchmark-format), and JUnit XML checked by parsing it."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from benchfmt import parse_benchfmt

from harness.report.formats import benchmark_name, benchstat, junit, unit_name, xml_text
from harness.stats import summarize_runs, verdict
from harness.store import load_run
from harness.store.records import RunRecord

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "runs" / "sample"


def test_the_parser_rejects_what_the_rules_reject() -> None:
    with pytest.raises(AssertionError):
        parse_benchfmt("Benchmarkfoo 1 2 ns/op")  # lower case after Benchmark
    with pytest.raises(AssertionError):
        parse_benchfmt("BenchmarkFoo 1 2")  # odd number of fields
    with pytest.raises(ValueError):
        parse_benchfmt("BenchmarkFoo x 2 ns/op")
    assert parse_benchfmt("GoVersion: 1").ignored == ["GoVersion: 1"]  # upper case key
    assert parse_benchfmt("goversion:go1").ignored == ["goversion:go1"]  # no space after colon


# --- benchstat output ---------------------------------------------------------------------------


def test_benchstat_follows_the_format_rules() -> None:
    parsed = parse_benchfmt(benchstat(load_run(SAMPLE)))
    assert all(line == "" or line.startswith("#") for line in parsed.ignored), parsed.ignored
    # sample: gc_small_objects passed 3+3+3+2 times in the four cells that built
    assert len(parsed.results) == 11
    names = {r["name"] for r in parsed.results}
    assert names == {"BenchmarkGcSmallObjects"}
    by_cell = {}
    for result in parsed.results:
        cfg = result["config"]
        assert cfg["fixture"] == "gc_small_objects"
        by_cell.setdefault((cfg["goversion"], cfg["goexperiment"]), []).append(result)
    assert {k: len(v) for k, v in by_cell.items()} == {
        ("go1.22.10", "default"): 3,
        ("go1.22.10", "arenas"): 3,
        ("go1.26.6", "default"): 3,
        ("go1.26.6", "arenas"): 2,
    }
    first = by_cell[("go1.22.10", "default")][0]
    assert first["values"]["gc-pause-p99-ns"] == 193115
    assert parsed.units["gc-pause-p99-ns"] == {"better": "lower"}
    assert parsed.units["ops"] == {"better": "higher"}


def test_benchstat_leaves_out_warmups_and_failed_runs(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(SAMPLE, run_dir)
    path = run_dir / "cells" / "go1.22-default.json"
    doc = json.loads(path.read_text())
    entry = doc["fixtures"]["gc_small_objects"]
    warm = dict(entry["runs"][0], i=-1, warmup=True)
    entry["runs"].insert(0, warm)
    entry["summary"] = summarize_runs([RunRecord.from_json(r) for r in entry["runs"]], "bench")
    doc["cell"]["settings"] = {"env": {"GOGC": "50", "SECRET_KEY": "k3y"}}
    path.write_text(json.dumps(doc))
    text = benchstat(load_run(run_dir))
    parsed = parse_benchfmt(text)
    assert len(parsed.results) == 11
    gogc = [r["config"].get("gogc") for r in parsed.results]
    assert gogc.count("50") == 3 and gogc.count(None) == 8  # cleared for the other cells
    assert "k3y" not in text


@pytest.mark.parametrize(
    ("fixture", "name"),
    [
        ("gc_small_objects", "BenchmarkGcSmallObjects"),
        ("mysdk/worker-pool", "BenchmarkMysdk/WorkerPool"),
        ("2d_tree", "BenchmarkFixture2dTree"),
    ],
)
def test_benchmark_names(fixture: str, name: str) -> None:
    assert benchmark_name(fixture) == name
    assert unit_name("gc_pause_p99_ns") == "gc-pause-p99-ns"


# --- JUnit --------------------------------------------------------------------------------------


def _cases(root: ET.Element) -> dict[tuple[str, str], ET.Element]:
    return {
        (suite.get("name"), case.get("name")): case
        for suite in root.iter("testsuite")
        for case in suite.iter("testcase")
    }


def test_junit_is_valid_with_one_failure_per_unexpected_outcome() -> None:
    root = ET.fromstring(junit(load_run(SAMPLE)))
    assert root.tag == "testsuites"
    cases = _cases(root)
    assert len(cases) == 5 * 2  # every fixture x cell is a test case
    for suite in root.iter("testsuite"):
        members = list(suite.iter("testcase"))
        assert int(suite.get("tests")) == len(members)
        for kind in ("failure", "error", "skipped"):
            count = sum(c.find(kind) is not None for c in members)
            assert int(suite.get(kind + "s" if kind != "skipped" else "skipped")) == count
    failures = [c for c in cases.values() if c.find("failure") is not None]
    assert sorted((c.get("classname"), c.get("name")) for c in failures) == [
        ("gxm.go1_22-arenas", "cmem_finalizer"),
        ("gxm.go1_26-arenas", "gc_small_objects"),
    ]
    crash = cases[("go1.22-arenas", "cmem_finalizer")].find("failure")
    assert crash.get("type") == "crash"
    assert crash.get("message") == "crash 1/3 SIGSEGV, expected pass"
    assert "unexpected signal during runtime execution" in crash.text
    assert "--- tail of logs/go1.22-arenas/cmem_finalizer.1.stderr ---" in crash.text
    assert cases[("go1.22-greenteagc", "cmem_finalizer")].find("skipped") is not None
    assert int(root.get("failures")) == 2 and int(root.get("tests")) == 10


def test_junit_survives_control_characters_and_reports_infra_as_error(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(SAMPLE, run_dir)
    log = run_dir / "logs" / "go1.22-arenas" / "cmem_finalizer.1.stderr"
    log.write_text("\x1b[31mfatal error: boom\x00\x07\n")
    path = run_dir / "cells" / "go1.26-default.json"
    doc = json.loads(path.read_text())
    entry = doc["fixtures"]["cmem_finalizer"]
    entry["runs"][2]["outcome"] = "infra-error"
    entry["verdict"] = verdict([r["outcome"] for r in entry["runs"]], entry["expected"])
    path.write_text(json.dumps(doc))
    root = ET.fromstring(junit(load_run(run_dir)))
    cases = _cases(root)
    assert "fatal error: boom" in cases[("go1.22-arenas", "cmem_finalizer")].find("failure").text
    error = cases[("go1.26-default", "cmem_finalizer")].find("error")
    assert error is not None and error.get("type") == "infra-error"
    assert int(root.get("errors")) == 1 and int(root.get("failures")) == 2
    assert xml_text("a\x00b\x1bc\td") == "abc\td"
