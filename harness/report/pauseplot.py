"""The GC pause picture of one bench fixture: a row per pause metric (p50, p99, max of each run),
every cell of the run along x grouped by Go version with the baseline (default experiment, grey)
first in each group, and per cell a box (quartiles, whiskers at 1.5 IQR) behind the runs' points.

It is the figure a run draws most of (one per bench fixture), so it is drawn cheaply: one Axes per
metric row rather than one per Go version too, each kind of mark (boxes, whiskers and medians,
points) as one collection rather than a `boxplot` per cell, and every text at a fixed place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness import stats
from harness.report import pauses, tables
from harness.report.figstyle import BASELINE_COLOUR, WIDTH_IN, figure, pin_labels, ticks_as_text
from harness.store import RunData

PAUSE_METRICS = (
    ("gc_pause_p50_ns", "p50 pause per run"),
    ("gc_pause_p99_ns", "p99 pause per run"),
    ("gc_pause_max_ns", "max pause per run"),
)
_BOX_WIDTH = 0.6
_GROUP_GAP = 0.8  # empty x between two Go versions' cells


@dataclass(frozen=True)
class Slot:
    """Where one cell sits on the x axis; `hue` picks its colour (None: the baseline's grey)."""

    x: float
    go: str
    experiment: str
    hue: int | None


def slots(go_versions: Sequence[str], experiments: Sequence[str]) -> list[Slot]:
    """The cells along x: Go versions left to right, each with its experiments in order."""
    placed = []
    for g, go in enumerate(go_versions):
        for e, exp in enumerate(experiments):
            x = g * (len(experiments) + _GROUP_GAP) + e
            placed.append(Slot(x, go, exp, None if exp == "default" else e % 10))
    return placed


def _samples(data: RunData, fixture: str, slot: Slot, metric: str) -> list[float]:
    entry = tables.fixture_of(data.cell(f"go{slot.go}-{slot.experiment}"), fixture)
    return stats.metric_samples(entry.runs, metric) if entry else []


def _draw_row(ax: Any, placed: Sequence[tuple[Slot, list[float]]]) -> None:
    """Boxes, whiskers, medians and points of one metric, one collection each."""
    from matplotlib import colormaps
    from matplotlib.cbook import boxplot_stats
    from matplotlib.collections import LineCollection, PatchCollection
    from matplotlib.patches import Rectangle

    palette = colormaps["tab10"]
    half, cap = _BOX_WIDTH / 2, _BOX_WIDTH / 4
    boxes, colours, lines = [], [], []
    xs: list[float] = []
    ys: list[float] = []
    dots: list[Any] = []
    for slot, values in placed:
        if not values:
            continue
        box = boxplot_stats(values)[0]
        x, q1, q3 = slot.x, box["q1"], box["q3"]
        colour = BASELINE_COLOUR if slot.hue is None else palette(slot.hue)
        boxes.append(Rectangle((x - half, q1), _BOX_WIDTH, q3 - q1))
        colours.append(colour)
        low, high, med = box["whislo"], box["whishi"], box["med"]
        lines += [[(x, low), (x, q1)], [(x, q3), (x, high)], [(x - half, med), (x + half, med)],
                  [(x - cap, low), (x + cap, low)], [(x - cap, high), (x + cap, high)]]  # fmt: skip
        xs += [x + 0.18 * ((i % 5) - 2) / 2 for i in range(len(values))]
        ys += values
        dots += [colour] * len(values)
    if boxes:
        ax.add_collection(
            PatchCollection(boxes, facecolors=colours, edgecolors=colours, alpha=0.45)
        )
        ax.add_collection(LineCollection(lines, colors="black", linewidths=1.0))
        ax.scatter(xs, ys, s=14, c=dots, edgecolor="black", linewidth=0.4, zorder=3)


def _log_ns_axis(ax: Any) -> None:
    """A log y axis labelled at 1-2-5 steps as durations (`200µs`, `1.00ms`)."""
    from matplotlib.ticker import LogLocator, NullLocator

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(lambda y, _pos: pauses.format_ns(y))
    # Unlabelled minor ticks made up most of the time a pause plot took to draw.
    ax.yaxis.set_minor_locator(NullLocator())


PauseRow = tuple[str, list[tuple[Slot, list[float]]]]  # label, per-run samples of each cell


def pause_rows(data: RunData, fixture: str, go_versions: Sequence[str],
               experiments: Sequence[str]) -> list[PauseRow]:  # fmt: skip
    """The rows of a pause plot: (label, per-run samples of each cell) of every pause metric
    some run of `fixture` has; empty when none has any."""
    placed = slots(go_versions, experiments)
    rows = [
        (label, [(slot, _samples(data, fixture, slot, metric)) for slot in placed])
        for metric, label in PAUSE_METRICS
    ]
    return [(label, row) for label, row in rows if any(values for _, values in row)]


def pause_figure(data: RunData, fixture: str, go_versions: Sequence[str],
                 experiments: Sequence[str]) -> Any | None:  # fmt: skip
    """Per-run GC pauses of `fixture` in every cell (`go_versions` × `experiments`); None when
    no run has pause metrics (found without importing matplotlib)."""
    placed = slots(go_versions, experiments)
    rows = pause_rows(data, fixture, go_versions, experiments)
    if not rows:
        return None
    from matplotlib.ticker import NullLocator

    height_in = 1.6 + 2.2 * len(rows)
    fig = figure(height_in)
    margins = {"left": 0.95 / WIDTH_IN, "right": 1 - 0.15 / WIDTH_IN, "top": 1 - 0.75 / height_in,
               "bottom": 1.1 / height_in, "hspace": 0.45}  # fmt: skip
    # Not sharex: shared axes share their tick locator, and the ticks of the rows above the
    # bottom one (made, then hidden) were a fifth of the drawing time. The same limits instead.
    axes = fig.subplots(len(rows), 1, squeeze=False, gridspec_kw=margins)[:, 0]
    for ax, (label, row) in zip(axes, rows, strict=True):
        _draw_row(ax, row)
        _log_ns_axis(ax)
        ax.set_xlim(placed[0].x - 0.6, placed[-1].x + 0.6)
        ax.xaxis.set_major_locator(NullLocator())
        ax.set_ylabel(label)
        pin_labels(ax, ylabel_in=0.62)
        for g in range(1, len(go_versions)):
            ax.axvline(g * (len(experiments) + _GROUP_GAP) - (1 + _GROUP_GAP) / 2, color="0.75")
    bottom = axes[-1]
    bottom.set_xticks([s.x for s in placed], [s.experiment for s in placed])
    for ax in axes:
        ticks_as_text(ax, "y", grid=True)
    ticks_as_text(bottom, "x", rotation=30, ha="right")
    top = axes[0]
    for g, go in enumerate(go_versions):
        centre = g * (len(experiments) + _GROUP_GAP) + (len(experiments) - 1) / 2
        top.text(centre, 1.02, f"go{go}", transform=top.get_xaxis_transform(), ha="center",
                 va="bottom", fontsize="large")  # fmt: skip
    fig.suptitle(f"{fixture}: GC pauses per run by cell (grey = baseline, default experiment)")
    fig.supxlabel("GOEXPERIMENT, by Go version")
    return fig
