"""Report rendering: every format of `gxm report`, and the files written beside a finished run.

The report document in each format is `document.py`: tables built as plain strings (`tables.py`,
`pauses.py`, `gotests.py`) and drawn by the one table renderer (`harness.render`); benchstat and
JUnit live in `formats.py`, plots in `plots.py`, compare and trend in `history.py`, wiki pages in
`publish.py`. Everything rendered passes through `masking.mask_secrets`.

This module writes a run's report files (`PendingReports`) and says what a run's exit code is. It
imports neither the claims nor the table renderer, so that the plots of `gxm report --write`
start drawing before those are imported.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness import store
from harness.atomic import write_text_atomic
from harness.errors import EXIT_INFRA, EXIT_NOTHING_SELECTED, EXIT_OK, EXIT_UNEXPECTED
from harness.model import Outcome
from harness.report import tables
from harness.report.drawing import Drawing
from harness.report.drawing import Preload as Preload  # matplotlib imported during a run
from harness.store import RunData, load_run

PLOTS_DIR = store.PLOTS_DIR
# What `write_reports` leaves in a run directory, and in which format.
REPORT_FILES = {
    "report.txt": "txt",
    "report.md": "md",
    "report.html": "html",
    "bench.txt": "benchstat",
    "junit.xml": "junit",
}


def image_base(run_dir: Path, output: Path | None, assets_url: str | None) -> str:
    """Where a report links the run's plots from: `assets_url` when given (the plots are
    published there), else the run's plots/ relative to the folder of `output` (the current
    directory when the report goes to stdout), so the links work wherever the file is read."""
    if assets_url:
        return assets_url
    where = (output.parent if output is not None else Path.cwd()).resolve()
    return Path(os.path.relpath((Path(run_dir) / PLOTS_DIR).resolve(), where)).as_posix()


class PendingReports:
    """The report files of a loaded run being made: the plots are drawn (from creation on) while
    the texts are rendered; `finish` writes them all (the reports, which show the plots, once the
    plots are there) and returns the paths written. Meanwhile the caller may render more of the
    same run (`plot_files`: the plots being drawn). Nothing is made when not `write`. As a
    context, anything still drawing is stopped on the way out."""

    def __init__(self, data: RunData, *, write: bool = True, with_plots: bool = True) -> None:
        self.data, self.write = data, write
        self.plot_files: list[Path] = []
        self.texts: dict[str, str] = {}
        self._drawing = Drawing.nothing()
        if write and with_plots:
            from harness.report import plots

            self.plot_files, self._drawing = plots.start_plots(data, data.store.plots_dir)

    def __enter__(self) -> PendingReports:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._drawing.cancel()

    def finish(self) -> list[Path]:
        if not self.write:
            return []
        from harness.claims import judge_run
        from harness.report.document import render_data

        data = self.data
        verdicts = judge_run(data.run_dir, data)  # once for every format
        self.texts = {
            name: render_data(data, fmt, claims=True, verdicts=verdicts, plot_files=self.plot_files)
            for name, fmt in REPORT_FILES.items()
        }
        self._drawing.finish()
        written = list(self.plot_files)
        for name, text in self.texts.items():
            path = data.store.report_path(name)
            write_text_atomic(path, text)
            written.append(path)
        return written


def write_reports(run_dir: Path, *, with_plots: bool = True) -> list[Path]:
    """Write plots/ and every file of REPORT_FILES into the run directory; return the paths
    written (see `PendingReports`)."""
    with PendingReports(load_run(run_dir), with_plots=with_plots) as pending:
        return pending.finish()


def exit_code_for_data(data: RunData) -> int:
    """The exit code for a finished run: 3 when it has no cells; 4 when anything hit an
    infra-error, the run failed, or a listed cell has no result (killed; resume it); 1 when some
    verdict is unexpected; else 0."""
    if not data.results and not data.cell_ids():
        return EXIT_NOTHING_SELECTED
    if data.missing_cells() or data.document.status == "failed":
        return EXIT_INFRA
    if any(result.has_infra_error() for result in data.results):
        return EXIT_INFRA
    return EXIT_UNEXPECTED if tables.unexpected_verdicts(data) else EXIT_OK


def infra_summary(data: RunData) -> str | None:
    """One line for a run that hit infrastructure errors: how many, what went away (the first
    error's own words) and the command that resumes it; None when there were none."""
    problems: list[str] = []
    for cell in data.results:
        if cell.build.status == Outcome.INFRA_ERROR.value:
            problems.append(f"{cell.id} build: {cell.build.detail or '?'}")
        for name, entry in cell.fixtures.items():
            for run in entry.runs:
                if run.is_infra_error:
                    problems.append(f"{cell.id} {name}: {run.detail or '?'}")
    missing = data.missing_cells()
    if not problems and not missing:
        return None
    parts = [f"{len(problems)} infrastructure errors"] if problems else []
    if missing:
        parts.append(f"{len(missing)} cells without a result")
    first = f" (first: {problems[0]})" if problems else ""
    resume = f"gxm run --resume {data.run_dir.name} --out {data.run_dir.parent}"
    return (
        f"{' and '.join(parts)}{first}; nothing was blamed on a fixture; "
        f"when the engine or host is back, resume with `{resume}`"
    )


def exit_code_for(run_dir: Path) -> int:
    """`exit_code_for_data` of the run in `run_dir`."""
    return exit_code_for_data(load_run(run_dir))
