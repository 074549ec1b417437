"""The two report formats that are not tables: Go benchmark format (for benchstat) and JUnit XML.

benchstat text follows the Go benchmark data format (golang.org/design/14313-benchmark-format):
lower-case `key: value` configuration lines that hold until overwritten (`goversion:`,
`goexperiment:`, `fixture:` and the runs' extra environment), one `Benchmark<Name> <iterations>
<value> <unit>…` line per measured run, and a `Unit <unit> better=…` line for every unit. Blocks
come baseline first, so `benchstat -col goexperiment bench.txt` compares every experiment against
the default one (and `-col goversion` against the lowest Go) the way Go people are used to.

JUnit, valid against the Jenkins xunit schema (junit-10.xsd) CI servers read it with: one test
suite per cell, one test case per fixture (and per test of a user's test package, classname
`gxm.<cell>.<package>`); an unexpected verdict is a `<failure>` carrying the
crash signature and the tail of the first bad run's log, an infra-error an `<error>` (never blamed
on the cell), and a fixture that could not run as expected a `<skipped>`. A fixture that crashed
(or was corrupt, timed out, ran out of memory) as expected passes, with its runs and signatures in
`<system-out>` so the test report still shows what happened.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness import benchfmt, stats
from harness.masking import mask_secrets
from harness.model import Outcome, experiment_id
from harness.report import pauses, tables
from harness.store import RunData, natural_key
from harness.store.records import CellResult, FixtureResult, RunRecord

# Metrics in the order benchstat shows them, and which direction is better (every unit is declared).
METRIC_ORDER = (
    "gc_pause_p50_ns",
    "gc_pause_p99_ns",
    "gc_pause_max_ns",
    "gc_cpu_fraction",
    "gc_cycles",
    "peak_rss_bytes",
    "heap_live_bytes",
    "alloc_bytes",
    "ops",
    "wall_ns",
)
BETTER = {name: "lower" for name in METRIC_ORDER} | {"ops": "higher"}
# Metrics a fixture may add beyond the documented ones: a direction when the unit says it.
_BETTER_BY_SUFFIX = (("_per_s", "higher"), ("_ns", "lower"), ("_bytes", "lower"))
_CONFIG_KEY = re.compile(r"^[a-z][a-z0-9_-]*$")
LOG_TAIL_LINES = 40


# --- benchstat ----------------------------------------------------------------------------------


def benchmark_name(fixture: str) -> str:
    """`gc_small_objects` → `BenchmarkGcSmallObjects`; `mysdk/worker` → `BenchmarkMysdk/Worker`.

    The format wants `Benchmark` followed by an upper-case letter, and no spaces.
    """
    parts = [
        "".join(w[:1].upper() + w[1:] for w in re.split(r"[_\-\s]+", p)) for p in fixture.split("/")
    ]
    name = "/".join(parts)
    if not name[:1].isupper():
        name = "Fixture" + name
    return "Benchmark" + name


def unit_name(metric: str) -> str:
    """`gc_pause_p99_ns` → `gc-pause-p99-ns`: the measurement unit is the last hyphenated word."""
    return metric.replace("_", "-")


def _number(value: float) -> str:
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def _ordered_metrics(names: set[str]) -> list[str]:
    return [m for m in METRIC_ORDER if m in names] + sorted(names - set(METRIC_ORDER))


def _result_line(fixture: str, run: RunRecord, metrics: Sequence[str]) -> str | None:
    values = run.metrics
    pairs = [
        f"{_number(values[m])} {unit_name(m)}"
        for m in metrics
        if isinstance(values.get(m), (int, float))
        and not isinstance(values.get(m), bool)
        and math.isfinite(values[m])
    ]
    if not pairs:
        return None
    ops = values.get("ops")
    iterations = int(ops) if isinstance(ops, (int, float)) and ops >= 1 else 1
    return f"{benchmark_name(fixture)} {iterations} " + " ".join(pairs)


def unit_line(metric: str) -> str:
    """The `Unit` metadata line declaring a metric's unit: which direction is better, or, for a
    metric whose name does not say, benchstat's default assumption spelled out."""
    better = BETTER.get(metric) or next(
        (way for suffix, way in _BETTER_BY_SUFFIX if metric.endswith(suffix)), None
    )
    return f"Unit {unit_name(metric)} " + (f"better={better}" if better else "assume=nothere")


def _block_order(sample: tuple[str, CellResult, Any]) -> tuple[Any, ...]:
    """Baseline cells (default experiment, every other axis default) first, then by Go version
    and cell, then fixture: benchstat orders a key's values by first appearance and compares
    every column against the first, so the first value of goexperiment is `default` and the
    first of goversion the lowest Go."""
    fixture, doc, _ = sample
    cell = doc.cell
    is_baseline = tables.baseline_id(cell) == cell.id
    version = natural_key(cell.go_resolved or cell.go)
    return (not is_baseline, version, tables.cell_order_key(cell.id), fixture)


def _config_env(doc: CellResult) -> dict[str, str]:
    env = mask_secrets(dict(doc.cell.settings.get("env") or {}))
    return {k.lower(): str(v).replace("\n", " ") for k, v in env.items()}


def benchstat(data: RunData) -> str:
    """Every measured, passing run of every bench fixture as Go benchmark format text."""
    samples = sorted(pauses.bench_samples(data), key=_block_order)
    names = {
        m
        for _, _, runs in samples
        for r in runs
        for m in r.metrics
        if benchfmt.split_metric_name(m) is None  # a test binary's own lines are kept as printed
    }
    metrics = _ordered_metrics(names)
    env_keys = sorted(
        {k for _, doc, _ in samples for k in _config_env(doc) if _CONFIG_KEY.match(k)}
    )
    lines = [
        f"# gxm run {data.run_id}: one Benchmark line per measured run of each bench fixture.",
        "# Compare experiments: benchstat -table goversion -col goexperiment -row .name bench.txt",
        "# Compare Go versions: benchstat -table goexperiment -col goversion -row .name bench.txt",
        f"gxm-run: {data.run_id}",
    ]
    cpus = data.document.host.get("cpus")
    if cpus:
        lines.append(f"cpu-count: {cpus}")
    lines += [unit_line(m) for m in metrics]
    with_axes = tables.has_axis_cells(data)
    for fixture, doc, runs in samples:
        env = _config_env(doc)
        lines += ["", f"goversion: go{doc.cell.go_resolved or doc.cell.go}"]
        if with_axes:  # benchstat keys stay set until changed: every block names every axis
            lines.append(f"goexperiment: {experiment_id(doc.cell.goexperiment)}")
            lines += [f"{key}: {doc.cell.axes.get(key) or default}" for key, default in _AXIS_KEYS]
        else:
            lines.append(f"goexperiment: {tables.experiment_of(doc.id)}")
        lines.append(f"fixture: {fixture}")
        lines += [f"{k}: {env.get(k, '')}".rstrip() for k in env_keys]
        for run in runs:
            if run.outcome is Outcome.PASS:
                line = _result_line(fixture, run, metrics)
                if line:
                    lines.append(line)
                lines += list(run.benchmarks)
    return "\n".join(lines) + "\n"


_AXIS_KEYS = (("godebug", "default"), ("buildmode", "default"), ("cgo", "on"))


# --- JUnit --------------------------------------------------------------------------------------

_XML_ILLEGAL = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """`text` without the characters XML 1.0 cannot carry (ANSI escapes, NULs from a crash)."""
    return _XML_ILLEGAL.sub("", text)


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last `lines` lines of a log, or a note saying it is missing."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"[no log at {path}]"
    return "\n".join(text.splitlines()[-lines:])


def _bad_runs(entry: FixtureResult) -> list[RunRecord]:
    return [r for r in entry.runs if r.outcome.value not in entry.expected]


def _run_line(run: RunRecord) -> str:
    """`run 1: crash — fatal error: …` (the signature, else the classifier's detail)."""
    warm = " (warm-up)" if run.warmup else ""
    why = run.signature or run.detail
    return f"run {run.i}{warm}: {run.outcome.value}" + (f" — {why}" if why else "")


def _failure_body(data: RunData, doc: CellResult, entry: FixtureResult) -> str:
    """Each bad run with its signature, the fixture's status when it did not run, and the tail of
    the first bad run's log (or of the build log)."""
    bad = _bad_runs(entry)
    lines = [_run_line(r) for r in bad]
    if entry.status != "ran":
        lines.append(f"{entry.status}: {entry.reason or ''}".rstrip(": "))
    log = next((r.log for r in bad if r.log), None)
    log = log or doc.build.log
    if log:
        lines += ["", f"--- tail of {log} ---", log_tail(data.store.path_of(log))]
    return "\n".join(lines)


def _testcase(data: RunData, doc: CellResult, name: str) -> ET.Element:
    entry = doc.fixtures[name]
    runs = entry.runs
    case = ET.Element(
        "testcase",
        classname=f"gxm.{doc.id.replace('.', '_')}",
        name=name,
        time=f"{sum(r.seconds for r in runs):.3f}",
    )
    text = tables.crash_cell_text(doc, name)
    for mark in (tables.UNEXPECTED_MARK, tables.INCONCLUSIVE_MARK):
        text = text.removesuffix(" " + mark)
    message = f"{text}, expected {'/'.join(entry.expected) or '?'}"
    if entry.verdict in ("unexpected", "inconclusive"):
        infra = any(r.is_infra_error for r in runs)
        infra = infra or entry.status == Outcome.INFRA_ERROR.value
        kind = "error" if infra else "failure"
        outcomes = [r.outcome.value for r in _bad_runs(entry)] or [entry.status]
        element = ET.SubElement(case, kind, message=message, type=outcomes[0])
        element.text = xml_text(_failure_body(data, doc, entry))
    elif entry.status != "ran" or not stats.measured_runs(runs):
        ET.SubElement(case, "skipped", message=f"{text}: {entry.reason or 'not run'}")
    elif failed := [r for r in runs if r.outcome is not Outcome.PASS]:
        output = ET.SubElement(case, "system-out")  # as expected: a pass that shows its runs
        output.text = xml_text("\n".join([f"{message} (as expected)", *map(_run_line, failed)]))
    return case


def _go_test_cases(doc: CellResult, name: str) -> list[ET.Element]:
    """One testcase per test of a user's test package in this cell: a `<failure>` when the test
    did not pass in some run and the package's outcome there was not expected."""
    entry = doc.fixtures[name]
    runs = [r for r in entry.runs if r.tests and not r.warmup]
    tests = sorted({test for r in runs for test in r.tests})
    expected = set(entry.expected)
    classname = f"gxm.{doc.cell.id.replace('.', '_')}.{name.replace('/', '.')}"
    cases = []
    for test in tests:
        ran = [r for r in runs if test in r.tests]
        bad = [r for r in ran if r.tests[test] not in ("pass", "skip")]
        case = ET.Element("testcase", classname=classname, name=test)
        if bad and any(r.outcome.value not in expected for r in bad):
            results = sorted({r.tests[test] for r in bad})
            message = f"{'/'.join(results)} {len(bad)}/{len(ran)}"
            failure = ET.SubElement(case, "failure", message=message, type=results[0])
            failure.text = xml_text("\n".join(_run_line(r) for r in bad))
        elif all(r.tests[test] == "skip" for r in ran):
            ET.SubElement(case, "skipped", message="skipped by the test")
        cases.append(case)
    return cases


def _suite(data: RunData, doc: CellResult) -> ET.Element:
    cell = doc.cell
    cases = [_testcase(data, doc, name) for name in sorted(doc.fixtures)]
    cases += [c for name in sorted(doc.fixtures) for c in _go_test_cases(doc, name)]
    suite = ET.Element(
        "testsuite",
        name=cell.id,
        tests=str(len(cases)),
        failures=str(sum(c.find("failure") is not None for c in cases)),
        errors=str(sum(c.find("error") is not None for c in cases)),
        skipped=str(sum(c.find("skipped") is not None for c in cases)),
        time=f"{sum(float(c.get('time', 0)) for c in cases):.3f}",
        timestamp=data.document.started or "",
    )
    props = ET.SubElement(suite, "properties")
    values = {
        "go": cell.go,
        "go_resolved": cell.go_resolved,
        "goexperiment": cell.goexperiment,
        "backend": cell.backend,
    }
    extra = ("godebug", "buildmode", "cgo", "baseline") if "baseline" in cell.axes else ()
    values |= {key: cell.axes.get(key) for key in extra}
    for key, value in values.items():
        ET.SubElement(props, "property", name=key, value=str(value or ""))
    suite.extend(cases)
    return suite


def junit(data: RunData) -> str:
    """The run as JUnit XML: `<testsuites>` of one `<testsuite>` per cell."""
    suites = [_suite(data, doc) for doc in data.results]
    root = ET.Element("testsuites", name=f"gxm run {data.run_id}")
    for key in ("tests", "failures", "errors"):  # junit-10.xsd has no `skipped` here
        root.set(key, str(sum(int(s.get(key, 0)) for s in suites)))
    root.set("time", f"{sum(float(s.get('time', 0)) for s in suites):.3f}")
    root.extend(suites)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
