"""The crash-rate overview: one picture for the whole run, rows fixtures and columns cells like the
crash table, the failed-run rate as colour and `k/n` with a short signature in each square; and
which fixtures are worth a picture of their own (those whose outcome differs between cells).

The layout is fixed in inches from the number of rows and columns and the longest label (no
constrained layout): drawing one overview costs about as much as one per-fixture heatmap did.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.report import tables
from harness.report.figstyle import (
    FONT_SIZE,
    NO_DATA_COLOUR,
    WIDTH_IN,
    figure,
    pin_labels,
    ticks_as_text,
)
from harness.store import RunData
from harness.store.records import CellResult

_SHORT = {"unsupported": "unsupp.", "build-error": "build\nerror"}
CHAR_IN = 0.075  # width of one character of a 9 pt label, inches
_ROW_IN = 0.36
_COLOUR_BAR_IN = 1.0


def _outcome_kinds(doc: CellResult | None, fixture: str) -> frozenset[str] | None:
    """The outcomes the fixture's runs had in this cell; None where none of them ran."""
    entry = tables.fixture_of(doc, fixture)
    if entry is None:
        return None
    counts = tables.fixture_summary(entry).get("outcomes", {})
    kinds = frozenset(o for o, n in counts.items() if n and o != "unsupported")
    return kinds or None


def outcome_differs(data: RunData, fixture: str) -> bool:
    """True when the fixture's runs did not end the same way in every cell where it ran (one cell
    crashes, another passes; or some runs of a cell fail and all of another's pass)."""
    seen = {_outcome_kinds(data.cell(cid), fixture) for cid in data.cell_ids()}
    seen.discard(None)
    return len(seen) > 1


def square(doc: CellResult | None, fixture: str) -> tuple[float | None, str]:
    """(failed-run rate or None, text) of one square: `2/10\\nSIGSEGV`, `0/3`, `unsupp.`, `n/a`."""
    entry = tables.fixture_of(doc, fixture)
    summary = tables.fixture_summary(entry) if entry else {}
    rate = summary.get("crash_rate")
    if entry is None or not rate or not rate.get("n"):
        word = tables.crash_cell_text(doc, fixture).split(" ")[0]
        return None, _SHORT.get(word, word)
    mark = f" {tables.UNEXPECTED_MARK}" if entry.verdict == "unexpected" else ""
    tag = _failure_tag(summary) if rate["k"] else ""
    return float(rate["rate"]), f"{rate['k']}/{rate['n']}{mark}" + (f"\n{tag}" if tag else "")


def _failure_tag(summary: Mapping[str, Any]) -> str:
    """The most frequent failure: a crash's short signature, else the outcome (`corrupt`)."""
    failures = {o: n for o, n in summary.get("outcomes", {}).items() if n and o != "pass"}
    top = max(failures, key=lambda o: (failures[o], o == "crash"), default="")
    if top != "crash":
        return top
    tag = tables.signature_tag(summary.get("top_signature")) or "crash"
    return tag if len(tag) <= 14 else tag[:13].rstrip() + "…"


def overview_figure(data: RunData) -> Any:
    """Failed runs (crash, corrupt, timeout, oom) of every fixture in every cell of the run."""
    import numpy as np
    from matplotlib import colormaps

    fixtures, cells = tables.fixture_names(data), data.cell_ids()
    col_in = 0.95 if len(cells) <= 8 else 0.6
    left_in = 0.3 + CHAR_IN * max((len(f) for f in fixtures), default=4)
    top_in, bottom_in = 0.95, 0.2
    width_in = max(WIDTH_IN, left_in + col_in * len(cells) + _COLOUR_BAR_IN)
    height_in = max(2.4, top_in + bottom_in + _ROW_IN * len(fixtures))
    fig = figure(height_in, width_in)
    plot_w = width_in - left_in - _COLOUR_BAR_IN
    ax = fig.add_axes((left_in / width_in, bottom_in / height_in, plot_w / width_in,
                       1 - (top_in + bottom_in) / height_in))  # fmt: skip
    values = np.full((len(fixtures), len(cells)), np.nan)
    size = FONT_SIZE - (2 if len(cells) <= 8 else 3)
    for r, fixture in enumerate(fixtures):
        for c, cid in enumerate(cells):
            rate, text = square(data.cell(cid), fixture)
            if rate is not None:
                values[r, c] = rate
            dark = rate is not None and rate > 0.55
            ax.text(c, r, text, ha="center", va="center", fontsize=size,
                    color="white" if dark else "black")  # fmt: skip
    cmap = colormaps["Reds"].with_extremes(bad=NO_DATA_COLOUR)
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0, vmax=1, aspect="auto")
    ax.xaxis.tick_top()
    ax.set_xticks(range(len(cells)), [tables.cell_header(c, True) for c in cells])
    ax.set_yticks(range(len(fixtures)), fixtures)
    ticks_as_text(ax, "x", marks=False, fontsize=size + 1)
    ticks_as_text(ax, "y", marks=False, fontsize=FONT_SIZE - 1)
    ax.set_title("failed runs (crash, corrupt, timeout, oom) per fixture and cell", y=1.0, pad=32)
    pin_labels(ax, ylabel_in=0.0)  # no axis labels: only so that nothing is measured to place them
    bar_ax = fig.add_axes(((width_in - _COLOUR_BAR_IN + 0.15) / width_in,
                           bottom_in / height_in, 0.15 / width_in,
                           1 - (top_in + bottom_in) / height_in))  # fmt: skip
    bar = fig.colorbar(image, cax=bar_ax)
    bar.set_label("crash rate")
    pin_labels(bar.ax, ylabel_in=0.5)
    bar.ax.yaxis.set_major_formatter(lambda x, _pos: f"{x * 100:.0f}%")
    ticks_as_text(bar.ax, "y")
    return fig
