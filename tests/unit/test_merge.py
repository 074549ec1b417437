"""merge.py: shard run directories combine into one run; incompatible shards are refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.merge import merge_runs
from harness.report.tables import crash_table
from harness.store import load_run

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "runs" / "sample"


def make_shard(root: Path, name: str, cells: list[str], **matrix: str) -> Path:
    """A shard holding `cells` of the sample run (same cell files, its own run.json)."""
    shard = root / name
    (shard / "cells").mkdir(parents=True)
    (shard / "logs").mkdir()
    for cell in cells:
        shutil.copy(SAMPLE / "cells" / f"{cell}.json", shard / "cells")
        if (SAMPLE / "logs" / cell).is_dir():
            shutil.copytree(SAMPLE / "logs" / cell, shard / "logs" / cell)
    run = json.loads((SAMPLE / "run.json").read_text())
    run.update(run_id=name, cells=cells)
    run["matrix"].update(matrix)
    (shard / "run.json").write_text(json.dumps(run))
    return shard


def test_merged_shards_equal_the_whole_run(tmp_path: Path) -> None:
    run = json.loads((SAMPLE / "run.json").read_text())
    cells = run["cells"]
    shards = [
        make_shard(tmp_path / "in", "s1", cells[:2]),
        make_shard(tmp_path / "in", "s2", cells[2:4]),
        make_shard(tmp_path / "in", "s3", cells[4:]),
    ]
    merged = merge_runs(shards, tmp_path / "out")
    merged_run = json.loads((merged / "run.json").read_text())
    assert sorted(merged_run["cells"]) == sorted(cells)
    assert [s["run_id"] for s in merged_run["shards"]] == ["s1", "s2", "s3"]
    for cell in cells:
        assert json.loads((merged / "cells" / f"{cell}.json").read_text()) == json.loads(
            (SAMPLE / "cells" / f"{cell}.json").read_text()
        )
    assert crash_cells(merged) == crash_cells(SAMPLE)


def crash_cells(run_dir: Path) -> dict[tuple[str, str], str]:
    """The crash table as {(fixture, cell id): text}, independent of column order."""
    data = load_run(run_dir)
    _, rows = crash_table(data, multiline_headers=False)
    cells = data.cell_ids()
    return {(row[0], cells[k]): text for row in rows for k, text in enumerate(row[1:])}


def test_overlapping_shards_are_refused(tmp_path: Path) -> None:
    a = make_shard(tmp_path, "a", ["go1.22-default", "go1.22-arenas"])
    b = make_shard(tmp_path, "b", ["go1.22-arenas"])
    with pytest.raises(UsageError, match="go1.22-arenas is in both a and b"):
        merge_runs([a, b], tmp_path / "out")


def test_shards_of_different_matrices_are_refused(tmp_path: Path) -> None:
    a = make_shard(tmp_path, "a", ["go1.22-default"])
    b = make_shard(tmp_path, "b", ["go1.22-arenas"], sha256="0" * 64)
    with pytest.raises(UsageError, match="only shards of the same matrix"):
        merge_runs([a, b], tmp_path / "out")


def test_a_directory_without_run_json_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a gxm run directory"):
        merge_runs([tmp_path], tmp_path / "out")


def test_a_shard_with_runs_only_in_its_journal_is_refused(tmp_path: Path) -> None:
    """A shard killed between two cell-document writes keeps its last runs in journal.jsonl;
    merging its cell documents alone would lose them, so merge asks for a resume first."""
    from harness.store import RunStore

    a = make_shard(tmp_path, "a", ["go1.22-default"])
    b = make_shard(tmp_path, "b", ["go1.22-arenas"])
    store = RunStore(b)
    cell = store.read_cell("go1.22-arenas")
    assert cell is not None
    name, entry = next(iter(cell.fixtures.items()))
    store.journal().append("go1.22-arenas", name, entry.runs[0])
    with pytest.raises(UsageError, match="b was interrupted .* resume it first"):
        merge_runs([a, b], tmp_path / "out")
