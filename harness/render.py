"""The one table renderer and the output formats: what every table of gxm goes through.

A `Style` says how a format differs (tablefmt, headings, escaping, paragraphs, lists, images).
Tables are built as plain strings first and tabulate is called with `disable_numparse=True`, so
a Go version such as `1.20` is never rendered as `1.2`.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tabulate import tabulate

from harness.errors import UsageError

FORMATS = ("txt", "md", "mediawiki", "html", "benchstat", "junit", "json")
TABLE_FORMATS = ("txt", "md", "mediawiki", "html")


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
    preformatted_tablefmt: str  # tablefmt for cells that carry their own markup and line breaks
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
        "grid",
    ),
    "md": Style(
        "pipe",
        False,
        lambda t, n: f"{'#' * n} {t}",
        lambda text: text.replace("|", "\\|"),
        lambda text: text,
        lambda lines: "\n".join(f"- {line}" for line in lines),
        lambda alt, src: f"![{alt}]({src})",
        "pipe",
    ),
    "mediawiki": Style(
        "mediawiki",
        False,
        lambda t, n: f"{'=' * n} {t} {'=' * n}",
        lambda text: text.replace("|", "&#124;"),
        lambda text: text,
        lambda lines: "\n".join(f"* {line}" for line in lines),
        lambda alt, src: f"{alt}: {src}",
        "mediawiki",
    ),
    "html": Style(
        "html",  # tabulate escapes cell text itself in this format
        False,
        lambda t, n: f"<h{min(n, 6)}>{html.escape(t)}</h{min(n, 6)}>",
        lambda text: text,
        lambda text: f"<p>{html.escape(text)}</p>",
        _html_list,
        _html_image,
        "unsafehtml",
        lambda title, body: (
            _HTML_HEAD.format(title=html.escape(title)) + body + "\n</body>\n</html>"
        ),
    ),
}


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    fmt: str,
    colalign: Sequence[str] | None = None,
    *,
    preformatted: bool = False,
) -> str:
    """The one table renderer: every table of every tabulate format goes through here (report,
    claims, compare, trend, `gxm list`, `gxm doctor`). Cells stay text (`1.20` is not a number)
    and are escaped for `fmt`. `preformatted` cells already hold `fmt` markup and several lines
    (`<br>`, escapes: the claims table); they pass through as they are, and txt draws a grid so
    rows stay apart."""
    style = style_of(fmt)
    escape = (lambda text: text) if preformatted else style.cell_escape
    return tabulate(
        [[escape(str(v)) for v in row] for row in rows],
        headers=[escape(h) for h in headers],
        tablefmt=style.preformatted_tablefmt if preformatted else style.tablefmt,
        disable_numparse=True,
        colalign=colalign,
    )


def style_of(fmt: str) -> Style:
    """The Style of a table format; UsageError naming the formats there are."""
    style = STYLES.get(fmt)
    if style is None:
        raise UsageError(f"no table format {fmt!r}; choose one of {', '.join(TABLE_FORMATS)}")
    return style
