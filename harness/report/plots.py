"""Plots (matplotlib, PNG): the crash-rate overview of a run (crashmap.py), a heatmap per fixture
(Go version × experiment) for fixtures whose outcome differs between cells, GC pause
distributions per cell with the baseline beside it, and metric trends across runs.

Figures are made with `matplotlib.figure.Figure` directly (no pyplot: no global figure state) at
880 px wide, the content width of a GitHub wiki page, and saved without a timestamp, so the same
data gives the same bytes (republishing a run changes nothing).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
import json
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import harness
from harness import stats
from harness.atomic import write_bytes_atomic, write_text_atomic
from harness.model import go_version_key
from harness.report import crashmap, drawing, pauseplot, pauses, tables
from harness.report.figstyle import (
    DPI,
    FONT_SIZE,
    NO_DATA_COLOUR,
    WIDTH_IN,
    figure,
    pin_labels,
    ticks_as_text,
)
from harness.store import RunData
from harness.store.records import CellResult

if TYPE_CHECKING:
    from harness.report import history

HEATMAP_PREFIX = "crash-rate-"
OVERVIEW_NAME = "overview-crash-rate.png"  # crashmap.py draws it
PAUSES_PREFIX = "pauses-"
INPUTS_KEY = "gxm-inputs"  # PNG text chunk: the `inputs_digest` a plot was drawn from
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PNG_OPTIONS = {"compress_level": 1}
# Rough drawing seconds of a plot, to share plots out among workers: an overview grows with its
# squares (each a text to render); a heatmap or pause plot costs about the same as the other.
OVERVIEW_COST_S = 0.1
SQUARE_COST_S = 0.003
PLOT_COST_S = 0.2


def file_stem(name: str) -> str:
    """A fixture or metric name as a file name part (`mysdk/worker` → `mysdk__worker`)."""
    return name.replace("/", "__")


def save_png(fig: Any, path: Path, inputs: str | None = None) -> Path:
    """Render `fig` to `path` atomically (temp file + rename), without a timestamp; `inputs`
    (see `inputs_digest`) is kept in the PNG as a `gxm-inputs` text chunk."""
    from matplotlib import rc_context

    buffer = io.BytesIO()
    metadata = {"Software": None} | ({INPUTS_KEY: inputs} if inputs else {})
    # zlib level 1: a sixth less time per plot than the default 6, files about a tenth larger.
    # Text without hinting (glyph outlines as a PDF has them, not fitted to the pixel grid): as
    # readable at gxm's sizes, and a fifth less time for a plot, which is mostly text.
    with rc_context({"text.hinting": "no_hinting"}):
        fig.savefig(buffer, format="png", dpi=DPI, metadata=metadata, pil_kwargs=PNG_OPTIONS)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, buffer.getvalue())
    return path


def png_text(path: Path, key: str) -> str | None:
    """The value of the `key` text chunk of the PNG at `path`; None when there is no such file,
    chunk or PNG. Reads only the chunks before the image data."""
    try:
        with path.open("rb") as png:
            if png.read(8) != PNG_MAGIC:
                return None
            while len(head := png.read(8)) == 8:
                length, kind = struct.unpack(">I4s", head)
                if kind == b"IDAT":
                    return None
                body = png.read(length + 4)[:length]  # and the CRC
                name, _, value = body.partition(b"\0")
                if kind == b"tEXt" and name == key.encode("latin-1"):
                    return value.decode("latin-1")
    except OSError:
        return None
    return None


def inputs_digest(data: RunData) -> str:
    """A hash of everything a run's plots are drawn from: the run's records, gxm's own code and
    the matplotlib version. A PNG carrying it (`save_png`) is what drawing again would give."""
    records = [data.document.to_json(), *(cell.to_json() for cell in data.results)]
    digest = hashlib.sha256(json.dumps(records, sort_keys=True).encode())
    for source in sorted(Path(harness.__file__).parent.rglob("*.py")):
        digest.update(source.read_bytes())
    digest.update(_matplotlib_version())
    return digest.hexdigest()[:32]


def _matplotlib_version() -> bytes:
    """matplotlib's `_version.py` (which holds its version), found without importing it or
    `importlib.metadata` (which imports the `email` package: a tenth of gxm's start-up);
    empty where matplotlib is not there or has no such file."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        return b""
    try:
        return (Path(spec.origin).parent / "_version.py").read_bytes()
    except OSError:
        return b""


# --- grid of cells ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    """The Go versions (columns) and experiments (rows, `default` first) of a run's cells."""

    go_versions: tuple[str, ...]
    experiments: tuple[str, ...]

    @classmethod
    def of(cls, data: RunData) -> Grid:
        ids = data.cell_ids()
        gos = sorted({i.split("-", 1)[0].removeprefix("go") for i in ids}, key=_version_key)
        exps: list[str] = []
        for exp in ["default"] + [tables.experiment_of(i) for i in ids]:
            if exp not in exps:
                exps.append(exp)
        present = {tables.experiment_of(i) for i in ids}
        return cls(tuple(gos), tuple(e for e in exps if e in present))

    @staticmethod
    def cell_id(go: str, experiment: str) -> str:
        return f"go{go}-{experiment}"


def _version_key(version: str) -> tuple[int, int, int]:
    try:
        return go_version_key(version)
    except ValueError:
        return (99, 0, 0)


# --- crash-rate heatmap -------------------------------------------------------------------------


def _heat_value(doc: CellResult | None, fixture: str) -> tuple[float | None, str]:
    """(crash rate or None, annotation) of one cell of the heatmap."""
    text = tables.crash_cell_text(doc, fixture)
    entry = tables.fixture_of(doc, fixture)
    summary = tables.fixture_summary(entry) if entry else {}
    rate = summary.get("crash_rate")
    if not rate or not rate.get("n"):
        return None, text.split(" ")[0] if text not in ("not run", "no runs") else text
    mark = f" {tables.UNEXPECTED_MARK}" if text.endswith(tables.UNEXPECTED_MARK) else ""
    tag = tables.signature_tag(summary.get("top_signature"))
    label = f"{rate['k']}/{rate['n']}{mark}" + (f"\n{tag}" if tag and rate["k"] else "")
    return float(rate["rate"]), label


def heatmap_figure(data: RunData, fixture: str) -> Any:
    """Crash rate of `fixture` per cell: columns Go versions, rows experiments, `k/n` in each.
    The layout is fixed in inches from the grid (no constrained layout: it cost most of the
    drawing time)."""
    import numpy as np
    from matplotlib import colormaps

    grid = Grid.of(data)
    rows, bar_in = len(grid.experiments), 1.0
    left_in = 0.75 + crashmap.CHAR_IN * max(len(e) for e in grid.experiments)
    top_in, bottom_in = 0.5, 0.75
    height_in = 1.6 + 0.6 * rows
    fig = figure(height_in)
    box = (left_in / WIDTH_IN, bottom_in / height_in, (WIDTH_IN - left_in - bar_in) / WIDTH_IN,
           1 - (top_in + bottom_in) / height_in)  # fmt: skip
    ax = fig.add_axes(box)
    values = np.full((rows, len(grid.go_versions)), np.nan)
    for r, exp in enumerate(grid.experiments):
        for c, go in enumerate(grid.go_versions):
            rate, label = _heat_value(data.cell(Grid.cell_id(go, exp)), fixture)
            if rate is not None:
                values[r, c] = rate
            dark = rate is not None and rate > 0.55
            ax.text(c, r, label, ha="center", va="center", fontsize=FONT_SIZE - 1,
                    color="white" if dark else "black")  # fmt: skip
    cmap = colormaps["Reds"].with_extremes(bad=NO_DATA_COLOUR)
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(grid.go_versions)), [f"go{g}" for g in grid.go_versions])
    ax.set_yticks(range(rows), list(grid.experiments))
    ax.set_xlabel("Go version")
    ax.set_ylabel("GOEXPERIMENT")
    pin_labels(ax, ylabel_in=left_in - 0.45, xlabel_in=0.3)
    ax.set_title(f"{fixture}: failed runs (crash, corrupt, timeout, oom) per cell", y=1.0)
    bar_box = ((WIDTH_IN - bar_in + 0.15) / WIDTH_IN, box[1], 0.15 / WIDTH_IN, box[3])
    bar = fig.colorbar(image, cax=fig.add_axes(bar_box))
    bar.set_label("crash rate")
    pin_labels(bar.ax, ylabel_in=0.5)
    bar.ax.yaxis.set_major_formatter(lambda x, _pos: f"{x * 100:.0f}%")
    for axes, which in ((ax, "x"), (ax, "y"), (bar.ax, "y")):
        ticks_as_text(axes, which)
    return fig


# --- pause distributions ------------------------------------------------------------------------


def pause_figure(data: RunData, fixture: str) -> Any | None:
    """Per-run GC pauses of `fixture` in every cell of the run (`pauseplot.pause_figure`): a row
    per pause metric, the cells along x by Go version, baseline first. None when no run has
    pause metrics."""
    grid = Grid.of(data)
    return pauseplot.pause_figure(data, fixture, grid.go_versions, grid.experiments)


# --- trends -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendSeries:
    """One line of a trend plot: a cell's median (and 95% interval) per run, None where absent."""

    label: str
    medians: Sequence[float | None]
    intervals: Sequence[tuple[float, float] | None]
    steps: Sequence[tuple[int, str]] = ()  # (run index, "+25%") of flagged step changes


def trend_figure(
    title: str,
    run_labels: Sequence[str],
    series: Sequence[TrendSeries],
    y_label: str,
    y_format: Callable[[float], str],
) -> Any:
    """Medians with 95% intervals across runs, one line per cell; flagged steps marked."""
    fig = figure(4.2, constrained=True)
    ax = fig.add_subplot()
    for line in series:
        points = [(i, m) for i, m in enumerate(line.medians) if m is not None]
        xs, ys = [i for i, _ in points], [m for _, m in points]
        bounds = [line.intervals[i] or (y, y) for i, y in points]
        lows = [max(0.0, y - lo) for y, (lo, _) in zip(ys, bounds, strict=True)]
        highs = [max(0.0, hi - y) for y, (_, hi) in zip(ys, bounds, strict=True)]
        drawn = ax.errorbar(xs, ys, yerr=[lows, highs], marker="o", capsize=3, label=line.label)
        for index, text in line.steps:
            ax.axvline(index - 0.5, color=drawn[0].get_color(), linestyle="--", alpha=0.7)
            ax.annotate(f"step {text}", (index - 0.45, line.medians[index] or 0),
                        fontsize=FONT_SIZE - 1, color=drawn[0].get_color())  # fmt: skip
    ax.set_xticks(range(len(run_labels)), list(run_labels), rotation=30, ha="right")
    ax.yaxis.set_major_formatter(lambda y, _pos: y_format(y))
    ax.set_xlabel("run (oldest first)")
    ax.set_ylabel(y_label)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    if series:
        ax.legend(fontsize=FONT_SIZE - 1, loc="best")
    return fig


def trend_digest(trend: history.Trend) -> str:
    """A hash of everything a trend plot is drawn from."""
    cells = [[c.cell, [list(s) for s in c.samples]] for c in trend.cells]
    payload = [trend.fixture, trend.metric, list(trend.run_ids), cells]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:16]


def write_trend_plots(
    found: Sequence[history.Trend], out_dir: Path, *, reuse: bool = False
) -> dict[tuple[str, str], Path]:
    """A PNG per trend under `out_dir`: `trend-<fixture>-<metric>.png`. With `reuse`, a plot whose
    inputs are unchanged (per `out_dir/index.json`) is not drawn again: drawing is the slow part
    of publishing, and the same inputs give the same bytes anyway."""
    index_path = out_dir / "index.json"
    index = json.loads(index_path.read_text()) if reuse and index_path.is_file() else {}
    written, new_index = {}, {}
    labels = [run_id.split("-")[0] for run_id in (found[0].run_ids if found else ())]
    for trend in found:
        path = out_dir / f"trend-{file_stem(trend.fixture)}-{trend.metric}.png"
        new_index[path.name] = trend_digest(trend)
        written[(trend.fixture, trend.metric)] = path
        if reuse and index.get(path.name) == new_index[path.name] and path.is_file():
            continue
        save_png(_trend_figure(trend, labels), path)
    if reuse:
        write_text_atomic(index_path, json.dumps(new_index, indent=1, sort_keys=True) + "\n")
    return written


def _trend_figure(trend: history.Trend, labels: Sequence[str]) -> Any:
    series = [
        TrendSeries(
            cell.cell,
            [stats.median(s) if s else None for s in cell.samples],
            [stats.median_ci95(s) if s else None for s in cell.samples],
            [(s.index, s.change.delta_text) for s in cell.steps],
        )
        for cell in trend.cells
    ]
    return trend_figure(
        f"{trend.fixture}: {trend.metric} per run (median, 95% interval)",
        labels,
        series,
        trend.metric,
        lambda y: pauses.format_metric(trend.metric, y),
    )


# --- files --------------------------------------------------------------------------------------


def planned_plots(data: RunData, out_dir: Path) -> list[drawing.PlotJob]:
    """The plots of a run, overview first: the crash-rate overview of the whole run, a heatmap
    for each fixture whose outcome differs between cells, and pause plots for every bench
    fixture with pause metrics (found without importing matplotlib)."""
    grid = Grid.of(data)
    fixtures = tables.fixture_names(data)
    cost = OVERVIEW_COST_S + SQUARE_COST_S * len(fixtures) * len(data.cell_ids())
    jobs = [drawing.PlotJob(out_dir / OVERVIEW_NAME, lambda: crashmap.overview_figure(data), cost)]
    for fixture in fixtures:
        if crashmap.outcome_differs(data, fixture):
            path = out_dir / f"{HEATMAP_PREFIX}{file_stem(fixture)}.png"
            draw = functools.partial(heatmap_figure, data, fixture)
            jobs.append(drawing.PlotJob(path, draw, PLOT_COST_S))
    for fixture in tables.fixture_names(data, kind="bench"):
        if pauseplot.pause_rows(data, fixture, grid.go_versions, grid.experiments):
            path = out_dir / f"{PAUSES_PREFIX}{file_stem(fixture)}.png"
            draw = functools.partial(pause_figure, data, fixture)
            jobs.append(drawing.PlotJob(path, draw, PLOT_COST_S))
    return jobs


def start_plots(data: RunData, out_dir: Path) -> tuple[list[Path], drawing.Drawing]:
    """Start writing the plots of `planned_plots` under `out_dir` (see `drawing`; call `finish`
    on what this returns) and return their paths, overview first. Heatmaps or pause plots of an
    earlier write that this one does not make are removed now.

    A PNG already there that was drawn from the same inputs (its `gxm-inputs` chunk equals
    `inputs_digest`) is kept, not drawn again: drawing was most of the cost of writing the
    reports, and the same inputs give the same bytes anyway. (A matplotlib style set outside
    gxm, such as a matplotlibrc, is not among the inputs: remove plots/ to redraw with it.)
    """
    inputs = inputs_digest(data)
    planned = planned_plots(data, out_dir)
    paths = [job.path for job in planned]
    for stale in out_dir.glob("*.png"):
        if stale.name.startswith((HEATMAP_PREFIX, PAUSES_PREFIX)) and stale not in paths:
            stale.unlink()

    def current(job: drawing.PlotJob) -> bool:
        return png_text(job.path, INPUTS_KEY) == inputs

    def save(fig: Any, path: Path) -> None:
        save_png(fig, path, inputs)

    drawn = [job for job in planned if not current(job)]
    if drawn:
        # numpy before the workers are forked, so that it is imported once: matplotlib needs it
        # there, and the report rendered here meanwhile needs it for the pooled pause figures.
        import numpy  # noqa: F401
    return paths, drawing.start(drawn, save, current)


def write_plots(data: RunData, out_dir: Path) -> list[Path]:
    """Write the plots of `start_plots` and return their paths, overview first."""
    paths, pending = start_plots(data, out_dir)
    with pending:
        pending.finish()
    return paths


def existing_plots(plot_dir: Path, also: Sequence[Path] = ()) -> list[tuple[Path, str]]:
    """The PNGs in `plot_dir`, and `also` (plots being drawn), with a caption each: the
    overview, heatmaps, pauses, the rest."""
    paths = set(also) | (set(plot_dir.glob("*.png")) if plot_dir.is_dir() else set())
    found = []
    for path in paths:
        stem = path.stem
        if path.name == OVERVIEW_NAME:
            found.append((0, stem, path, "Failed-run rate of every fixture in every cell"))
        elif stem.startswith(HEATMAP_PREFIX):
            name = stem.removeprefix(HEATMAP_PREFIX).replace("__", "/")
            found.append((1, stem, path, f"Crash rate of {name} by Go version and GOEXPERIMENT"))
        elif stem.startswith(PAUSES_PREFIX):
            name = stem.removeprefix(PAUSES_PREFIX).replace("__", "/")
            found.append((2, stem, path, f"GC pauses of {name} per cell, baseline beside"))
        else:
            found.append((3, stem, path, stem.replace("-", " ")))
    return [(path, caption) for _, _, path, caption in sorted(found)]
