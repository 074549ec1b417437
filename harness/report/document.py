"""The report of a run as one document in every format of `gxm report`: txt, md, mediawiki, html
(sections of tables built by `tables.py`, `pauses.py` and `gotests.py`, drawn by the one table
renderer `harness.render`), benchstat and junit (`formats.py`) and json. Everything rendered
passes through `masking.mask_secrets`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from harness import pausepool
from harness.claims import ClaimVerdict, format_verdicts, judge_run, verdicts_document
from harness.errors import UsageError
from harness.markup import FORMATS, inline, link
from harness.masking import mask_secrets
from harness.render import STYLES, Style, bullets_of_markup, render_table, style_of
from harness.report import formats, gotests, pauses, tables
from harness.report.bisects import PROBE_HEADERS, probe_rows, summary_lines
from harness.report.tables import INCONCLUSIVE_MARK, UNEXPECTED_MARK
from harness.store import PLOTS_DIR, RunData, load_run

# --- sections -----------------------------------------------------------------------------------

CRASH_LEGEND = (
    f"{UNEXPECTED_MARK} = unexpected (not what fixtures.yaml expects) · {INCONCLUSIVE_MARK} = not"
    " known (an infrastructure error; `gxm run --resume` redoes it) · n/a = fixture not selected"
    " for this cell · not run = no result for this cell · SIG…/words = most common crash signature"
)
CRASH_RATE_LEGEND = (
    "Failed runs (crash, corrupt, timeout, oom) out of runs that ran, with the Wilson 95% interval;"
    " vs baseline: Fisher's exact test against the same Go's default-experiment cell"
    " (`~` = not significant, p ≥ 0.05). Runs to reproduce, for a flaky failure: the runs that"
    " see it at least once with 95% confidence at the lower end of its interval."
)
PAUSE_LEGEND = (
    "Medians over passing runs (warm-ups excluded). After each value its change against the same"
    " Go's default-experiment cell: `+12%` = significant change of the median (Mann–Whitney U,"
    " p < 0.05); `~` = no significant difference; `?` = too few runs on a side for any"
    " difference to be significant (3 runs a side can never reach p < 0.05)."
)


def _crash_sections(data: RunData, fmt: str) -> list[str]:
    style = STYLES[fmt]
    headers, rows = tables.crash_table(data, style.multiline_headers)
    parts = [style.heading("Crashes", 2), render_table(headers, rows, fmt)]
    parts.append(style.paragraph(CRASH_LEGEND))
    unexpected = tables.unexpected_lines(data)
    if unexpected:
        parts += [style.heading("Unexpected", 3), style.bullets(unexpected)]
    entries = tables.c_crash_entries(data)
    in_c = [f"{inline(text, fmt)} {link(path, path, fmt)}" for text, path in entries]
    if in_c:
        parts += [style.heading("Crashes in C", 3), bullets_of_markup(in_c, fmt)]
    rates = tables.crash_rate_table(data)
    if rates:
        parts += [
            style.heading("Crash rates", 3),
            render_table(tables.CRASH_RATE_HEADERS, rates, fmt),
            style.paragraph(CRASH_RATE_LEGEND),
        ]
        if tables.has_axis_cells(data):
            parts.append(style.paragraph(tables.AXES_BASELINE_NOTE))
    return parts


def _pause_sections(data: RunData, fmt: str) -> list[str]:
    style = STYLES[fmt]
    parts = [style.heading("GC pauses", 2)]
    rows = pauses.pause_table(data)
    if not rows:
        return parts + [style.paragraph("No bench fixture ran in a cell that built.")]
    parts += [
        render_table(pauses.PAUSE_HEADERS, rows, fmt, pauses.PAUSE_ALIGN),
        style.paragraph(PAUSE_LEGEND),
    ]
    if tables.has_axis_cells(data):
        parts.append(style.paragraph(tables.AXES_BASELINE_NOTE))
    parts += _pooled_pause_section(data, fmt)
    changes = pauses.significant_changes(data)
    parts.append(style.heading("Significant changes against the baseline", 3))
    parts.append(style.bullets(changes) if changes else style.paragraph("None."))
    warnings = pauses.spread_warning_lines(data)
    if warnings:
        parts += [style.heading("Numbers not to trust yet", 3), style.bullets(warnings)]
    sources = gotests.gc_source_lines(data)
    if sources:
        parts += [style.heading("Where the GC figures come from", 3), style.bullets(sources)]
    return parts


TESTS_LEGEND = (
    "Every test that failed, crashed or timed out in some cell: per cell its most common result"
    " and k/n = runs in which it did not pass out of runs in which it ran (`ok` = it always"
    " passed there, - = it did not run there), and the signature seen most often."
)
BENCH_LEGEND = (
    "Benchmark results of the test binaries (`-test.bench`, `-test.benchmem`, `b.ReportMetric`"
    " units): medians over passing runs and their change against the same Go's default-experiment"
    " cell, as in the pause table; n = the fewest runs behind a median. bench.txt has every line"
    " for benchstat (`benchstat -col goexperiment bench.txt`)."
)


def _test_sections(data: RunData, fmt: str) -> list[str]:
    style = STYLES[fmt]
    parts: list[str] = []
    headers, rows = gotests.tests_table(data, style.multiline_headers)
    if rows:
        parts += [style.heading("Tests", 2), render_table(headers, rows, fmt)]
        parts.append(style.paragraph(TESTS_LEGEND))
    headers, bench = gotests.benchmark_table(data, style.multiline_headers)
    if bench:
        align = ["left"] * 3 + ["right"] * (len(headers) - 3)
        parts += [style.heading("Benchmarks", 2), render_table(headers, bench, fmt, align)]
        parts.append(style.paragraph(BENCH_LEGEND))
    return parts


POOLED_LEGEND = (
    "The pauses of all passing runs of a cell added up (runtime/metrics histograms add), p50 and"
    f" p99 interpolated inside their bucket; no p99 from fewer than {pausepool.MIN_PAUSES_FOR_P99}"
    " pauses. Against the baseline: change of the pooled p99 when a permutation test over runs"
    " gives p < 0.05, else `~`."
)


def _pooled_pause_section(data: RunData, fmt: str) -> list[str]:
    rows = pauses.pooled_pause_table(data)
    if not rows:
        return []
    style = STYLES[fmt]
    return [
        style.heading("GC pauses pooled over runs", 3),
        render_table(pauses.POOLED_HEADERS, rows, fmt, pauses.POOLED_ALIGN),
        style.paragraph(POOLED_LEGEND),
    ]


def _plot_section(
    data: RunData, style: Style, image_dir: str, plot_files: Sequence[Path] | None
) -> list[str]:
    from harness.report import plots

    found = plots.existing_plots(data.store.plots_dir, also=plot_files or ())
    if not found:
        return []
    base = image_dir.rstrip("/")
    images = [style.image(caption, f"{base}/{path.name}") for path, caption in found]
    return [style.heading("Plots", 2), "\n\n".join(images)]


def _cells_section(data: RunData, fmt: str) -> list[str]:
    style = STYLES[fmt]
    rows = tables.cells_table(data)
    if not rows:
        return []
    return [style.heading("Cells", 2), render_table(tables.CELL_HEADERS, rows, fmt)]


def _bisect_section(data: RunData, fmt: str) -> list[str]:
    """What a `gxm bisect` run found, when the run is one: the verdict and every probe."""
    record = data.store.read_bisect()
    if record is None:
        return []
    style = STYLES[fmt]
    return [
        style.heading("Bisect", 2),
        style.bullets(summary_lines(record)),
        render_table(PROBE_HEADERS, probe_rows(record.probes), fmt),
    ]


# --- whole report -------------------------------------------------------------------------------


def _tabulated(
    data: RunData,
    fmt: str,
    verdicts: Sequence[ClaimVerdict] | None,
    image_dir: str,
    plot_files: Sequence[Path] | None,
) -> str:
    style = style_of(fmt)
    title = f"gxm run {data.run_id}"
    header = style.bullets(tables.header_lines(data)) if fmt != "txt" else None
    parts = [style.heading(title, 1), header or "\n".join(tables.header_lines(data))]
    parts += _bisect_section(data, fmt)
    parts += _crash_sections(data, fmt) + _test_sections(data, fmt) + _pause_sections(data, fmt)
    if verdicts is not None:
        text = format_verdicts(verdicts, fmt)
        parts += [style.heading("Claims", 2), text.rstrip("\n")]
    parts += _plot_section(data, style, image_dir, plot_files)
    parts += _cells_section(data, fmt)
    return style.document(title, "\n\n".join(parts)) + "\n"


def render_data(
    data: RunData,
    fmt: str,
    *,
    claims: bool = False,
    image_dir: str = PLOTS_DIR,
    verdicts: Sequence[ClaimVerdict] | None = None,
    plot_files: Sequence[Path] | None = None,
) -> str:
    """The report of a loaded run in `fmt` (one of FORMATS), ending with a newline, secrets masked.

    `claims` adds the claims section (go_fixtures/claims.yaml judged on this run); `verdicts`
    are those judgements when the caller has them already (`claims.judge_run`: a report written
    in several formats judges once). `image_dir` is where the plots are linked from: a path
    relative to where the report is read (see `image_base`), or a URL. The plots shown are those
    in the run's plots/ and `plot_files` (plots being drawn while the report is rendered).
    """
    if claims and verdicts is None and fmt in (*STYLES, "json"):
        verdicts = judge_run(data.run_dir, data)
    judged = verdicts if claims else None
    if fmt == "json":
        document: dict[str, object] = data.to_json()
        bisect = data.store.read_bisect()
        if bisect is not None:
            document["bisect"] = bisect.to_json()
        if judged is not None:
            document["claims"] = verdicts_document(judged)
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    elif fmt == "benchstat":
        text = formats.benchstat(data)
    elif fmt == "junit":
        text = formats.junit(data)
    elif fmt in STYLES:
        text = _tabulated(data, fmt, judged, image_dir, plot_files)
    else:
        raise UsageError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return mask_secrets(text)


def render(run_dir: Path, fmt: str, *, claims: bool = False, image_dir: str = PLOTS_DIR) -> str:
    """The report of the run in `run_dir` in `fmt`: txt (terminal), md (GitHub pipe tables),
    mediawiki, html (a whole page), benchstat (Go benchmark format), junit (XML) or json (the run
    record and every cell document as one JSON object, `RunData.to_json`); plots linked under
    `image_dir` (see `render_data`)."""
    if fmt not in FORMATS:  # before loading: a typo should not cost a read of the whole run
        raise UsageError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return render_data(load_run(run_dir), fmt, claims=claims, image_dir=image_dir)
