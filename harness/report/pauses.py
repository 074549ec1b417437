"""The GC pause table and everything about bench numbers: formatting with units, changes against
the baseline cell (Mann–Whitney U), significant changes, and warnings about numbers not to trust.

Rows are lists of plain strings; rendering them is `harness.render`'s job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness import pausepool, stats
from harness.model import Outcome
from harness.report.tables import (
    MISSING,
    baseline_id,
    experiment_of,
    fixture_names,
    fixture_of,
    fixture_summary,
)
from harness.store import RunData
from harness.store.records import CellResult, RunRecord

# --- numbers ------------------------------------------------------------------------------------


def format_ns(ns: float | None) -> str:
    """Human duration with three significant digits: `850ns`, `31.0µs`, `212µs`, `1.20ms`."""
    if ns is None:
        return MISSING
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if abs(ns) >= scale:
            return _three_digits(ns / scale) + unit
    return f"{ns:.0f}ns"


def _three_digits(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def format_metric(name: str, value: float | None) -> str:
    """A metric value in its unit: ns as durations, bytes in MiB, fractions in %, counts plain."""
    if value is None:
        return MISSING
    if name.endswith("_ns"):
        return format_ns(value)
    if name.endswith("_bytes"):
        return f"{value / 2**20:.1f} MiB"
    if name.endswith("_fraction"):
        return f"{value * 100:.1f}%"
    if float(value).is_integer() or abs(value) >= 100:
        return f"{value:.0f}"
    return _three_digits(value)


@dataclass(frozen=True)
class Column:
    """A metric column of the pause table."""

    header: str
    metric: str


PAUSE_COLUMNS = (
    Column("p50 pause", "gc_pause_p50_ns"),
    Column("p99 pause", "gc_pause_p99_ns"),
    Column("max pause", "gc_pause_max_ns"),
    Column("GC CPU", "gc_cpu_fraction"),
    Column("GC cycles", "gc_cycles"),
    Column("peak RSS", "peak_rss_bytes"),
)
PAUSE_HEADERS = ["fixture", "go", "experiment", *(c.header for c in PAUSE_COLUMNS), "n"]
PAUSE_ALIGN = ["left"] * 3 + ["right"] * (len(PAUSE_COLUMNS) + 1)


def metric_change(
    data: RunData, cell_doc: CellResult, fixture: str, metric: str
) -> stats.MetricChange | None:
    """`metric` of `fixture` in this cell against its baseline cell; None for the baseline itself
    or when the run has no baseline cell with that fixture."""
    base_doc = data.cell(baseline_id(cell_doc.cell))
    if base_doc is None or base_doc is cell_doc:
        return None
    base_entry = base_doc.fixtures.get(fixture)
    if base_entry is None:
        return None
    runs = cell_doc.fixtures[fixture].runs
    return stats.compare_samples(
        stats.metric_samples(runs, metric), stats.metric_samples(base_entry.runs, metric)
    )


def _bench_cells(data: RunData) -> list[tuple[str, CellResult]]:
    """(fixture, cell document) for bench fixtures that ran in cells that built (not those the
    cell's experiments exclude), in report order."""
    found = []
    for name in fixture_names(data, kind="bench"):
        for cid in data.cell_ids():
            doc = data.cell(cid)
            entry = fixture_of(doc, name)
            if doc is None or entry is None or entry.status != "ran":
                continue
            if doc.build.status == "ok":
                found.append((name, doc))
    return found


def _pause_row(data: RunData, name: str, doc: CellResult) -> list[str]:
    summary = fixture_summary(doc.fixtures[name])
    metrics = summary.get("metrics", {})
    cells = []
    for column in PAUSE_COLUMNS:
        entry = metrics.get(column.metric)
        text = format_metric(column.metric, entry.get("median") if entry else None)
        change = metric_change(data, doc, name, column.metric)
        if change is not None and entry and change.p_value is not None:
            text = f"{text} {change.delta_text}"
        cells.append(text)
    p99 = metrics.get("gc_pause_p99_ns")
    n = p99["n"] if p99 else summary.get("outcomes", {}).get(Outcome.PASS.value, 0)
    return [name, doc.cell.go, experiment_of(doc.id), *cells, str(n)]


def pause_table(data: RunData) -> list[list[str]]:
    """Rows (fixture, cell) for bench fixtures in cells that built: medians over passing runs,
    each followed by its change against the baseline (`+12%`, `~`, `?`) outside the baseline."""
    return [_pause_row(data, name, doc) for name, doc in _bench_cells(data)]


def significant_changes(data: RunData) -> list[str]:
    """One line per metric whose change against the baseline is significant, with its evidence."""
    lines = []
    for name, doc in _bench_cells(data):
        metrics = fixture_summary(doc.fixtures[name]).get("metrics", {})
        for metric in sorted(metrics):
            change = metric_change(data, doc, name, metric)
            if change is not None and change.significant:
                lines.append(
                    f"{doc.id} {name} {metric}: "
                    f"{format_metric(metric, change.baseline_median)} → "
                    f"{format_metric(metric, change.median)} {change.detail_text}"
                )
    return lines


def _warning_text(doc: CellResult, name: str, cpus: int | None) -> str | None:
    runs = doc.fixtures[name].runs
    loads = stats.run_load_avgs(runs)
    others = stats.run_others_cpus(runs)
    general: dict[str, str] = {}
    spreads = []
    for column in PAUSE_COLUMNS:
        values = stats.metric_samples(runs, column.metric)
        if not values:
            continue
        for warning in stats.spread_warnings(values, loads, cpus, others):
            if warning.kind == "spread":
                spreads.append(f"{column.header} {warning.text.split(' (')[0].split()[-1]}")
            else:
                general.setdefault(warning.kind, warning.text)
    if spreads:
        limit = f"{stats.MAX_RELATIVE_SPREAD * 100:.0f}%"
        general["spread"] = f"spread over {limit}: {', '.join(spreads)}"
    if not general:
        return None
    return f"{doc.id} {name}: " + "; ".join(general.values())


def spread_warning_lines(data: RunData) -> list[str]:
    """One line per (cell, bench fixture) whose numbers should not be trusted, saying why."""
    cpus = data.document.host.get("cpus")
    lines = []
    for name, doc in _bench_cells(data):
        text = _warning_text(doc, name, cpus if isinstance(cpus, int) else None)
        if text:
            lines.append(text)
    return lines


def bench_samples(data: RunData) -> list[tuple[str, CellResult, Sequence[RunRecord]]]:
    """(fixture, cell record, measured runs) for bench fixtures in cells that built."""
    return [
        (name, doc, stats.measured_runs(doc.fixtures[name].runs))
        for name, doc in _bench_cells(data)
    ]


# --- pauses pooled over runs --------------------------------------------------------------------

POOLED_HEADERS = ["fixture", "go", "experiment", "runs", "pauses", "p50", "p99", "max",
                  "p99 vs baseline"]  # fmt: skip
POOLED_ALIGN = ["left"] * 3 + ["right"] * 6
TOO_FEW_PAUSES = "too few pauses"


def _cell_histograms(doc: CellResult | None, fixture: str) -> list[pausepool.PauseHistogram]:
    """Pause histograms of the fixture's passing measured runs in that cell."""
    entry = fixture_of(doc, fixture)
    runs = stats.measured_runs(entry.runs) if entry else []
    return pausepool.run_histograms(r for r in runs if r.outcome is Outcome.PASS)


def _pooled_row(data: RunData, name: str, doc: CellResult) -> list[str] | None:
    hists = _cell_histograms(doc, name)
    if not hists:
        return None
    pooled = pausepool.pooled_pauses(hists)
    base_doc = data.cell(baseline_id(doc.cell))
    change = "-"
    if base_doc is not None and base_doc is not doc:
        base = _cell_histograms(base_doc, name)
        change = pausepool.compare_p99(hists, base).text if base else "-"
    p99 = TOO_FEW_PAUSES if pooled.too_few else format_ns(pooled.p99_ns)
    return [name, doc.cell.go, experiment_of(doc.id), str(pooled.runs),
            str(pooled.pauses), format_ns(pooled.p50_ns), p99, format_ns(pooled.max_ns),
            change]  # fmt: skip


def pooled_pause_table(data: RunData) -> list[list[str]]:
    """Rows (bench fixture, cell) of the pauses of all passing runs pooled: their number, p50, p99
    (`too few pauses` under pausepool.MIN_PAUSES_FOR_P99) and max, and the pooled p99 against the
    baseline cell's (permutation test over runs). Runs without a pause histogram are left out."""
    rows = [_pooled_row(data, name, doc) for name, doc in _bench_cells(data)]
    return [row for row in rows if row is not None]
