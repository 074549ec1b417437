"""Test binaries: flags, test2json events folded into per-test results, and run outcomes.

The captures in tests/data/gotest are real: tests/data/sdk_tests built with `go test -c` by Go
1.22.10 and 1.26.6, run with `-test.v=test2json` in their package directory (stdout, stderr, exit
status kept), and the stdout converted by that toolchain's `go tool test2json -p pkg`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import benchfmt, gotest
from harness.gotest import classify_test_run, parse_events, per_test_outcomes, reproduce_flags
from harness.model import ExecResult, ExternalSpec, Outcome

DATA = Path(__file__).resolve().parents[1] / "data" / "gotest"
GO = ["go1.22", "go1.26"]


def capture(go: str, name: str) -> tuple[ExecResult, str, str]:
    exit_code = int((DATA / f"{go}-{name}.exit").read_text())
    stderr = (DATA / f"{go}-{name}.stderr").read_text()
    events = (DATA / f"{go}-{name}.json").read_text()
    return ExecResult(exit_code, None, False, False, 1.0), stderr, events


def outcome_of(go: str, name: str) -> tuple[Outcome, str | None, dict[str, str]]:
    result, stderr, events = capture(go, name)
    run = gotest.test_results(parse_events(events))
    classified = classify_test_run(result, stderr, run)
    return classified.outcome, classified.signature, per_test_outcomes(run, classified.outcome)


@pytest.mark.parametrize("go", GO)
def test_passing_suite_is_pass_with_every_test_listed(go: str) -> None:
    outcome, signature, tests = outcome_of(go, "pass")
    assert (outcome, signature) == (Outcome.PASS, None)
    assert tests == {
        "TestChecksumOfWikipedia": "pass",
        "TestGolden": "pass",
        "TestReverseUsesTheSecondModule": "pass",
    }


@pytest.mark.parametrize("go", GO)
def test_t_errorf_is_fail_naming_the_failed_test(go: str) -> None:
    outcome, signature, tests = outcome_of(go, "failing")
    assert outcome is Outcome.FAIL
    assert signature == "FAIL: TestReportsWrongVersion"
    assert tests == {"TestAddsUp": "pass", "TestReportsWrongVersion": "fail"}


@pytest.mark.parametrize("go", GO)
def test_cgocheck2_crash_names_the_running_test(go: str) -> None:
    outcome, signature, tests = outcome_of(go, "cgocheck2")
    assert outcome is Outcome.CRASH
    assert signature == (
        "TestStoreGoPointerInC: fatal error: unpinned Go pointer stored into non-Go memory"
    )
    assert tests == {"TestBeforeTheStore": "pass", "TestStoreGoPointerInC": "crash"}


@pytest.mark.parametrize("go", GO)
def test_freed_arena_read_crash_names_the_running_test(go: str) -> None:
    outcome, signature, tests = outcome_of(go, "arenas")
    assert outcome is Outcome.CRASH
    assert signature == (
        "TestReadsFreedArena: fatal error: fault (accessed data from freed user arena) [SIGSEGV]"
    )
    assert tests == {"TestReadsFreedArena": "crash"}


@pytest.mark.parametrize("go", GO)
def test_gos_own_test_timeout_is_timeout_naming_the_hung_test(go: str) -> None:
    outcome, signature, tests = outcome_of(go, "hang")
    assert outcome is Outcome.TIMEOUT
    assert signature == "TestWaitsInC: panic: test timed out after 2s"
    assert tests == {"TestQuick": "pass", "TestWaitsInC": "timeout"}


def test_gxm_timeout_after_sigquit_names_the_running_test() -> None:
    _, stderr, events = capture("go1.22", "hang")
    run = gotest.test_results(parse_events(events))
    killed = ExecResult(None, 9, True, False, 9.0)
    classified = classify_test_run(killed, "SIGQUIT: quit\nPC=0x0 m=0\n", run)
    assert (classified.outcome, classified.signature) == (
        Outcome.TIMEOUT,
        "TestWaitsInC: timed out",
    )


@pytest.mark.parametrize("go", GO)
def test_benchmark_output_gives_results_with_reportmetric_units(go: str) -> None:
    outcome, _, tests = outcome_of(go, "bench")
    assert outcome is Outcome.PASS
    assert tests == {"BenchmarkChecksum4K": "pass", "BenchmarkReverseChecksum": "pass"}
    run = gotest.test_results(parse_events(capture(go, "bench")[2]))
    results = benchfmt.parse_output(run.output)
    assert [r.name for r in results] == ["BenchmarkChecksum4K-2", "BenchmarkReverseChecksum-2"]
    units = [unit for _, unit in results[0].values]
    assert units == ["ns/op", "MB/s", "cgocalls/op", "B/op", "allocs/op"]
    metrics = benchfmt.results_metrics(results)
    assert metrics["BenchmarkReverseChecksum-2 bytes/call"] == 256.0
    assert metrics["BenchmarkChecksum4K-2 allocs/op"] == 0


def test_flags_spell_go_test_keys_for_the_binary() -> None:
    spec = ExternalSpec(
        command="test", run="^TestA", skip="Slow", short=True, count=2, cpu="1,2",
        shuffle="on", flags=("-test.failfast",),
    )  # fmt: skip
    assert gotest.test_flags(spec, 30) == (
        "-test.v=test2json", "-test.timeout=30s", "-test.run=^TestA", "-test.skip=Slow",
        "-test.short", "-test.count=2", "-test.cpu=1,2", "-test.shuffle=on", "-test.failfast",
    )  # fmt: skip
    bench = ExternalSpec(command="bench", bench="Checksum", benchtime="100x")
    assert gotest.test_flags(bench, 60) == (
        "-test.v=test2json", "-test.timeout=60s", "-test.run=^$", "-test.bench=Checksum",
        "-test.benchmem", "-test.benchtime=100x",
    )  # fmt: skip
    again = reproduce_flags(gotest.test_flags(spec, 30), "TestA/sub case")
    assert again == (
        "-test.v", "-test.run=^TestA$/^sub_case$", "-test.timeout=30s", "-test.skip=Slow",
        "-test.short", "-test.count=2", "-test.cpu=1,2", "-test.failfast",
    )  # fmt: skip


def test_oom_names_the_test_that_was_running() -> None:
    _, _, events = capture("go1.22", "hang")
    run = gotest.test_results(parse_events(events))
    killed = ExecResult(None, 9, False, True, 9.0, peak_rss_bytes=2 << 30)
    classified = classify_test_run(killed, "", run)
    assert classified.outcome is Outcome.OOM
    assert classified.signature == "TestWaitsInC: over the memory limit"
    assert per_test_outcomes(run, Outcome.OOM)["TestWaitsInC"] == "oom"
