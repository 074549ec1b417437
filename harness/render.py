"""The one table renderer and the output formats: what every table of gxm goes through.

A `Style` says how a format differs (tablefmt, headings, escaping, paragraphs, lists, images);
all text goes through `markup.inline`, so each format gets text written for it. Tables are built
as plain strings first and tabulate is called with `disable_numparse=True`, so a Go version such
as `1.20` is never rendered as `1.2`.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import tabulate as tabulate_module
from tabulate import Line, TableFormat, tabulate

from harness.errors import UsageError
from harness.markup import TABLE_FORMATS, inline


def _underlined(title: str, level: int) -> str:
    """Terminal headings: `=` under the title, `-` under sections, a colon below that."""
    title = inline(title, "txt")
    if level >= 3:
        return f"{title}:"
    return f"{title}\n{('=' if level == 1 else '-') * len(title)}"


def _html_list(lines: Sequence[str]) -> str:
    return bullets_of_markup([inline(line, "html") for line in lines], "html")


def bullets_of_markup(items: Sequence[str], fmt: str) -> str:
    """A list whose items are already written for `fmt` (by `markup.inline` / `markup.link`)."""
    if fmt == "html":
        return "<ul>\n" + "\n".join(f"<li>{item}</li>" for item in items) + "\n</ul>"
    marker = {"md": "- ", "mediawiki": "* "}.get(fmt, "")
    return "\n".join(marker + item for item in items)


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
code {{ font-family: monospace, monospace; font-size: 0.95em; }}
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
    multiline_tablefmt: str | TableFormat  # tablefmt when cells have several lines
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
        "grid",  # rows ruled apart
    ),
    "md": Style(
        "pipe",
        False,
        lambda t, n: f"{'#' * n} {inline(t, 'md')}",
        lambda text: inline(text, "md", cell=True),
        lambda text: inline(text, "md"),
        lambda lines: "\n".join(f"- {inline(line, 'md')}" for line in lines),
        _md_image,
        "pipe",
    ),
    "mediawiki": Style(
        _MEDIAWIKI_TABLE,
        False,
        lambda t, n: f"{'=' * n} {inline(t, 'mediawiki')} {'=' * n}",
        lambda text: inline(text, "mediawiki", cell=True),
        lambda text: inline(text, "mediawiki"),
        lambda lines: "\n".join(f"* {inline(line, 'mediawiki')}" for line in lines),
        lambda alt, src: inline(f"{alt}: {src}", "mediawiki"),
        _MEDIAWIKI_TABLE,
    ),
    "html": Style(
        "unsafehtml",  # cells arrive escaped by `inline`, with <code> for code spans
        False,
        lambda t, n: f"<h{min(n, 6)}>{inline(t, 'html')}</h{min(n, 6)}>",
        lambda text: inline(text, "html", cell=True),
        lambda text: f"<p>{inline(text, 'html')}</p>",
        _html_list,
        _html_image,
        "unsafehtml",
        lambda title, body: (
            _HTML_HEAD.format(title=html.escape(title)) + body + "\n</body>\n</html>"
        ),
    ),
}

Cell = object  # a table cell: its text (str() of it), or a list/tuple of its lines


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    fmt: str,
    colalign: Sequence[str] | None = None,
) -> str:
    """The one table renderer: every table of every tabulate format goes through here (report,
    claims, compare, trend, `gxm list`, `gxm doctor`). Cells stay text (`1.20` is not a number)
    and are written for `fmt` by `markup.inline`. A cell given as a list of lines keeps them
    apart (`<br>`, or lines on the terminal, where such a table is ruled between rows) and keeps
    their indentation (the claims' evidence)."""
    style = style_of(fmt)
    multiline = any(isinstance(value, (list, tuple)) for row in rows for value in row)
    return tabulate(
        [[_cell_text(value, fmt) for value in row] for row in rows],
        headers=[style.cell_escape(h) for h in headers],
        tablefmt=style.multiline_tablefmt if multiline else style.tablefmt,
        disable_numparse=True,
        colalign=colalign,
    )


def _cell_text(value: Cell, fmt: str) -> str:
    escape = STYLES[fmt].cell_escape
    if not isinstance(value, (list, tuple)):
        return escape(str(value))
    lines = [str(line) for line in value]
    if fmt == "txt":
        return "\n".join(escape(line) for line in lines)
    indented = [(len(line) - len(line.lstrip(" ")), line.lstrip(" ")) for line in lines]
    return "<br>".join("&nbsp;" * indent + escape(line) for indent, line in indented)


def style_of(fmt: str) -> Style:
    """The Style of a table format; UsageError naming the formats there are."""
    style = STYLES.get(fmt)
    if style is None:
        raise UsageError(f"no table format {fmt!r}; choose one of {', '.join(TABLE_FORMATS)}")
    return style
