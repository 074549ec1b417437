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
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import tabulate as tabulate_module
from tabulate import Line, TableFormat, tabulate

from harness import store
from harness.atomic import write_text_atomic
from harness.errors import EXIT_INFRA, EXIT_NOTHING_SELECTED, EXIT_OK, EXIT_UNEXPECTED, UsageError
from harness.masking import mask_secrets
from harness.report import formats, pauses, tables
from harness.report.markup import inline
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
    title = inline(title, "txt")
    if level >= 3:
        return f"{title}:"
    return f"{title}\n{('=' if level == 1 else '-') * len(title)}"


def _html_list(lines: Sequence[str]) -> str:
    items = "\n".join(f"<li>{inline(line, 'html')}</li>" for line in lines)
    return f"<ul>\n{items}\n</ul>"


def _html_image(alt: str, src: str) -> str:
    alt, src = html.escape(alt), html.escape(src)
    return f'<figure><img src="{src}" alt="{alt}"><figcaption>{alt}</figcaption></figure>'


def _md_image(alt: str, src: str) -> str:
    return f"![{inline(alt, 'md')}]({src.replace(' ', '%20').replace(')', '%29')})"


# Tables may use the whole window and their cells wrap only when a table is wider than that (the
# claims' evidence), so no column ends up off-screen; prose keeps a readable line length.
_HTML_HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; }}
p, ul {{ max-width: 72rem; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.2rem 0.5rem; vertical-align: top; }}
td {{ overflow-wrap: break-word; }}
th {{ background: #f3f3f3; }}
code {{ font-family: ui-monospace, monospace; }}
img {{ max-width: 100%; }}
</style>
</head>
<body>
"""

# tabulate's MediaWiki table (its cells and alignment attributes) without the empty
# `|+ <!-- caption -->` line it adds, which a wiki renders as an empty caption. tabulate has no
# public way to change a built-in format, hence its format table.
_TABULATE_FORMATS: dict[str, TableFormat] = tabulate_module._table_formats  # type: ignore[attr-defined]
_MEDIAWIKI_TABLE = _TABULATE_FORMATS["mediawiki"]._replace(
    lineabove=Line('{| class="wikitable" style="text-align: left;"', "", "", "\n|-")
)


@dataclass(frozen=True)
class Style:
    """How one tabulate format differs from the others. Every piece of text passes through
    `markup.inline` for its format: code spans become that format's code, the rest is escaped."""

    tablefmt: str | TableFormat
    multiline_headers: bool
    heading: Callable[[str, int], str]
    cell_escape: Callable[[str], str]  # applied to table cells before tabulate
    paragraph: Callable[[str], str]
    bullets: Callable[[Sequence[str]], str]
    image: Callable[[str, str], str]  # (alt text, path or URL)
    document: Callable[[str, str], str] = lambda title, body: body  # (title, body)


STYLES: dict[str, Style] = {
    "txt": Style(
        "simple",
        True,
        _underlined,
        lambda text: inline(text, "txt"),
        lambda text: inline(text, "txt"),
        lambda lines: "\n".join(inline(line, "txt") for line in lines),
        lambda alt, src: f"{alt}: {src}",
    ),
    "md": Style(
        "pipe",
        False,
        lambda t, n: f"{'#' * n} {inline(t, 'md')}",
        lambda text: inline(text, "md", cell=True),
        lambda text: inline(text, "md"),
        lambda lines: "\n".join(f"- {inline(line, 'md')}" for line in lines),
        _md_image,
    ),
    "mediawiki": Style(
        _MEDIAWIKI_TABLE,
        False,
        lambda t, n: f"{'=' * n} {inline(t, 'mediawiki')} {'=' * n}",
        lambda text: inline(text, "mediawiki", cell=True),
        lambda text: inline(text, "mediawiki"),
        lambda lines: "\n".join(f"* {inline(line, 'mediawiki')}" for line in lines),
        lambda alt, src: inline(f"{alt}: {src}", "mediawiki"),
    ),
    "html": Style(
        "unsafehtml",  # cells arrive escaped by `inline`, with <code> for code spans
        False,
        lambda t, n: f"<h{min(n, 6)}>{inline(t, 'html')}</h{min(n, 6)}>",
        lambda text: inline(text, "html", cell=True),
        lambda text: f"<p>{inline(text, 'html')}</p>",
        _html_list,
        _html_image,
        lambda title, body: (
            _HTML_HEAD.format(title=html.escape(title)) + body + "\n</body>\n</html>"
        ),
    ),
}


Cell = str | Sequence[str]  # a table cell: its text, or its lines


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    fmt: str,
    colalign: Sequence[str] | None = None,
) -> str:
    """The one table renderer: every table of every tabulate format goes through here (claims
    and history tables too). Cells stay text (`1.20` is not a number) and are written for `fmt`
    by `markup.inline`. A cell given as lines keeps them apart (`<br>`, or lines on the terminal,
    where such a table is ruled between rows) and keeps their indentation."""
    style = _style(fmt)
    multiline = any(not isinstance(value, str) for row in rows for value in row)
    return tabulate(
        [[_cell_text(value, fmt) for value in row] for row in rows],
        headers=[style.cell_escape(h) for h in headers],
        tablefmt="grid" if multiline and fmt == "txt" else style.tablefmt,
        disable_numparse=True,
        colalign=colalign,
    )


def _cell_text(value: Cell, fmt: str) -> str:
    escape = STYLES[fmt].cell_escape
    if isinstance(value, str):
        return escape(value)
    if fmt == "txt":
        return "\n".join(escape(line) for line in value)
    lines = [(len(line) - len(line.lstrip(" ")), line.lstrip(" ")) for line in value]
    return "<br>".join("&nbsp;" * indent + escape(line) for indent, line in lines)


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
    return parts


def _plot_section(data: RunData, style: Style, image_dir: str) -> list[str]:
    from harness.report import plots

    found = plots.existing_plots(data.store.plots_dir)
    if not found:
        return []
    base = image_dir.rstrip("/")
    images = [style.image(caption, f"{base}/{path.name}") for path, caption in found]
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
    parts += _crash_sections(data, fmt) + _pause_sections(data, fmt)
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
    exists. `image_dir` is where the plots are linked from: a path relative to where the report
    is read (see `image_base`), or a URL.
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


def render(
    run_dir: Path, fmt: str, *, claims: bool | None = False, image_dir: str = PLOTS_DIR
) -> str:
    """The report of the run in `run_dir` in `fmt`: txt (terminal), md (GitHub pipe tables),
    mediawiki, html (a whole page), benchstat (Go benchmark format), junit (XML) or json (the run
    record and every cell document as one JSON object, `RunData.to_json`); plots linked under
    `image_dir` (see `render_data`)."""
    if fmt not in FORMATS:  # before loading: a typo should not cost a read of the whole run
        raise UsageError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return render_data(load_run(run_dir), fmt, claims=claims, image_dir=image_dir)


def image_base(run_dir: Path, output: Path | None, assets_url: str | None) -> str:
    """Where a report links the run's plots from: `assets_url` when given (the plots are
    published there), else the run's plots/ relative to the folder of `output` (the current
    directory when the report goes to stdout), so the links work wherever the file is read."""
    if assets_url:
        return assets_url
    where = (output.parent if output is not None else Path.cwd()).resolve()
    return Path(os.path.relpath((Path(run_dir) / PLOTS_DIR).resolve(), where)).as_posix()


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
