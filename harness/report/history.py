"""History: `gxm compare RUN_A RUN_B` and `gxm trend` over the runs under results/.

compare lists outcome changes first (what CI cares about), then metric changes that are
significant (Mann–Whitney U on the per-run values, p < 0.05). trend follows a metric's median per
cell across runs and flags a step change only when it is significant *and* persists: the run after
the step must differ from the runs before it in the same direction, so one noisy run flags nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import stats
from harness.errors import EXIT_OK, EXIT_UNEXPECTED, UsageError
from harness.model import Outcome
from harness.render import STYLES, render_table
from harness.report import pauses, tables
from harness.store import RunData, list_runs, load_run
from harness.store.records import CellResult, RunRecord

log = logging.getLogger("gxm.history")

DEFAULT_TREND_METRICS = ("gc_pause_p50_ns", "gc_pause_p99_ns", "gc_pause_max_ns", "gc_cpu_fraction")
STEP_WINDOW_RUNS = 3  # runs pooled as "before" when testing for a step


# --- compare ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeChange:
    cell: str
    fixture: str
    before: str  # crash-table text in run A (`pass 3/3`, `not run`)
    after: str
    verdict_after: str | None
    rate: stats.RateChange | None  # crash rate of B against A


@dataclass(frozen=True)
class MetricDelta:
    cell: str
    fixture: str
    metric: str
    change: stats.MetricChange  # B against A


@dataclass(frozen=True)
class Comparison:
    run_a: str
    run_b: str
    outcome_changes: tuple[OutcomeChange, ...]
    metric_changes: tuple[MetricDelta, ...]  # significant only
    metrics_tested: int
    metrics_untestable: int  # too few runs on a side for significance

    @property
    def exit_code(self) -> int:
        """1 when an outcome changed into an unexpected one (a regression), else 0; metric
        changes never fail (never gate CI on a timing difference)."""
        regressed = any(c.verdict_after == "unexpected" for c in self.outcome_changes)
        return EXIT_UNEXPECTED if regressed else EXIT_OK


def _outcome_key(doc: CellResult | None, fixture: str) -> tuple[Any, ...]:
    """What counts as "the outcome": the set of outcomes seen (or the fixture's status) and the
    verdict; counts alone (3/3 vs 10/10) are not a change."""
    entry = tables.fixture_of(doc, fixture)
    if entry is None:
        return ("absent",)
    seen = frozenset(tables.fixture_summary(entry).get("outcomes", {}))
    return (entry.status, seen, entry.verdict)


def _rate_change(
    a: CellResult | None, b: CellResult | None, fixture: str
) -> stats.RateChange | None:
    rates = []
    for doc in (b, a):
        entry = tables.fixture_of(doc, fixture)
        rate = tables.fixture_summary(entry).get("crash_rate") if entry else None
        if not rate or not rate.get("n"):
            return None
        rates.append(rate)
    return stats.compare_rates(rates[0]["k"], rates[0]["n"], rates[1]["k"], rates[1]["n"])


def _pairs(a: RunData, b: RunData) -> list[tuple[str, str]]:
    cells = sorted(set(a.cell_ids()) | set(b.cell_ids()), key=tables.cell_order_key)
    return [
        (cid, name)
        for cid in cells
        for name in sorted(_fixtures(a.cell(cid)) | _fixtures(b.cell(cid)))
    ]


def _fixtures(doc: CellResult | None) -> set[str]:
    return set(doc.fixtures) if doc is not None else set()


def compare_data(a: RunData, b: RunData) -> Comparison:
    """Run B against run A, cell by cell and fixture by fixture."""
    outcome_changes, metric_changes = [], []
    tested = untestable = 0
    for cid, name in _pairs(a, b):
        doc_a, doc_b = a.cell(cid), b.cell(cid)
        if _outcome_key(doc_a, name) != _outcome_key(doc_b, name):
            entry_b = tables.fixture_of(doc_b, name)
            outcome_changes.append(
                OutcomeChange(
                    cid,
                    name,
                    tables.crash_cell_text(doc_a, name),
                    tables.crash_cell_text(doc_b, name),
                    entry_b.verdict if entry_b else None,
                    _rate_change(doc_a, doc_b, name),
                )
            )
        entry_a, entry_b = tables.fixture_of(doc_a, name), tables.fixture_of(doc_b, name)
        if entry_a is None or entry_b is None:
            continue
        runs_a, runs_b = entry_a.runs, entry_b.runs
        for metric in sorted(_metric_names(runs_a) & _metric_names(runs_b)):
            change = stats.compare_samples(
                stats.metric_samples(runs_b, metric), stats.metric_samples(runs_a, metric)
            )
            if change.p_value is None:
                continue
            tested += 1
            untestable += not change.testable
            if change.significant:
                metric_changes.append(MetricDelta(cid, name, metric, change))
    return Comparison(
        a.run_id, b.run_id, tuple(outcome_changes), tuple(metric_changes), tested, untestable
    )


def _metric_names(runs: Sequence[RunRecord]) -> set[str]:
    return {m for r in stats.measured_runs(runs) if r.outcome is Outcome.PASS for m in r.metrics}


def compare(run_a: Path, run_b: Path) -> Comparison:
    """`compare_data` of two run directories."""
    return compare_data(load_run(run_a), load_run(run_b))


OUTCOME_HEADERS = ["cell", "fixture", "before", "after", "crash rate after vs before"]
METRIC_HEADERS = ["cell", "fixture", "metric", "before", "after", "change"]


def comparison_tables(cmp: Comparison) -> tuple[list[list[str]], list[list[str]]]:
    """Rows of the outcome-change table and of the significant-metric-change table."""
    outcomes = [
        [c.cell, c.fixture, c.before, c.after, c.rate.text if c.rate else tables.MISSING]
        for c in cmp.outcome_changes
    ]
    metrics = [
        [
            d.cell,
            d.fixture,
            d.metric,
            pauses.format_metric(d.metric, d.change.baseline_median),
            pauses.format_metric(d.metric, d.change.median),
            d.change.detail_text,
        ]
        for d in cmp.metric_changes
    ]
    return outcomes, metrics


def render_comparison(cmp: Comparison, fmt: str) -> str:
    """Outcome changes first, then significant metric changes, in a tabulate format."""
    style = STYLES.get(fmt)
    if style is None:
        raise UsageError(f"compare prints {', '.join(STYLES)}; not {fmt!r}")
    outcomes, metrics = comparison_tables(cmp)
    parts = [style.heading(f"gxm compare {cmp.run_a} → {cmp.run_b}", 1)]
    parts.append(style.heading("Outcome changes", 2))
    parts.append(
        render_table(OUTCOME_HEADERS, outcomes, fmt) if outcomes else style.paragraph("None.")
    )
    parts.append(style.heading("Significant metric changes", 2))
    parts.append(
        render_table(METRIC_HEADERS, metrics, fmt) if metrics else style.paragraph("None.")
    )
    note = (
        f"{cmp.metrics_tested} metric comparisons (Mann–Whitney U, p < 0.05);"
        f" {len(cmp.metric_changes)} significant"
    )
    if cmp.metrics_untestable:
        note += f"; {cmp.metrics_untestable} had too few runs on a side to ever be significant"
    parts.append(style.paragraph(note + "."))
    return style.document(f"gxm compare {cmp.run_a} {cmp.run_b}", "\n\n".join(parts)) + "\n"


# --- trend --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    index: int  # the first run at the new level
    change: stats.MetricChange  # that run against the runs before it


@dataclass(frozen=True)
class CellTrend:
    cell: str
    samples: tuple[tuple[float, ...], ...]  # per run, empty when the run has no value
    steps: tuple[Step, ...] = ()
    pending: Step | None = None  # significant in the latest run, not yet confirmed


@dataclass(frozen=True)
class Trend:
    fixture: str
    metric: str
    run_ids: tuple[str, ...]
    cells: tuple[CellTrend, ...] = field(default_factory=tuple)


def find_steps(samples: Sequence[Sequence[float]]) -> tuple[list[Step], Step | None]:
    """Step changes in a series of per-run samples (oldest first).

    Run t starts a step when it differs significantly from the pooled runs before it (at most
    STEP_WINDOW_RUNS, none before an earlier step) and the next run with data differs from those
    same runs significantly in the same direction. A significant last run is returned as pending.
    """
    steps: list[Step] = []
    start = 0
    present = [i for i, s in enumerate(samples) if s]
    for pos, t in enumerate(present):
        before_runs = [i for i in present[:pos] if i >= start][-STEP_WINDOW_RUNS:]
        if not before_runs:
            continue
        before = [v for i in before_runs for v in samples[i]]
        change = stats.compare_samples(samples[t], before)
        if not change.significant:
            continue
        following = present[pos + 1 : pos + 2]
        if not following:
            return steps, Step(t, change)
        confirm = stats.compare_samples(samples[following[0]], before)
        if confirm.significant and _same_direction(change, confirm):
            steps.append(Step(t, change))
            start = t
    return steps, None


def _same_direction(a: stats.MetricChange, b: stats.MetricChange) -> bool:
    ra, rb = a.ratio, b.ratio
    return ra is not None and rb is not None and (ra - 1) * (rb - 1) > 0


def load_history(results_root: Path) -> list[RunData]:
    """Every readable run under `results_root`, oldest first; unreadable ones are skipped with a
    warning (one broken directory must not hide the history)."""
    runs = []
    for run_dir in list_runs(results_root):
        try:
            runs.append(load_run(run_dir))
        except UsageError as exc:
            log.warning("skipping %s: %s", run_dir.name, exc)
    return runs


def trends(
    runs: Sequence[RunData], fixture: str | None = None, metric: str | None = None
) -> list[Trend]:
    """One Trend per (bench fixture, metric) over `runs`; only series with data are kept."""
    fixtures = sorted({f for data in runs for f in tables.fixture_names(data, kind="bench")})
    if fixture is not None:
        if fixture not in fixtures:
            raise UsageError(
                f"no bench fixture {fixture!r} in these runs; have {', '.join(fixtures) or 'none'}"
            )
        fixtures = [fixture]
    metrics = [metric] if metric else list(DEFAULT_TREND_METRICS)
    found = []
    for name in fixtures:
        for m in metrics:
            trend = _trend(runs, name, m)
            if trend.cells:
                found.append(trend)
    if metric and not found:
        raise UsageError(f"no run has metric {metric!r} for {fixture or 'any bench fixture'}")
    return found


def _trend(runs: Sequence[RunData], fixture: str, metric: str) -> Trend:
    cell_ids = sorted({c for data in runs for c in data.cell_ids()}, key=tables.cell_order_key)
    cells = []
    for cid in cell_ids:
        samples = tuple(tuple(_samples(data, cid, fixture, metric)) for data in runs)
        if any(samples):
            steps, pending = find_steps(samples)
            cells.append(CellTrend(cid, samples, tuple(steps), pending))
    return Trend(fixture, metric, tuple(d.run_id for d in runs), tuple(cells))


def _samples(data: RunData, cell_id: str, fixture: str, metric: str) -> list[float]:
    entry = tables.fixture_of(data.cell(cell_id), fixture)
    return stats.metric_samples(entry.runs, metric) if entry else []


def trend_rows(trend: Trend) -> tuple[list[str], list[list[str]]]:
    """Headers and rows: a row per run, a column per cell; medians, with flagged steps."""
    headers = ["run"] + [c.cell for c in trend.cells]
    rows = []
    for i, run_id in enumerate(trend.run_ids):
        row = [run_id]
        for cell in trend.cells:
            values = cell.samples[i]
            text = (
                pauses.format_metric(trend.metric, stats.median(values))
                if values
                else tables.MISSING
            )
            step = next((s for s in cell.steps if s.index == i), None)
            if step is not None:
                text += f" step {step.change.delta_text}"
            elif cell.pending is not None and cell.pending.index == i:
                text += f" {cell.pending.change.delta_text}? (unconfirmed)"
            row.append(text)
        rows.append(row)
    return headers, rows


def render_trends(
    found: Sequence[Trend], fmt: str, plots: Mapping[tuple[str, str], str] | None = None
) -> str:
    """A table per trend (and its plot, for md/html, when `plots` maps (fixture, metric) to an
    image path)."""
    style = STYLES.get(fmt)
    if style is None:
        raise UsageError(f"trend prints {', '.join(STYLES)}; not {fmt!r}")
    parts = [style.heading("gxm trends", 1)]
    if not found:
        parts.append(style.paragraph("No bench results under the results directory yet."))
    for trend in found:
        headers, rows = trend_rows(trend)
        parts += [
            style.heading(f"{trend.fixture}: {trend.metric}", 2),
            render_table(headers, rows, fmt),
        ]
        image = (plots or {}).get((trend.fixture, trend.metric))
        if image:
            parts.append(style.image(f"{trend.fixture} {trend.metric} across runs", image))
    parts.append(style.paragraph(TREND_LEGEND))
    return style.document("gxm trends", "\n\n".join(parts)) + "\n"


TREND_LEGEND = (
    "Median per run. `step +x%` = a significant change (Mann–Whitney U, p < 0.05) against the"
    f" up to {STEP_WINDOW_RUNS} runs before it, confirmed by the next run; `(unconfirmed)` = the"
    " latest run differs but no later run confirms it yet."
)
