"""The report sections of a user's test suites: the Tests table, the benchmark table, GC sources.

- Tests: every test that failed, crashed or timed out in any cell, one row per (package, test),
  `k/n` per cell (runs in which it did not pass, out of runs in which it ran) and the signature
  seen most often when it did not pass;
- Benchmarks: one row per (package, benchmark, unit, cell): the median over passing runs and its
  change against the baseline cell, with the same statistics as the pause table;
- GC sources: which fixtures' GC figures came from the runtime's gctrace lines rather than gxm's
  runtime/metrics probe.

Rows are plain strings; rendering is the report's job.
"""

from __future__ import annotations

from collections import Counter

from harness import benchfmt
from harness.report.pauses import format_metric, metric_change
from harness.report.tables import cell_header, fixture_summary
from harness.store import RunData
from harness.store.records import RunRecord

NOT_PASSING = ("fail", "crash", "timeout", "oom")


def _test_runs(data: RunData) -> dict[tuple[str, str], list[RunRecord]]:
    """(fixture, cell id) -> measured runs of fixtures whose runs carry per-test results."""
    found: dict[tuple[str, str], list[RunRecord]] = {}
    for doc in data.results:
        for name, entry in doc.fixtures.items():
            runs = [r for r in entry.runs if r.tests and not r.warmup]
            if runs:
                found[(name, doc.cell.id)] = runs
    return found


def troubled_tests(data: RunData) -> list[tuple[str, str]]:
    """(fixture, test) of every test that did not pass in some run, sorted."""
    troubled = {
        (name, test)
        for (name, _), runs in _test_runs(data).items()
        for run in runs
        for test, result in run.tests.items()
        if result in NOT_PASSING
    }
    return sorted(troubled)


def test_counts(runs: list[RunRecord], test: str) -> tuple[int, int, str | None]:
    """(runs where `test` did not pass, runs where it ran, its most common signature then)."""
    ran = [r for r in runs if test in r.tests]
    bad = [r for r in ran if r.tests[test] in NOT_PASSING]
    signatures = Counter(r.signature for r in bad if r.signature)
    top = signatures.most_common(1)[0][0] if signatures else None
    return len(bad), len(ran), top


def tests_table(data: RunData, multiline: bool) -> tuple[list[str], list[list[str]]]:
    """Rows (package, test, k/n per cell, signature) for the Tests section."""
    by_key = _test_runs(data)
    cells = data.cell_ids()
    headers = ["package", "test", *(cell_header(c, multiline) for c in cells), "signature"]
    rows: list[list[str]] = []
    for name, test in troubled_tests(data):
        texts, signatures = [], Counter[str]()
        for cell_id in cells:
            k, n, top = test_counts(by_key.get((name, cell_id), []), test)
            texts.append(
                f"{_result_word(by_key.get((name, cell_id), []), test)} {k}/{n}" if n else "-"
            )
            if top:
                signatures[top] += k
        signature = signatures.most_common(1)[0][0] if signatures else ""
        rows.append([name, test, *texts, signature.removeprefix(f"{test}: ")])
    return headers, rows


def _result_word(runs: list[RunRecord], test: str) -> str:
    """The most common non-passing result of `test` in these runs (`fail`, `crash`, …), or `ok`."""
    results = Counter(r.tests[test] for r in runs if r.tests.get(test) in NOT_PASSING)
    return results.most_common(1)[0][0] if results else "ok"


def benchmark_table(data: RunData, multiline: bool) -> tuple[list[str], list[list[str]]]:
    """Rows (package, benchmark, unit), one column per cell: the median over passing runs and its
    change against the baseline cell; the last column is the fewest runs behind any median."""
    cells = data.cell_ids()
    values: dict[tuple[str, str, str], dict[str, str]] = {}
    runs: dict[tuple[str, str, str], list[int]] = {}
    for cell_id in cells:
        doc = data.cell(cell_id)
        for name, entry in sorted(doc.fixtures.items() if doc is not None else ()):
            metrics = fixture_summary(entry).get("metrics", {})
            for metric, summary in metrics.items():
                split = benchfmt.split_metric_name(metric)
                if split is None or doc is None:
                    continue
                key = (name, *split)
                text = _bench_value(summary.get("median"), split[1])
                change = metric_change(data, doc, name, metric)
                if change is not None and change.p_value is not None:
                    text = f"{text} {change.delta_text}"
                values.setdefault(key, {})[cell_id] = text
                runs.setdefault(key, []).append(int(summary.get("n", 0)))
    headers = ["package", "benchmark", "unit", *(cell_header(c, multiline) for c in cells), "n"]
    rows = [
        [*key, *(values[key].get(c, "-") for c in cells), str(min(runs[key]))]
        for key in sorted(values)
    ]
    return headers, rows


def _bench_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ns/op":
        return format_metric("x_ns", value)
    return format_metric("x", value)


def gc_source_lines(data: RunData) -> list[str]:
    """`<fixture>: GODEBUG=gctrace=1 …` for every fixture whose GC figures came from gctrace."""
    found: set[str] = set()
    for doc in data.results:
        for name, entry in doc.fixtures.items():
            if any("gctrace" in r.metric_sources.values() for r in entry.runs):
                found.add(name)
    return [
        f"{name}: GC figures from the runtime's GODEBUG=gctrace=1 lines (pause = the two "
        "stop-the-world phases of each cycle; GC CPU = the trace's cumulative share), not from "
        "gxm's runtime/metrics probe"
        for name in sorted(found)
    ]
