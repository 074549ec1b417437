"""Inline text in each output format: the one place where prose becomes format syntax.

Report text (legends, claim reasons and notes, table cells) is plain text in which a span between
backticks is code: a command, a symbol, a literal sign such as `~`. `inline(text, fmt)` writes the
code spans the way `fmt` shows code and escapes everything else for it, so that no format shows
another one's syntax (Markdown backticks on a wiki) and no reader eats text (`<run>` taken for an
HTML tag, `.*` for emphasis). Formats: txt, md (GitHub-flavoured), mediawiki, html.
"""

from __future__ import annotations

import html
import re

FORMATS = ("txt", "md", "mediawiki", "html", "benchstat", "junit", "json")  # of `gxm report`
TABLE_FORMATS = ("txt", "md", "mediawiki", "html")  # the ones `inline` writes, with tables

CODE_SPAN = re.compile(r"`([^`\n]+)`")
# Markdown: punctuation a GFM renderer may read as syntax inside a line. `_` only at a word's edge
# (GFM never opens emphasis inside a word, and `gc_small_objects` should stay readable), `~` only
# touching text (a lone ` ~ ` cannot open a strikethrough), `<` only where it could open an HTML
# tag or an autolink (`p<0.05` stays), `>` only where it would start a quote, `&` only where it
# would start an entity.
_MD_SPECIAL = re.compile(
    r"[\\`*\[\]|]|(?<!\w)_|_(?!\w)|~(?=\S)|(?<=\S)~|<(?=[A-Za-z/!?])|^>|&(?=#?\w+;)"
)
# MediaWiki: the wikitext pieces that can appear inside a line (links, templates, table pipes,
# bold/italic quotes, signatures); HTML's own specials are escaped first.
_WIKI_SPECIAL = {"|": "&#124;", "[": "&#91;", "]": "&#93;", "{": "&#123;", "}": "&#125;"}
_WIKI_RUNS = re.compile(r"'(?=')|~(?=~~)")


def inline(text: str, fmt: str, *, cell: bool = False) -> str:
    """`text` written for `fmt`: code spans as that format's code, the rest escaped. `cell`:
    the text goes into a table cell (Markdown then escapes `|` inside code spans too)."""
    parts, position = [], 0
    for match in CODE_SPAN.finditer(text):
        parts.append(_plain(text[position : match.start()], fmt))
        parts.append(_code(match.group(1), fmt, cell))
        position = match.end()
    parts.append(_plain(text[position:], fmt))
    return "".join(parts)


def _plain(text: str, fmt: str) -> str:
    if fmt == "md":
        return _MD_SPECIAL.sub(lambda m: "&amp;" if m.group(0) == "&" else "\\" + m.group(0), text)
    if fmt == "mediawiki":
        escaped = html.escape(text, quote=False)
        escaped = "".join(_WIKI_SPECIAL.get(ch, ch) for ch in escaped)
        return _WIKI_RUNS.sub(lambda m: f"&#{ord(m.group(0))};", escaped)
    if fmt == "html":
        return html.escape(text, quote=False)
    return text


def _code(text: str, fmt: str, cell: bool) -> str:
    if fmt == "md":
        return "`" + (text.replace("|", "\\|") if cell else text) + "`"
    if fmt in ("mediawiki", "html"):
        return f"<code>{_plain(text, fmt)}</code>"
    return text


def link(text: str, target: str, fmt: str) -> str:
    """`text` linking to `target` (a path relative to the document) in `fmt`; formats without
    relative links (txt, a wiki page) show the target after the text."""
    if fmt == "md":
        return f"[{inline(text, fmt)}]({target.replace(' ', '%20').replace(')', '%29')})"
    if fmt == "html":
        return f'<a href="{html.escape(target)}">{inline(text, fmt)}</a>'
    if text == target:
        return inline(f"`{target}`", fmt)
    return inline(f"{text} (`{target}`)", fmt)
