"""Reports from a real run (real Go 1.22 toolchain, local backend): every format is produced and
checked, warm-ups are run but not counted, load averages are recorded, `gxm compare` / `gxm trend`
read the results, and `gxm publish` pushes the pages into a local bare repository."""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from benchfmt import parse_benchfmt
from gxm_process import gxm

pytestmark = pytest.mark.integration

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small real run: go1.22 default and arenas, the bench fixture, 4 runs + 1 warm-up."""
    root = tmp_path_factory.mktemp("reports")
    matrix = root / "matrix.yaml"
    matrix.write_text(
        textwrap.dedent(
            """
            schema: 1
            backend: local
            go: ["1.22"]
            goexperiment: ["", arenas]
            fixtures: [gc_small_objects]
            defaults:
              repeats: {stress: 1, bench: 4, claim: 1}
              bench_warmup: 1
              duration: 300ms
              timeout: 60s
              env: {GOGC: "100", DEPLOY_TOKEN: "tok-should-not-leak"}
            """
        )
    )
    result = gxm("run", "--matrix", str(matrix), "--out", str(root / "results"), cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = [p for p in (root / "results").iterdir() if (p / "run.json").is_file()]
    return run_dir


def test_run_leaves_every_report_file(real_run: Path) -> None:
    for name in ("report.txt", "report.md", "report.html", "bench.txt", "junit.xml"):
        assert (real_run / name).is_file(), name
    pngs = sorted(p.name for p in (real_run / "plots").glob("*.png"))
    # it passed in both cells: the overview shows it; no heatmap of its own
    assert pngs == ["overview-crash-rate.png", "pauses-gc_small_objects.png"]
    md = (real_run / "report.md").read_text()
    assert "![GC pauses of gc_small_objects per cell, baseline beside]" in md
    assert "(plots/pauses-gc_small_objects.png)" in md
    assert "DEPLOY_TOKEN=***" in md
    for name in ("report.txt", "report.md", "report.html", "bench.txt", "junit.xml"):
        assert "tok-should-not-leak" not in (real_run / name).read_text(), name


def test_warmups_are_recorded_but_not_counted(real_run: Path) -> None:
    doc = json.loads((real_run / "cells" / "go1.22-default.json").read_text())
    entry = doc["fixtures"]["gc_small_objects"]
    warmups = [r for r in entry["runs"] if r.get("warmup")]
    assert [r["i"] for r in warmups] == [-1]
    assert entry["summary"]["n"] == 4 and entry["summary"]["warmup"] == {"pass": 1}
    assert entry["summary"]["metrics"]["gc_pause_p99_ns"]["n"] == 4
    assert all(len(r["load_avg"]) == 3 for r in entry["runs"])
    assert (real_run / "logs" / "go1.22-default" / "gc_small_objects.-1.stderr").exists()


def test_runs_carry_their_pause_histogram_and_the_report_pools_them(real_run: Path) -> None:
    doc = json.loads((real_run / "cells" / "go1.22-default.json").read_text())
    runs = doc["fixtures"]["gc_small_objects"]["runs"]
    for run in runs:
        histogram = run["gc_pause_histogram"]
        assert sum(histogram["counts"]) == run["metrics"]["gc_pauses"] > 0
    measured = sum(r["metrics"]["gc_pauses"] for r in runs if not r.get("warmup"))
    rows = [
        line.split()
        for line in (real_run / "report.txt").read_text().splitlines()
        if line.startswith("gc_small_objects  1.22  default ")
    ]
    assert any(row[3:5] == ["4", str(measured)] for row in rows)  # runs, pauses of the pool


def test_benchstat_and_junit_from_a_real_run(real_run: Path) -> None:
    parsed = parse_benchfmt((real_run / "bench.txt").read_text())
    assert len(parsed.results) == 8  # 4 measured runs x 2 cells, warm-ups left out
    configs = {(r["config"]["goversion"], r["config"]["goexperiment"]) for r in parsed.results}
    assert {exp for _, exp in configs} == {"default", "arenas"}
    assert all(v.startswith("go1.22.") for v, _ in configs)
    assert all("gc-pause-p99-ns" in r["values"] for r in parsed.results)
    root = ET.fromstring((real_run / "junit.xml").read_text())
    cases = list(root.iter("testcase"))
    assert len(cases) == 2 and int(root.get("failures")) == 0


@pytest.mark.parametrize("fmt", ["txt", "md", "mediawiki", "html", "benchstat", "junit", "json"])
def test_gxm_report_prints_every_format(real_run: Path, fmt: str) -> None:
    result = gxm("report", str(real_run), "--format", fmt, cwd=real_run)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() and "tok-should-not-leak" not in result.stdout


def test_compare_and_trend_read_real_results(real_run: Path) -> None:
    same = gxm("compare", str(real_run), str(real_run), cwd=real_run)
    assert same.returncode == 0, same.stderr
    assert "Outcome changes" in same.stdout and "None." in same.stdout
    trend = gxm("trend", "--metric", "gc_pause_p99_ns", "--out", str(real_run.parent), cwd=real_run)
    assert trend.returncode == 0, trend.stderr
    assert "go1.22-default" in trend.stdout
    assert (real_run.parent / "trends" / "trend-gc_small_objects-gc_pause_p99_ns.png").is_file()


def test_publish_a_real_run_to_a_bare_wiki(real_run: Path, tmp_path: Path) -> None:
    bare = tmp_path / "wiki.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(bare)], check=True)
    args = ("publish", str(real_run), "--wiki", str(bare), "--cache", str(tmp_path / "cache"))
    first = gxm(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    second = gxm(*args, cwd=tmp_path)
    assert second.returncode == 0 and "no change" in second.stderr
    view = tmp_path / "view"
    subprocess.run(["git", "clone", "--quiet", str(bare), str(view)], check=True)
    log = subprocess.run(
        ["git", "-C", str(view), "log", "--format=%s"], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert log[0] == f"gxm: publish run {real_run.name}" and log[1] == ""
    for page in view.glob("*.md"):
        for target in LINK.findall(page.read_text()):
            suffix = "" if target.endswith(".png") else ".md"
            assert (view / f"{target}{suffix}").is_file(), (page.name, target)
