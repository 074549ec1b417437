"""The run scheduler on real Go runs: with --jobs 2, stress runs overlap each other while every
bench run (warm-ups included) runs alone, as the start and end in each run record show, and gxm's
own groundwork (the claims' `go doc` answers) is done after the build and before them; and a
bench run is pinned to CPUs of its own on the local backend."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from gxm_process import gxm

from harness.model import ExecSpec
from harness.schedule import bench_cpuset

pytestmark = pytest.mark.integration

MATRIX = """\
schema: 1
backend: local
go: ["1.22"]
goexperiment: [""]
fixtures: [cmem_finalizer, cmem_survives_gc, handle_callbacks, gc_small_objects]
defaults:
  repeats: {stress: 3, bench: 2, claim: 1}
  bench_warmup: 1
  duration: 400ms
  timeout: 60s
"""

Interval = tuple[str, float, float]


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def run_intervals(run_dir: Path) -> tuple[list[Interval], list[Interval]]:
    """(bench runs, other runs and builds) of every cell document: (name, start, end)."""
    bench: list[Interval] = []
    other: list[Interval] = []
    for path in (run_dir / "cells").glob("*.json"):
        doc = json.loads(path.read_text())
        build = doc["build"]
        other.append(("build", _seconds(build["started"]), _seconds(build["ended"])))
        for name, fixture in doc["fixtures"].items():
            for entry in fixture["runs"]:
                interval = (
                    f"{name}#{entry['i']}",
                    _seconds(entry["started"]),
                    _seconds(entry["ended"]),
                )
                assert interval[1] <= interval[2]
                (bench if fixture["kind"] == "bench" else other).append(interval)
    return bench, other


def overlap(a: Interval, b: Interval) -> bool:
    return a[1] < b[2] and b[1] < a[2]


def test_jobs_2_overlaps_stress_runs_and_runs_every_bench_run_alone(tmp_path: Path) -> None:
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(MATRIX)
    out = tmp_path / "out"
    result = gxm("run", "--matrix", str(matrix), "--out", str(out), "--jobs", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    assert json.loads((run_dir / "run.json").read_text())["jobs"] == 2
    bench, other = run_intervals(run_dir)
    assert len(bench) == 3 and len(other) == 9 + 1  # warm-up + 2 measured; 3 x 3, the build
    for run in bench:
        clashes = [o[0] for o in [*bench, *other] if o is not run and overlap(run, o)]
        assert clashes == [], f"bench run {run[0]} overlapped {clashes}"
    stress = [run for run in other if run[0] != "build"]
    assert any(overlap(a, b) for a in stress for b in stress if a is not b), other
    assert not (run_dir / "journal.jsonl").exists()  # every record is in the cell document
    # what else the host did meanwhile is recorded for the runs that ran alone, and only those
    for path in (run_dir / "cells").glob("*.json"):
        for fixture in json.loads(path.read_text())["fixtures"].values():
            for entry in fixture["runs"]:
                others = entry.get("others_cpu_s")
                if fixture["kind"] == "bench":
                    assert isinstance(others, float) and others >= 0, entry
                else:
                    assert others is None, entry
    # the `go doc` answers of the claims were recorded while stress runs went on, not beside a
    # bench run and not in the reports at the end (`recorded` is to the second: the three bench
    # runs take over a second)
    go_api = json.loads((run_dir / "claims" / "go_api.json").read_text())
    assert _seconds(go_api["recorded"]) <= min(start for _, start, _ in bench)
    # ... nor beside the build, which keeps both CPUs busy: beside the first stress run
    (build_end,) = [end for name, _, end in other if name == "build"]
    assert _seconds(go_api["recorded"]) >= int(build_end)


def test_a_pinned_process_runs_only_on_its_cpus(tmp_path: Path) -> None:
    from harness.backends.local import LocalBackend

    with LocalBackend() as backend:
        cpus = bench_cpuset(1, backend.pinnable_cpus())
        spec = ExecSpec(
            argv=("/bin/grep", "Cpus_allowed_list", "/proc/self/status"),
            env=(("PATH", "/usr/bin:/bin"),),
            cwd=tmp_path,
            stdout_path=tmp_path / "out",
            stderr_path=tmp_path / "err",
            timeout_s=30,
            cpuset=cpus,
        )
        result = backend.execute(spec, None)  # type: ignore[arg-type]  # no toolchain involved
    assert result.exit_code == 0, (tmp_path / "err").read_text()
    assert (tmp_path / "out").read_text().split()[-1] == str(cpus[0])
