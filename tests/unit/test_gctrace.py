"""GC figures from the runtime's gctrace lines (captured from tests/data/sdk_tests benchmarks run
with GODEBUG=gctrace=1 by Go 1.22.10 and 1.26.6)."""

from __future__ import annotations

from pathlib import Path

from harness.gctrace import file_metrics, gctrace_metrics, with_gctrace

DATA = Path(__file__).resolve().parents[1] / "data" / "gctrace"


def test_pause_is_the_two_stop_the_world_phases_per_cycle() -> None:
    lines = [
        "gc 1 @0.005s 36%: 15+0.16+0.008 ms clock, 30+0/0.26/0+0.016 ms cpu, 0->0->0 MB, "
        "4 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)",
        "some test output",
        "gc 2 @0.021s 40%: 11+0.25+0.005 ms clock, 22+0/0.21/0+0.011 ms cpu, 0->0->0 MB, "
        "8 MB goal, 0 MB stacks, 0 MB globals, 2 P",
        "gc 3 @0.037s 12%: 0.019+0.24+0.002 ms clock, 0.038+0/0.27/0.10+0.005 ms cpu, "
        "0->0->0 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)",
    ]
    metrics = gctrace_metrics(lines)
    assert metrics["gc_cycles"] == 3
    assert metrics["gc_pause_max_ns"] == 15_008_000
    assert metrics["gc_pause_p50_ns"] == 11_005_000
    assert metrics["gc_pause_p99_ns"] == 15_008_000
    assert metrics["gc_cpu_fraction"] == 0.12  # the last line: cumulative share
    assert metrics["heap_goal_bytes"] == 8 << 20


def test_real_traces_of_both_go_versions_parse() -> None:
    for name in ("go1.22-sdkbench.stderr", "go1.26-sdkbench.stderr"):
        lines = (DATA / name).read_text().splitlines()
        metrics = file_metrics(DATA / name)
        assert metrics["gc_cycles"] == sum(line.startswith("gc ") for line in lines) > 0
        assert 0 < metrics["gc_pause_p50_ns"] <= metrics["gc_pause_max_ns"]


def test_no_trace_is_no_figures() -> None:
    assert gctrace_metrics(["PASS", "ok"]) == {}
    assert file_metrics(DATA / "absent.stderr") == {}


def test_gctrace_is_merged_into_the_users_godebug() -> None:
    assert with_gctrace({})["GODEBUG"] == "gctrace=1"
    merged = with_gctrace({"GODEBUG": "madvdontneed=1,cgocheck=0", "X": "1"})
    assert merged == {"GODEBUG": "madvdontneed=1,cgocheck=0,gctrace=1", "X": "1"}
    assert with_gctrace({"GODEBUG": "gctrace=2"})["GODEBUG"] == "gctrace=2"  # theirs wins
