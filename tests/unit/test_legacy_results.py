"""A results directory written by an earlier gxm (schema gxm.run/1, gxm.cell/1) stays readable.

tests/data/legacy_results/ holds a real run made before the stored records became dataclasses
(`gxm run --backend local --cells go1.22-default --fixtures cmem_finalizer,gc_small_objects
--repeats 2`). It must keep loading in `gxm report`, `compare`, `trend` and `merge`, and the
records must write it back with the same keys and values.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.store import load_run
from harness.store.records import CellResult, RunDocument

LEGACY = Path(__file__).resolve().parents[1] / "data" / "legacy_results"
RUN_ID = "20261130T042813Z-6bfd"


@pytest.fixture
def results(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    shutil.copytree(LEGACY, root)
    return root


def _body(path: Path) -> dict[str, object]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc.pop("schema")
    return dict(doc)


def test_records_write_the_legacy_documents_back_unchanged() -> None:
    run_dir = LEGACY / RUN_ID
    run = _body(run_dir / "run.json")
    assert RunDocument.from_json(run).to_json() == run
    for path in sorted((run_dir / "cells").glob("*.json")):
        cell = _body(path)
        assert CellResult.from_json(cell).to_json() == cell


def test_legacy_run_loads_as_records() -> None:
    data = load_run(LEGACY / RUN_ID)
    assert data.document.run_id == RUN_ID
    assert data.document.status == "complete"
    (cell,) = data.results
    assert cell.id == "go1.22-default"
    assert set(cell.fixtures) == {"cmem_finalizer", "gc_small_objects"}
    assert all(len(f.runs) >= 2 for f in cell.fixtures.values())


def test_gxm_report_reads_a_legacy_run(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for fmt in ("txt", "md", "json", "junit", "benchstat"):
        code = main(["report", RUN_ID, "--out", str(results), "--format", fmt])
        assert code in (0, 1)
        assert capsys.readouterr().out.strip()
    code = main(["report", RUN_ID, "--out", str(results), "--format", "txt"])
    assert "cmem_finalizer" in capsys.readouterr().out


def test_gxm_compare_and_trend_read_legacy_runs(
    results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", RUN_ID, RUN_ID, "--out", str(results)]) == 0
    assert capsys.readouterr().out.strip()
    plots = results.parent / "trend-plots"
    assert main(["trend", "--out", str(results), "--plots", str(plots)]) == 0
    assert "gc_small_objects" in capsys.readouterr().out


def test_gxm_merge_takes_a_legacy_run(results: Path, tmp_path: Path) -> None:
    merged_root = tmp_path / "merged"
    code = main(["merge", str(results / RUN_ID), "--out", str(merged_root)])
    assert code in (0, 1)
    (merged,) = [p for p in merged_root.iterdir() if p.is_dir()]
    source = results / RUN_ID / "cells" / "go1.22-default.json"
    assert (merged / "cells" / "go1.22-default.json").read_bytes() == source.read_bytes()
    assert json.loads((merged / "run.json").read_text())["cells"] == ["go1.22-default"]
