"""Tests for harness.plots: heatmap and pause figures from the sample run, PNG files, captions."""

from __future__ import annotations

import dataclasses
import shutil
import struct
from pathlib import Path
from typing import Any

import pytest
from matplotlib.ticker import NullLocator

from harness.report import crashmap, plots
from harness.report.figstyle import TICK_LABEL_GID, figure, ticks_as_text
from harness.store import RunStore, load_run

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "runs" / "sample"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tick_labels(ax: Any, which: str) -> list[str]:
    """The tick labels of `ax`'s x or y axis: texts drawn by `figstyle.ticks_as_text`."""
    return [t.get_text() for t in ax.texts if t.get_gid() == TICK_LABEL_GID + which]


def other_texts(ax: Any) -> list[str]:
    """The texts of `ax` that are not tick labels."""
    return [t.get_text() for t in ax.texts if not (t.get_gid() or "").startswith(TICK_LABEL_GID)]


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the IHDR chunk of a PNG file."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_MAGIC
    return struct.unpack(">II", head[16:24])


def test_grid_has_go_versions_as_columns_and_default_first() -> None:
    grid = plots.Grid.of(load_run(SAMPLE))
    assert grid.go_versions == ("1.22", "1.26")
    assert grid.experiments == ("default", "arenas", "greenteagc")


def test_heatmap_is_labelled_and_annotated_per_cell() -> None:
    fig = plots.heatmap_figure(load_run(SAMPLE), "cmem_finalizer")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Go version" and ax.get_ylabel() == "GOEXPERIMENT"
    assert tick_labels(ax, "x") == ["go1.22", "go1.26"]
    assert tick_labels(ax, "y") == ["default", "arenas", "greenteagc"]
    assert len(ax.get_xticks()) == len(ax.get_yticks()) == 0  # no matplotlib ticks made
    texts = set(other_texts(ax))
    assert "1/3 !\nSIGSEGV" in texts  # the crash in go1.22-arenas, unexpected
    assert "0/3" in texts and "unsupported" in texts  # greenteagc did not build on 1.22
    assert "not run" in texts  # no go1.26-greenteagc cell in this run
    assert fig.axes[1].get_ylabel() == "crash rate"  # the colour bar
    assert tick_labels(fig.axes[1], "y") == ["0%", "20%", "40%", "60%", "80%", "100%"]


def test_pause_figure_has_a_row_per_metric_and_the_cells_by_go_version() -> None:
    fig = plots.pause_figure(load_run(SAMPLE), "gc_small_objects")
    rows = ["p50 pause per run", "p99 pause per run", "max pause per run"]
    assert [ax.get_ylabel() for ax in fig.axes] == rows
    top, bottom = fig.axes[0], fig.axes[-1]
    assert other_texts(top) == ["go1.22", "go1.26"]  # a group per Go version
    labels = tick_labels(bottom, "x")
    assert labels == ["default", "arenas", "greenteagc"] * 2  # baseline first in each group
    assert top.get_yscale() == "log"
    boxes = top.collections[0]  # a box per cell with runs: greenteagc has none on either Go
    assert len(boxes.get_paths()) == 4
    points = top.collections[-1]  # every passing run: 3 a cell, but one crash in go1.22-arenas
    assert len(points.get_offsets()) == 11
    assert plots.pause_figure(load_run(SAMPLE), "cmem_finalizer") is not None
    assert plots.pause_figure(load_run(SAMPLE), "no_such_fixture") is None


def test_write_plots_makes_wiki_width_pngs_deterministically(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(SAMPLE, run_dir)
    data = load_run(run_dir)
    written = plots.write_plots(data, run_dir / "plots")
    assert [p.name for p in written] == [
        "overview-crash-rate.png",
        "crash-rate-cmem_finalizer.png",
        "crash-rate-gc_small_objects.png",
        "pauses-gc_small_objects.png",
    ]
    for path in written:
        width, height = png_size(path)
        assert width == 880 and 200 <= height <= 1200
    figure = plots.heatmap_figure(data, "cmem_finalizer")
    again = plots.save_png(figure, tmp_path / "again.png", plots.inputs_digest(data))
    assert again.read_bytes() == written[1].read_bytes()  # same data, same bytes
    assert not list((run_dir / "plots").glob(".*"))  # no temp files left


def test_existing_plots_order_and_captions(tmp_path: Path) -> None:
    for name in ("pauses-a.png", "crash-rate-mysdk__w.png", "trend-x.png", "notes.txt"):
        (tmp_path / name).write_bytes(PNG_MAGIC)
    (tmp_path / "overview-crash-rate.png").write_bytes(PNG_MAGIC)
    found = plots.existing_plots(tmp_path)
    assert [(p.name, caption) for p, caption in found] == [
        ("overview-crash-rate.png", "Failed-run rate of every fixture in every cell"),
        ("crash-rate-mysdk__w.png", "Crash rate of mysdk/w by Go version and GOEXPERIMENT"),
        ("pauses-a.png", "GC pauses of a per cell, baseline beside"),
        ("trend-x.png", "trend x"),
    ]
    assert plots.existing_plots(tmp_path / "missing") == []


def test_trend_figure_marks_steps() -> None:
    series = plots.TrendSeries(
        "go1.22-default", [1.0, 1.0, 1.3, None], [(0.9, 1.1)] * 4, [(2, "+30%")]
    )
    fig = plots.trend_figure("t", ["r1", "r2", "r3", "r4"], [series], "wall_ns", str)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "run (oldest first)" and ax.get_ylabel() == "wall_ns"
    assert any(t.get_text() == "step +30%" for t in ax.texts)


@pytest.mark.parametrize(
    ("name", "stem"), [("gc_small", "gc_small"), ("sdk/worker", "sdk__worker")]
)
def test_file_stem(name: str, stem: str) -> None:
    assert plots.file_stem(name) == stem


def test_overview_has_a_square_per_fixture_and_cell() -> None:
    data = load_run(SAMPLE)
    ax = crashmap.overview_figure(data).axes[0]
    assert tick_labels(ax, "y") == ["cmem_finalizer", "gc_small_objects"]
    assert tick_labels(ax, "x")[:2] == ["go1.22\ndefault", "go1.22\narenas"]
    texts = other_texts(ax)
    assert len(texts) == 2 * len(data.cell_ids())
    assert "1/3 !\nSIGSEGV" in texts  # crash: its signature's tag
    assert "1/3 !\ntimeout" in texts  # other failures: the outcome
    assert texts.count("unsupp.") == 2 and texts.count("0/3") == 6


def test_heatmaps_only_for_fixtures_whose_outcome_differs(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(SAMPLE, run_dir)
    data = load_run(run_dir)
    plots.write_plots(data, run_dir / "plots")
    assert crashmap.outcome_differs(data, "cmem_finalizer")
    entry = data.cell("go1.22-arenas").fixtures["cmem_finalizer"]  # type: ignore[union-attr]
    entry.summary["outcomes"] = {"pass": 3}  # type: ignore[index]  # now it passes wherever it ran
    assert not crashmap.outcome_differs(data, "cmem_finalizer")
    written = {p.name for p in plots.write_plots(data, run_dir / "plots")}
    assert "crash-rate-cmem_finalizer.png" not in written
    assert not (run_dir / "plots" / "crash-rate-cmem_finalizer.png").exists()  # stale one gone
    assert {p.name for p in (run_dir / "plots").glob("*.png")} == written


def test_plots_drawn_from_the_same_inputs_are_kept_not_drawn_again(tmp_path: Path) -> None:
    """Drawing was most of a report write; a rewrite of an unchanged run draws nothing."""
    run_dir = tmp_path / "run"
    shutil.copytree(SAMPLE, run_dir)
    first = plots.write_plots(load_run(run_dir), run_dir / "plots")
    inodes = {p.name: p.stat().st_ino for p in first}  # an atomic rewrite is a new inode
    digest = plots.inputs_digest(load_run(run_dir))
    assert {plots.png_text(p, plots.INPUTS_KEY) for p in first} == {digest}
    again = plots.write_plots(load_run(run_dir), run_dir / "plots")
    assert again == first and {p.name: p.stat().st_ino for p in again} == inodes
    data = load_run(run_dir)  # one more run in one cell: everything is drawn again
    cell = data.cell("go1.26-default")
    assert cell is not None
    entry = cell.fixtures["gc_small_objects"]
    runs = [*entry.runs, dataclasses.replace(entry.runs[0], i=len(entry.runs))]
    fixtures = {**cell.fixtures, "gc_small_objects": dataclasses.replace(entry, runs=runs)}
    RunStore(run_dir).write_cell(dataclasses.replace(cell, fixtures=fixtures))
    redrawn = plots.write_plots(load_run(run_dir), run_dir / "plots")
    assert [p.name for p in redrawn] == list(inodes)
    assert all(p.stat().st_ino != inodes[p.name] for p in redrawn)
    assert plots.png_text(redrawn[0], plots.INPUTS_KEY) != digest


def test_png_text_reads_only_a_png_s_own_text_chunks(tmp_path: Path) -> None:
    assert plots.png_text(tmp_path / "missing.png", plots.INPUTS_KEY) is None
    (tmp_path / "not.png").write_bytes(b"GIF89a")
    assert plots.png_text(tmp_path / "not.png", plots.INPUTS_KEY) is None
    figure = crashmap.overview_figure(load_run(SAMPLE))
    path = plots.save_png(figure, tmp_path / "x.png", "abc123")
    assert plots.png_text(path, plots.INPUTS_KEY) == "abc123"
    assert plots.png_text(plots.save_png(figure, tmp_path / "y.png"), plots.INPUTS_KEY) is None


@pytest.mark.parametrize(("scale", "far"), [("linear", False), ("log", False), ("log", True)])
def test_ticks_as_text_draws_the_pixels_the_ticks_drew(scale: str, far: bool) -> None:
    """Tick labels, marks and grid lines drawn as plain texts and lines give the same image as
    matplotlib's own ticks, on either side of the Axes."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    def pixels(as_text: bool) -> Any:
        fig = figure(2.4)
        ax = fig.add_axes((0.2, 0.2, 0.6, 0.6))
        ax.plot([1.0, 3.0, 7.0], [2e4, 3e5, 4e6], marker="o")
        ax.set_yscale(scale)
        ax.yaxis.set_major_formatter(lambda y, _pos: f"{y / 1000:.0f}k")
        if far:
            ax.xaxis.tick_top()
            ax.yaxis.tick_right()
        if as_text:
            ticks_as_text(ax, "x", rotation=30, ha="right")
            ticks_as_text(ax, "y", grid=True)
        else:
            ax.tick_params(axis="x", labelrotation=30)
            for label in ax.get_xticklabels():
                label.set_ha("right")
            ax.yaxis.set_minor_locator(NullLocator())
            ax.grid(axis="y", alpha=0.3)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        return np.asarray(canvas.buffer_rgba()).copy()

    drawn, ticked = pixels(True), pixels(False)
    assert drawn.shape == ticked.shape
    assert (drawn != ticked).any(axis=-1).sum() == 0


def test_the_inputs_of_a_plot_include_the_matplotlib_version() -> None:
    """A plot drawn by another matplotlib is drawn again: its version is among the inputs, read
    without importing importlib.metadata."""
    import importlib.metadata

    version = importlib.metadata.version("matplotlib")
    assert version.encode() in plots._matplotlib_version()


def test_plots_are_saved_with_text_unhinted_and_the_settings_left_as_they_were(
    tmp_path: Path,
) -> None:
    """Text without hinting was a fifth of a plot's drawing time; the caller's matplotlib
    settings are the same afterwards."""
    import io

    from matplotlib import rc_context, rcParams

    def unhinted_png(fig: Any) -> bytes:
        buffer = io.BytesIO()
        with rc_context({"text.hinting": "no_hinting"}):
            fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None},
                        pil_kwargs=plots.PNG_OPTIONS)  # fmt: skip
        return buffer.getvalue()

    hinting = rcParams["text.hinting"]
    assert hinting != "no_hinting"
    fig = crashmap.overview_figure(load_run(SAMPLE))
    saved = plots.save_png(fig, tmp_path / "overview.png").read_bytes()
    assert rcParams["text.hinting"] == hinting
    assert saved == unhinted_png(fig)
