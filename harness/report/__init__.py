"""Report rendering: every format of `gxm report`, and the files written beside a finished run.

One table renderer (`render_table`) serves every tabulate format (txt, md, mediawiki, html); a
`Style` says how a format differs (tablefmt, headings, escaping, paragraphs, lists, images).
Tables are built as plain strings first (`tables.py`), and tabulate is called with
`disable_numparse=True`, so a Go version such as `1.20` is never rendered as `1.2`. benchstat and
JUnit live in `formats.py`. Everything rendered passes through `masking.mask_secrets`.
"""

from __future__ import annotations

import html
import importlib
import importlib.util
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from tabulate import tabulate

from harness import store
from harness.atomic import write_text_atomic
from harness.errors import EXIT_INFRA, EXIT_NOTHING_SELECTED, EXIT_OK, EXIT_UNEXPECTED, UsageError
from harness.masking import mask_secrets
from harness.report import formats, gotests, pauses, tables
from harness.report.pauses import format_ns, pause_table  # noqa: F401  (re-exported vocabulary)
from harness.report.tables import (  # noqa: F401  (re-exported: the report's public vocabulary)
    UNEXPECTED_MARK,
    cell_header,
    crash_cell_text,
    crash_table,
    header_lines,
    signature_tag,
)
from harness.store import RunData, load_run

FORMATS = ("txt", "md", "mediawiki", "html", "benchstat", "junit", "json")
TABLE_FORMATS = ("txt", "md", "mediawiki", "html")
PLOTS_DIR = store.PLOTS_DIR
# What `write_reports` leaves in a run directory, and in which format.
REPORT_FILES = {
    "report.txt": "txt",
    "report.md": "md",
    "report.html": "html",
    "bench.txt": "benchstat",
    "junit.xml": "junit",
}


def _underlined(title: str, level: int) -> str:
    """Terminal headings: `=` under the title, `-` under sections, a colon below that."""
    if level >= 3:
        return f"{title}:"
    return f"{title}\n{('=' if level == 1 else '-') * len(title)}"


def _html_list(lines: Sequence[str]) -> str:
    return "<ul>\n" + "\n".join(f"<li>{html.escape(line)}</li>" for line in lines) + "\n</ul>"


def _html_image(alt: str, src: str) -> str:
    alt, src = html.escape(alt), html.escape(src)
    return f'<figure><img src="{src}" alt="{alt}"><figcaption>{alt}</figcaption></figure>'


_HTML_HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.2rem 0.5rem; white-space: nowrap; }}
th {{ background: #f3f3f3; }}
img {{ max-width: 100%; }}
</style>
</head>
<body>
"""


@dataclass(frozen=True)
class Style:
    """How one tabulate format differs from the others."""

    tablefmt: str
    multiline_headers: bool
    heading: Callable[[str, int], str]
    cell_escape: Callable[[str], str]  # applied to table cells before tabulate
    paragraph: Callable[[str], str]
    bullets: Callable[[Sequence[str]], str]
    image: Callable[[str, str], str]  # (alt text, relative path)
    document: Callable[[str, str], str] = lambda title, body: body  # (title, body)


STYLES: dict[str, Style] = {
    "txt": Style(
        "simple",
        True,
        _underlined,
        lambda text: text,
        lambda text: text,
        lambda lines: "\n".join(lines),
        lambda alt, src: f"{alt}: {src}",
    ),
    "md": Style(
        "pipe",
        False,
        lambda t, n: f"{'#' * n} {t}",
        lambda text: text.replace("|", "\\|"),
        lambda text: text,
        lambda lines: "\n".join(f"- {line}" for line in lines),
        lambda alt, src: f"![{alt}]({src})",
    ),
    "mediawiki": Style(
        "mediawiki",
        False,
        lambda t, n: f"{'=' * n} {t} {'=' * n}",
        lambda text: text.replace("|", "&#124;"),
        lambda text: text,
        lambda lines: "\n".join(f"* {line}" for line in lines),
        lambda alt, src: f"{alt}: {src}",
    ),
    "html": Style(
        "html",  # tabulate escapes cell text itself in this format
        False,
        lambda t, n: f"<h{min(n, 6)}>{html.escape(t)}</h{min(n, 6)}>",
        lambda text: text,
        lambda text: f"<p>{html.escape(text)}</p>",
        _html_list,
        _html_image,
        lambda title, body: (
            _HTML_HEAD.format(title=html.escape(title)) + body + "\n</body>\n</html>"
        ),
    ),
}


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    fmt: str,
    colalign: Sequence[str] | None = None,
) -> str:
    """The one table renderer: every table of every tabulate format goes through here (claims
    and history tables too). Cells stay text (`1.20` is not a number) and are escaped for `fmt`."""
    style = _style(fmt)
    return tabulate(
        [[style.cell_escape(str(v)) for v in row] for row in rows],
        headers=[style.cell_escape(h) for h in headers],
        tablefmt=style.tablefmt,
        disable_numparse=True,
        colalign=colalign,
    )


def _style(fmt: str) -> Style:
    style = STYLES.get(fmt)
    if style is None:
        raise UsageError(f"no table format {fmt!r}; choose one of {', '.join(TABLE_FORMATS)}")
    return style


# --- sections -----------------------------------------------------------------------------------

CRASH_LEGEND = (
    f"{UNEXPECTED_MARK} = unexpected (not what fixtures.yaml expects) · n/a = fixture not selected"
    " for this cell · not run = no result for this cell · SIG…/words = most common crash signature"
)
CRASH_RATE_LEGEND = (
    "Failed runs (crash, corrupt, timeout, oom) out of runs that ran, with the Wilson 95% interval;"
    " vs baseline: Fisher's exact test against the same Go's default-experiment cell"
    " (`~` = not significant, p ≥ 0.05)."
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
    rates = tables.crash_rate_table(data)
    if rates:
        parts += [
            style.heading("Crash rates", 3),
            render_table(tables.CRASH_RATE_HEADERS, rates, fmt),
            style.paragraph(CRASH_RATE_LEGEND),
        ]
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


def _plot_section(data: RunData, style: Style, image_dir: str) -> list[str]:
    from harness.report import plots

    found = plots.existing_plots(data.store.plots_dir)
    if not found:
        return []
    images = [style.image(caption, f"{image_dir}/{path.name}") for path, caption in found]
    return [style.heading("Plots", 2), "\n\n".join(images)]


def _claims_module() -> ModuleType | None:
    """harness.claims when this gxm has it (another part of gxm provides it), else None."""
    if "harness.claims" not in sys.modules and importlib.util.find_spec("harness.claims") is None:
        return None
    return importlib.import_module("harness.claims")


def claims_text(run_dir: Path, fmt: str, required: bool) -> str | None:
    """The claims section from `harness.claims.render_claims(run_dir, fmt)` when that module
    exists; None when it does not and `required` is False (UsageError when it is True)."""
    claims = _claims_module()
    if claims is None:
        if required:
            raise UsageError("this gxm has no claims module (harness/claims.py); drop --claims")
        return None
    return str(claims.render_claims(run_dir, fmt))


def _cells_section(data: RunData, fmt: str) -> list[str]:
    style = STYLES[fmt]
    rows = tables.cells_table(data)
    if not rows:
        return []
    return [style.heading("Cells", 2), render_table(tables.CELL_HEADERS, rows, fmt)]


# --- whole report -------------------------------------------------------------------------------


def _tabulated(data: RunData, fmt: str, claims: bool | None, image_dir: str) -> str:
    style = _style(fmt)
    title = f"gxm run {data.run_id}"
    header = style.bullets(tables.header_lines(data)) if fmt != "txt" else None
    parts = [style.heading(title, 1), header or "\n".join(tables.header_lines(data))]
    parts += _crash_sections(data, fmt) + _test_sections(data, fmt) + _pause_sections(data, fmt)
    if claims is not False:
        text = claims_text(data.run_dir, fmt, required=bool(claims))
        if text:
            parts += [style.heading("Claims", 2), text.rstrip("\n")]
    parts += _plot_section(data, style, image_dir) + _cells_section(data, fmt)
    return style.document(title, "\n\n".join(parts)) + "\n"


def render_data(
    data: RunData, fmt: str, *, claims: bool | None = False, image_dir: str = PLOTS_DIR
) -> str:
    """The report of a loaded run in `fmt` (one of FORMATS), ending with a newline, secrets masked.

    `claims`: False leaves claims out, True requires them, None adds them when the claims module
    exists. `image_dir` is where md/html look for the plots, relative to the report's location.
    """
    if fmt == "json":
        document: dict[str, object] = data.to_json()
        if claims is not False:
            text = claims_text(data.run_dir, fmt, required=bool(claims))
            if text is not None:
                document["claims"] = _json_or_text(text)
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    elif fmt == "benchstat":
        text = formats.benchstat(data)
    elif fmt == "junit":
        text = formats.junit(data)
    elif fmt in STYLES:
        text = _tabulated(data, fmt, claims, image_dir)
    else:
        raise UsageError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return mask_secrets(text)


def _json_or_text(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def render(run_dir: Path, fmt: str, *, claims: bool | None = False) -> str:
    """The report of the run in `run_dir` in `fmt`: txt (terminal), md (GitHub pipe tables),
    mediawiki, html (a whole page), benchstat (Go benchmark format), junit (XML) or json (the run
    record and every cell document as one JSON object, `RunData.to_json`)."""
    if fmt not in FORMATS:  # before loading: a typo should not cost a read of the whole run
        raise UsageError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return render_data(load_run(run_dir), fmt, claims=claims)


def write_reports(run_dir: Path, *, with_plots: bool = True) -> list[Path]:
    """Write plots/ (first, so md and html can show them) and every file of REPORT_FILES into
    the run directory; return the paths written."""
    data = load_run(run_dir)
    written: list[Path] = []
    if with_plots:
        from harness.report import plots

        written += plots.write_plots(data, data.store.plots_dir)
    for name, fmt in REPORT_FILES.items():
        path = data.store.report_path(name)
        write_text_atomic(path, render_data(data, fmt, claims=None))
        written.append(path)
    return written


def exit_code_for_data(data: RunData) -> int:
    """DESIGN exit codes for a finished run: 3 when it has no cells; 4 when anything hit an
    infra-error, the run failed, or a listed cell has no result (killed; resume it); 1 when some
    verdict is unexpected; else 0."""
    if not data.cells and not data.cell_ids():
        return EXIT_NOTHING_SELECTED
    if data.missing_cells() or data.run.get("status") == "failed":
        return EXIT_INFRA
    if any(result.has_infra_error() for result in data.results):
        return EXIT_INFRA
    return EXIT_UNEXPECTED if tables.unexpected_verdicts(data) else EXIT_OK


def exit_code_for(run_dir: Path) -> int:
    """`exit_code_for_data` of the run in `run_dir`."""
    return exit_code_for_data(load_run(run_dir))
