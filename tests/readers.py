"""Markdown as GitHub shows it, for tests: cmark-gfm (GitHub's own C renderer, from cmarkgfm on
the package index) with its extensions, parsed by html5lib into an element tree."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import cmarkgfm
import html5lib
from cmarkgfm.cmark import Options

# Elements a rendering of gxm's Markdown may contain. Anything else (a `<run>` taken for a raw
# HTML tag, an `<em>` from a `*` in a regular expression) means text was eaten.
MARKDOWN_ELEMENTS = {
    "html", "head", "body", "h1", "h2", "h3", "h4", "p", "ul", "li", "a", "img", "br", "code",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip


def gfm(markdown: str) -> ET.Element:
    """`markdown` rendered the GitHub way (raw HTML passed through, as GitHub does for the few
    tags it allows, so a stray tag shows up as an element) and parsed into an element tree."""
    rendered = cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
    return html5lib.parse(rendered, namespaceHTMLElements=False)
