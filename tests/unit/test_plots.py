"""Tests for harness.plots: heatmap and pause figures from the sample run, PNG files, captions."""

from __future__ import annotations

import dataclasses
import shutil
import struct
from pathlib import Path

import pytest

from harness.report import crashmap, plots
from harness.store import RunStore, load_run

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "runs" / "sample"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


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
    assert [t.get_text() for t in ax.get_xticklabels()] == ["go1.22", "go1.26"]
    texts = {t.get_text() for t in ax.texts}
    assert "1/3 !\nSIGSEGV" in texts  # the crash in go1.22-arenas, unexpected
    assert "0/3" in texts and "unsupported" in texts  # greenteagc did not build on 1.22
    assert "not run" in texts  # no go1.26-greenteagc cell in this run
    assert fig.axes[1].get_ylabel() == "crash rate"  # the colour bar


def test_pause_figure_has_a_row_per_metric_and_the_cells_by_go_version() -> None:
    fig = plots.pause_figure(load_run(SAMPLE), "gc_small_objects")
    rows = ["p50 pause per run", "p99 pause per run", "max pause per run"]
    assert [ax.get_ylabel() for ax in fig.axes] == rows
    top, bottom = fig.axes[0], fig.axes[-1]
    assert [t.get_text() for t in top.texts] == ["go1.22", "go1.26"]  # a group per Go version
    labels = [t.get_text() for t in bottom.get_xticklabels()]
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
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cmem_finalizer", "gc_small_objects"]
    assert [t.get_text() for t in ax.get_xticklabels()][:2] == [
        "go1.22\ndefault",
        "go1.22\narenas",
    ]
    texts = [t.get_text() for t in ax.texts]
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


def test_the_inputs_of_a_plot_include_the_matplotlib_version() -> None:
    """A plot drawn by another matplotlib is drawn again: its version is among the inputs, read
    without importing importlib.metadata."""
    import importlib.metadata

    version = importlib.metadata.version("matplotlib")
    assert version.encode() in plots._matplotlib_version()
