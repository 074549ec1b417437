"""`gxm bisect` and `gxm cell --until-fail` on real Go releases, on both backends.

The changed outcome: cgo's pointer-check panic is worded `cgo argument has Go pointer to unpinned
Go pointer` up to Go 1.25 and `argument of cgo function has Go pointer to unpinned Go pointer` from
Go 1.26.0 (runtime/cgocall.go). `nested_gopointer` hits it in every run, so its crash signature
changes at exactly that release. The test checks the answer against an oracle that does not use
gxm: the runtime source shipped in each toolchain.

The range is kept to three releases (1.25.5 → 1.26.0 → 1.26.1: one probe between the ends), so a
fresh CI machine downloads three toolchains (~70 MB each) that every test here shares.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from gxm_process import gxm

from harness import flake, goenv, toolchains
from harness.bisect import Policy, probe_confidence

pytestmark = pytest.mark.integration

GOOD, PROBE, BAD = "1.25.5", "1.26.0", "1.26.1"
NEW_TEXT = "argument of cgo function has Go pointer to unpinned Go pointer"
OLD_TEXT = "cgo argument has Go pointer to unpinned Go pointer"


def write_matrix(tmp_path: Path, fixtures: str, go: str = "1.26") -> Path:
    path = tmp_path / "matrix.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            schema: 1
            backend: local
            go: ["{go}"]
            goexperiment: [""]
            fixtures: [{fixtures}]
            defaults:
              repeats: 1
              duration: 100ms
              timeout: 60s
            """
        )
    )
    return path


def only_run_dir(out: Path) -> Path:
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def bisect_doc(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "bisect.json").read_text())


def runtime_has_new_wording(version: str) -> bool:
    """The oracle: does this release's runtime source carry the Go 1.26 wording?"""
    toolchain = toolchains.provision(version, goenv.cache_dir())
    source = (toolchain.goroot / "src" / "runtime" / "cgocall.go").read_text()
    return "argument of cgo function has Go pointer to unpinned Go" in source


def check_named_first_bad(tmp_path: Path, backend: str) -> None:
    matrix = write_matrix(tmp_path, "nested_gopointer")
    out = tmp_path / "out"
    args = ["bisect", "nested_gopointer", "--good", GOOD, "--bad", BAD, "--seed", "7"]
    result = gxm(
        *args, "--matrix", str(matrix), "--backend", backend, "--out", str(out), cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"first bad release: go{PROBE} · last good: go{GOOD}" in result.stdout
    oracle = [v for v in (GOOD, PROBE, BAD) if runtime_has_new_wording(v)]
    assert oracle[0] == PROBE  # gxm's answer is the release whose runtime changed the text

    run_dir = only_run_dir(out)
    doc = bisect_doc(run_dir)
    assert doc["schema"] == "gxm.bisect/1" and doc["status"] == "complete"
    assert doc["releases"] == [GOOD, PROBE, BAD]
    assert doc["criterion"]["signature"] == f"panic: runtime error: {NEW_TEXT}"
    probes = [(p["version"], p["role"], p["verdict"]) for p in doc["probes"]]
    assert probes == [(BAD, "bad", "bad"), (GOOD, "good", "good"), (PROBE, "probe", "bad")]
    good = doc["probes"][1]
    assert good["runs"] == doc["clean_runs_for_good"] and good["outcomes"] == {
        "crash": good["runs"]
    }
    assert f"--good {GOOD} --bad {PROBE} --seed 7" in doc["repeat_command"]

    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "complete" and run["backend"] == backend
    assert run["cells"] == [f"go{v}-default" for v in (GOOD, PROBE, BAD)]
    old = json.loads((run_dir / "cells" / f"go{GOOD}-default.json").read_text())
    assert {r["signature"] for r in old["fixtures"]["nested_gopointer"]["runs"]} == {
        f"panic: runtime error: {OLD_TEXT}"
    }
    report = gxm("report", str(run_dir), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert "Bisect" in report.stdout and f"first bad release: go{PROBE}" in report.stdout
    as_json = json.loads(gxm("report", str(run_dir), "--format", "json", cwd=tmp_path).stdout)
    assert as_json["bisect"]["first_bad"] == PROBE
    assert (run_dir / "report.md").is_file()


def test_bisect_names_the_release_that_changed_the_cgo_panic_on_the_local_backend(
    tmp_path: Path,
) -> None:
    check_named_first_bad(tmp_path, "local")


def test_bisect_names_the_release_that_changed_the_cgo_panic_on_the_docker_backend(
    tmp_path: Path,
) -> None:
    check_named_first_bad(tmp_path, "docker")


def test_bisect_of_a_1_in_10_crash_takes_its_run_counts_from_the_flake_math(
    tmp_path: Path,
) -> None:
    matrix = write_matrix(tmp_path, "flaky_gopointer")
    out = tmp_path / "out"
    args = ["bisect", "flaky_gopointer", "--good", GOOD, "--bad", BAD, "--seed", "3"]
    result = gxm(
        *args, "--matrix", str(matrix), "--backend", "local", "--out", str(out), cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    doc = bisect_doc(only_run_dir(out))
    assert (doc["last_good"], doc["first_bad"]) == (GOOD, PROBE)
    bad = doc["probes"][0]
    assert bad["role"] == "bad" and bad["matching"] == Policy().target_failures
    assert bad["runs"] > 2 * bad["matching"]  # a flaky failure: most runs passed
    rate = doc["bad_rate"]
    confidence = probe_confidence(Policy(), 3)
    needed = flake.runs_to_reproduce(rate["k"], rate["n"], confidence)
    assert doc["clean_runs_for_good"] == needed and needed > 20
    good = doc["probes"][1]
    assert good["verdict"] == "good" and good["runs"] == needed
    assert "crash" in good["outcomes"]  # it crashed there too, in the old wording: still good
    assert doc["probes"][2]["verdict"] == "bad" and doc["probes"][2]["runs"] <= needed


def test_bisect_refuses_when_the_bad_release_never_fails(tmp_path: Path) -> None:
    matrix = write_matrix(tmp_path, "nested_gopointer_pinned")
    args = ["bisect", "nested_gopointer_pinned", "--good", GOOD, "--bad", PROBE, "--budget", "6"]
    result = gxm(
        *args,
        "--matrix",
        str(matrix),
        "--backend",
        "local",
        "--out",
        str(tmp_path / "o"),
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"gxm: the bad release go{PROBE} did not show any failure in 6 runs")
    assert "Traceback" not in result.stderr
    assert bisect_doc(only_run_dir(tmp_path / "o"))["status"] == "refused"


def test_until_fail_stops_at_the_first_failure_and_prints_it_with_the_repro_line(
    tmp_path: Path,
) -> None:
    matrix = write_matrix(tmp_path, "flaky_gopointer", go="1.26.6")
    args = ["cell", "go1.26.6-default", "--fixtures", "flaky_gopointer", "--until-fail"]
    result = gxm(
        *args,
        "--max-runs",
        "100",
        "--seed",
        "5",
        "--matrix",
        str(matrix),
        "--backend",
        "local",
        "--out",
        str(tmp_path / "o"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    cell = json.loads(
        (only_run_dir(tmp_path / "o") / "cells" / "go1.26.6-default.json").read_text()
    )
    outcomes = [r["outcome"] for r in cell["fixtures"]["flaky_gopointer"]["runs"]]
    assert outcomes[-1] == "crash" and set(outcomes[:-1]) == {"pass"}, outcomes
    assert f"failed at run {len(outcomes)} of at most 100: crash" in result.stderr
    assert NEW_TEXT in result.stderr
    assert re.search(r"goroutine 1 (gp=\S+ m=\S+ (mp=\S+ )?)?\[running\]", result.stderr)
    assert "--until-fail --max-runs 100" in result.stderr and "--seed 5" in result.stderr


def test_until_fail_on_a_fixture_that_never_fails_stops_at_the_budget_with_the_rate_bound(
    tmp_path: Path,
) -> None:
    matrix = write_matrix(tmp_path, "nested_gopointer_pinned", go="1.26.6")
    args = ["cell", "go1.26.6-default", "--fixtures", "nested_gopointer_pinned", "--until-fail"]
    result = gxm(
        *args,
        "--max-runs",
        "15",
        "--matrix",
        str(matrix),
        "--backend",
        "local",
        "--out",
        str(tmp_path / "o"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    cell = json.loads(
        (only_run_dir(tmp_path / "o") / "cells" / "go1.26.6-default.json").read_text()
    )
    assert [r["outcome"] for r in cell["fixtures"]["nested_gopointer_pinned"]["runs"]] == [
        "pass"
    ] * 15
    assert (
        "stopped at the budget (--max-runs 15): no failure in 15 runs: the failure rate is below "
        "18% (95% confidence)"
    ) in result.stderr
