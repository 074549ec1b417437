"""A user's test binaries: how one is invoked, what Go's `test2json` says happened, the outcome.

A test binary (`go test -c`) runs with `-test.v=test2json`; its stdout is converted by the
toolchain's own `go tool test2json` (never a hand-written parser of `-v` text) into events:
`{"Action": "run" | "pass" | "fail" | "skip" | "output" | …, "Test": "TestX", "Output": …}`.
`test_results` folds the events into per-test results; `classify_test_run` turns the run into an
outcome: `pass`; `fail` (tests failed, the binary exited normally); `crash` with the test that was
running in the signature; `timeout` for Go's own `panic: test timed out after …` as for gxm's.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from harness import goenv
from harness.atomic import write_text_atomic
from harness.classify import classify, crash_signature
from harness.hostcmd import run_command
from harness.model import Classified, ExecResult, ExternalSpec, Fixture, Outcome, Toolchain
from harness.store.records import CellResult

TEST_RESULTS = ("pass", "fail", "skip")
CONVERT_TIMEOUT_S = 300.0
GO_TIMEOUT_MARGIN_S = 5.0  # gxm's own wall timeout sits this far behind go's -test.timeout
_GO_TIMEOUT = re.compile(r"^panic: test timed out after (?P<after>\S+)")
_RUNNING_TEST = re.compile(r"^\s+(?P<test>(?:Test|Example|Fuzz|Benchmark)\S*) \(")


def test_flags(spec: ExternalSpec, timeout_s: float) -> tuple[str, ...]:
    """The test binary's flags for one run: `go test` keys spelled as the binary reads them."""
    flags = ["-test.v=test2json", f"-test.timeout={timeout_s:g}s"]
    if spec.command == "bench":
        flags += ["-test.run=^$", f"-test.bench={spec.bench or '.'}", "-test.benchmem"]
        if spec.benchtime:
            flags.append(f"-test.benchtime={spec.benchtime}")
    else:
        flags += [f"-test.run={spec.run}"] if spec.run else []
        flags += [f"-test.skip={spec.skip}"] if spec.skip else []
    flags += ["-test.short"] if spec.short else []
    flags += [f"-test.count={spec.count}"] if spec.count is not None else []
    flags += [f"-test.cpu={spec.cpu}"] if spec.cpu else []
    flags += [f"-test.shuffle={spec.shuffle}"] if spec.shuffle else []
    return (*flags, *spec.flags)


def reproduce_flags(flags: Iterable[str], test: str | None) -> tuple[str, ...]:
    """The flags that rerun exactly one test (`-test.run '^TestX$'`), in plain `-v` output."""
    kept = [f for f in flags if not f.startswith(("-test.run=", "-test.v=", "-test.shuffle="))]
    run = [f"-test.run=^{_anchored(test)}$"] if test else []
    return ("-test.v", *run, *kept)


def _anchored(test: str) -> str:
    """`TestX/sub case` → `TestX$/^sub_case` as -test.run reads a subtest path."""
    parts = [re.escape(p).replace("\\ ", "_").replace(" ", "_") for p in test.split("/")]
    return "$/^".join(parts)


def convert(
    toolchain: Toolchain, cache: Path, stdout_path: Path, events_path: Path, package: str
) -> str:
    """Run the test binary's stdout through the toolchain's own `go tool test2json -p PACKAGE`
    (on the host: the converter reads a finished stream), keep the events beside the logs and
    return them. A converter that fails leaves an empty stream: no per-test results, the outcome
    still comes from the exit status and stderr."""
    env = goenv.go_env(toolchain, "", goenv.gocache_dir(cache, toolchain), {}, cache=cache)
    proc = run_command(
        [str(toolchain.go), "tool", "test2json", "-p", package],
        env=env,
        timeout_s=CONVERT_TIMEOUT_S,
        check=False,
        stdin_path=stdout_path,
    )
    events = proc.stdout if proc.returncode == 0 else ""
    write_text_atomic(events_path, events)
    return events


def parse_events(text: str) -> list[dict[str, object]]:
    """The JSON events of test2json's output; lines that are not JSON objects are skipped."""
    events: list[dict[str, object]] = []
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


@dataclass(frozen=True)
class TestRun:
    """What one run of a test binary did, test by test.

    `results` maps every test that started to `pass` / `fail` / `skip`, or `running` when it never
    finished (the binary died or hung inside it); `output` is the test output (stdout) again.
    """

    results: dict[str, str]
    output: str

    def with_status(self, status: str) -> list[str]:
        return [name for name, result in self.results.items() if result == status]

    @property
    def running(self) -> list[str]:
        return self.with_status("running")

    @property
    def failed(self) -> list[str]:
        return self.with_status("fail")


def test_results(events: Iterable[Mapping[str, object]]) -> TestRun:
    """Fold test2json events into per-test results (in the order tests started)."""
    results: dict[str, str] = {}
    output: list[str] = []
    for event in events:
        action, test = event.get("Action"), event.get("Test")
        if action == "output" and isinstance(event.get("Output"), str):
            output.append(str(event["Output"]))
        if not isinstance(test, str) or not test:
            if action in (
                "pass",
                "fail",
            ):  # the package's end: benchmarks get no event of their own
                for name, result in results.items():
                    if result == "running" and name.startswith("Benchmark"):
                        results[name] = str(action)
            continue
        if action == "run":
            results[test] = "running"
        elif action in TEST_RESULTS:
            results[test] = str(action)
    return TestRun(results, "".join(output))


def _culprit(run: TestRun, stderr: str) -> str | None:
    """The test a crash or hang happened in: the innermost test still running, else the one Go's
    timeout panic names, else the last test that failed (a panicking test reports FAIL first)."""
    if run.running:
        return run.running[-1]
    for line in stderr.splitlines():
        match = _RUNNING_TEST.match(line)
        if match:
            return match["test"]
    return run.failed[-1] if run.failed else None


def classify_test_run(result: ExecResult, stderr: str, run: TestRun) -> Classified:
    """The outcome of one run of a test binary, its signature naming the test at fault."""
    base = classify(result, stderr)
    go_timeout = next(
        (m for m in map(_GO_TIMEOUT.match, stderr.splitlines()) if m is not None), None
    )
    culprit = _culprit(run, stderr)
    if go_timeout and base.outcome is Outcome.CRASH:
        signature = f"panic: test timed out after {go_timeout['after']}"
        return Classified(Outcome.TIMEOUT, _named(culprit, signature), "go test timeout")
    if base.outcome is Outcome.TIMEOUT:
        return Classified(Outcome.TIMEOUT, _named(culprit, "timed out"), base.detail)
    if base.outcome is Outcome.OOM:
        return Classified(Outcome.OOM, _named(culprit, "over the memory limit"), base.detail)
    if base.outcome is Outcome.CRASH:
        if result.exit_code == 1 and run.failed and crash_signature(stderr) is None:
            failed = ", ".join(run.failed[:5]) + (" …" if len(run.failed) > 5 else "")
            return Classified(Outcome.FAIL, f"FAIL: {failed}", "tests failed")
        return Classified(Outcome.CRASH, _named(culprit, base.signature), base.detail)
    return base


def _named(test: str | None, signature: str | None) -> str | None:
    if not test:
        return signature
    return f"{test}: {signature}" if signature else test


def per_test_outcomes(run: TestRun, outcome: Outcome) -> dict[str, str]:
    """Per-test results for the run record: a test still running when the binary crashed or hung
    gets the run's outcome (`crash` / `timeout`) instead of `running`."""
    final = {}
    for name, result in run.results.items():
        if result == "running" and outcome in (Outcome.CRASH, Outcome.TIMEOUT, Outcome.OOM):
            result = outcome.value
        final[name] = result
    return final


def reproduce_test_lines(
    package_dir: Path,
    command: str,
    build_commands: Iterable[str],
    tests: Mapping[str, str],
    env: Mapping[str, str],
) -> list[str]:
    """The `go test -c` line that built a package's binary and one binary invocation per test
    that did not pass, with `-test.run '^TestX$'` and plain `-v` output, run in the package
    directory as gxm ran it."""
    argv = shlex.split(command)
    if not argv:
        return []
    binary, flags = argv[0], argv[1:]
    out_dir = binary.rsplit("/", 1)[0] + "/"
    lines = [line for line in build_commands if " test -c " in line and out_dir in line]
    shown_env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()))
    for test, result in tests.items():
        if result in ("pass", "skip"):
            continue
        again = shlex.join([binary, *reproduce_flags(flags, test)])
        prefix = f"{shown_env} " if shown_env else ""
        lines.append(f"(cd {shlex.quote(str(package_dir))} && {prefix}{again})  # {result}")
    return lines


def reproduction_lines(
    fixtures: Mapping[str, Fixture],
    matrix_env: Iterable[tuple[str, str]],
    result: CellResult | None,
) -> list[str]:
    """For each test package of a cell with a test that did not pass: a heading, its `go test -c`
    line and the invocation reproducing each such test (what `gxm cell` prints)."""
    lines: list[str] = []
    for name, entry in (result.fixtures if result else {}).items():
        fixture = fixtures.get(name)
        bad = [r for r in entry.runs if r.outcome is not Outcome.PASS and r.tests and r.command]
        if fixture is None or fixture.spec is None or not fixture.is_test or not bad:
            continue
        env = {**dict(matrix_env), **dict(fixture.spec.env)}
        build = result.build.commands if result else ()
        found = reproduce_test_lines(
            fixture.package_dir, bad[0].command or "", build, bad[0].tests, env
        )
        lines += [f"\nreproduce the tests of {name} that did not pass:"]
        lines += [f"  {line}" for line in found]
    return lines
