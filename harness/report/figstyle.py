"""The look every gxm figure shares: wiki content width, resolution, font size, colours, and
text placed at fixed positions rather than measured at each draw."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

WIDTH_IN = 8.8  # 880 px at DPI: the content width of a GitHub wiki page
DPI = 100
FONT_SIZE = 10
BASELINE_COLOUR = "#9e9e9e"
NO_DATA_COLOUR = "#eeeeee"
TICK_LABEL_GID = "tick-label-"  # + "x" or "y": the gid of the texts `ticks_as_text` draws


def figure(height_in: float, width_in: float = WIDTH_IN, *, constrained: bool = False) -> Any:
    """A matplotlib Figure (no pyplot: no global figure state) at gxm's resolution, `width_in`
    wide (the wiki's content width unless a figure needs more); `constrained` layout only where
    a figure's layout is not fixed in inches (it costs most of a figure's drawing time)."""
    from matplotlib.figure import Figure

    return Figure(
        figsize=(width_in, height_in), dpi=DPI, layout="constrained" if constrained else None
    )


def pin_labels(ax: Any, ylabel_in: float, xlabel_in: float = 0.45) -> None:
    """Put the axis labels of `ax` at fixed distances in inches outside its edges (the y label
    left of the Axes, or right of it for a right-hand axis such as a colour bar's; the x label
    below). Left to itself, matplotlib measures every tick label at each draw to place them; with
    the titles placed the same way (`set_title(…, y=1.0)`) that was a third of a figure's drawing
    time. The distances come from the widest tick label a figure can have."""
    from matplotlib.transforms import offset_copy

    fig = ax.get_figure()
    right = ax.yaxis.get_label_position() == "right"
    away = offset_copy(ax.transAxes, fig, x=ylabel_in if right else -ylabel_in, units="inches")
    ax.yaxis.set_label_coords(1.0 if right else 0.0, 0.5, transform=away)
    below = offset_copy(ax.transAxes, fig, y=-xlabel_in, units="inches")
    ax.xaxis.set_label_coords(0.5, 0.0, transform=below)


def ticks_as_text(ax: Any, which: str, *, grid: bool = False, marks: bool = True,
                  **text_style: Any) -> None:  # fmt: skip
    """Draw the major tick labels of `ax`'s `which` axis ("x" or "y") as plain texts where the
    ticks put them (its locator and formatter decide the places and the words, as before), with
    the tick marks as one line of markers and, with `grid`, the grid lines as one more; then take
    the ticks away. matplotlib makes an object of five artists per tick and measures every tick
    label at each draw: that was a third of a figure's drawing time. Call it once the limits of
    `ax` are final. The texts carry the gid `TICK_LABEL_GID + which` and `text_style` (such as
    fontsize, rotation, ha)."""
    from matplotlib import markers, rcParams

    params = cast(Mapping[str, Any], rcParams)  # its keys are typed as literals; these are made
    from matplotlib.ticker import NullLocator
    from matplotlib.transforms import offset_copy

    axis = ax.xaxis if which == "x" else ax.yaxis
    low, high = sorted(axis.get_view_interval())
    ax.set_autoscale_on(False)  # the limits stay: the lines added below are not data
    slack = (high - low) * 1e-9
    locs = list(axis.get_major_locator()())
    formatter = axis.get_major_formatter()
    formatter.set_locs(locs)
    shown = [(i, v) for i, v in enumerate(locs) if low - slack <= v <= high + slack]
    side = axis.get_ticks_position()
    far = side in ("top", "right")  # the ticks sit on the top or right edge of the Axes
    edge = 1.0 if far else 0.0
    if which == "x":
        place = ax.get_xaxis_transform()  # x in data, y in Axes fractions
        style: dict[str, Any] = {"ha": "center", "va": "bottom" if far else "top"}
        points = ([v for _, v in shown], [edge] * len(shown))
        mark = markers.TICKUP if far else markers.TICKDOWN
    else:
        place = ax.get_yaxis_transform()  # x in Axes fractions, y in data
        style = {"ha": "left" if far else "right", "va": "center_baseline"}
        points = ([edge] * len(shown), [v for _, v in shown])
        mark = markers.TICKRIGHT if far else markers.TICKLEFT
    # where matplotlib puts a label: the tick's length (when it has a mark) and its pad away
    gap = params[f"{which}tick.major.pad"] + (params[f"{which}tick.major.size"] if marks else 0)
    shift = {"y" if which == "x" else "x": gap if far else -gap}
    away = offset_copy(place, ax.get_figure(), **shift, units="points")
    style |= {"fontsize": params[f"{which}tick.labelsize"], "gid": TICK_LABEL_GID + which}
    for i, v in shown:
        xy = (v, edge) if which == "x" else (edge, v)
        ax.text(*xy, formatter(v, i), transform=away, **(style | text_style))
    if marks and shown:
        tick = {"markersize": "major.size", "markeredgewidth": "major.width", "color": "color"}
        ax.plot(*points, linestyle="none", marker=mark, transform=place, clip_on=False,
                **{key: params[f"{which}tick.{name}"] for key, name in tick.items()})  # fmt: skip
    if grid and shown:
        nan = float("nan")
        across = [c for _, v in shown for c in (v, v, nan)]
        ends = [c for _ in shown for c in (0.0, 1.0, nan)]
        line = (across, ends) if which == "x" else (ends, across)
        ax.plot(*line, color=params["grid.color"], linewidth=params["grid.linewidth"],
                alpha=0.3, transform=place, zorder=1.5)  # fmt: skip
    axis.set_major_locator(NullLocator())
    axis.set_minor_locator(NullLocator())
