"""The look every gxm figure shares: wiki content width, resolution, font size, colours, and
text placed at fixed positions rather than measured at each draw."""

from __future__ import annotations

from typing import Any

WIDTH_IN = 8.8  # 880 px at DPI: the content width of a GitHub wiki page
DPI = 100
FONT_SIZE = 10
BASELINE_COLOUR = "#9e9e9e"
NO_DATA_COLOUR = "#eeeeee"


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
