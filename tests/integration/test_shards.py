"""Shards: three `gxm run --shard i/3` processes, merged, equal one unsharded run."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from gxm_process import gxm

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXTERNAL_SDK = REPO / "tests" / "data" / "external_sdk"
MATRIX = f"""
    schema: 1
    backend: local
    go: ["1.22", "1.26"]
    goexperiment: ["", arenas, cgocheck2]
    fixtures: [cmem_finalizer, panics]
    defaults: {{repeats: 1, duration: 200ms, timeout: 30s}}
    external:
      panics:
        module: {EXTERNAL_SDK}
        packages: ./cmd/panicker
        kind: stress
        expected: {{"*": crash}}
"""


def outcomes(run_dir: Path) -> dict[tuple[str, str], list[tuple[str, str | None]]]:
    found = {}
    for path in sorted((run_dir / "cells").glob("*.json")):
        doc = json.loads(path.read_text())
        for name, entry in doc["fixtures"].items():
            runs = sorted(entry["runs"], key=lambda r: r["i"])
            found[(doc["cell"]["id"], name)] = [(r["outcome"], r["signature"]) for r in runs]
    return found


def crash_section(run_dir: Path, cwd: Path) -> str:
    result = gxm("report", str(run_dir), "--format", "md", cwd=cwd)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    return text[text.index("## Crashes") : text.index("## GC pauses")]


def test_three_shards_merged_equal_the_unsharded_run(tmp_path: Path) -> None:
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(textwrap.dedent(MATRIX))
    common = ["--matrix", str(matrix), "--seed", "42"]
    whole = gxm("run", *common, "--out", str(tmp_path / "whole"), cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr[-3000:]
    shard_dirs = []
    for index in (1, 2, 3):
        out = tmp_path / f"shard{index}"
        shard = gxm("run", *common, "--shard", f"{index}/3", "--out", str(out), cwd=tmp_path)
        assert shard.returncode == 0, shard.stderr[-3000:]
        shard_dirs += [str(p) for p in out.iterdir()]
    merged = gxm("merge", *shard_dirs, "--out", str(tmp_path / "merged"), cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr[-3000:]
    (whole_dir,) = (tmp_path / "whole").iterdir()
    (merged_dir,) = (tmp_path / "merged").iterdir()
    whole_run = json.loads((whole_dir / "run.json").read_text())
    merged_run = json.loads((merged_dir / "run.json").read_text())
    assert merged_run["cells"] == whole_run["cells"]
    assert len(whole_run["cells"]) == 6
    assert outcomes(merged_dir) == outcomes(whole_dir)
    assert crash_section(merged_dir, tmp_path) == crash_section(whole_dir, tmp_path)


def test_overlapping_shards_are_refused_with_a_message(tmp_path: Path) -> None:
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(textwrap.dedent(MATRIX).replace('["1.22", "1.26"]', '["1.22"]'))
    common = ["--matrix", str(matrix), "--cells", "go1.22-default", "--fixtures", "panics"]
    dirs = []
    for name in ("a", "b"):
        result = gxm("run", *common, "--out", str(tmp_path / name), cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
        dirs += [str(p) for p in (tmp_path / name).iterdir()]
    merged = gxm("merge", *dirs, "--out", str(tmp_path / "merged"), cwd=tmp_path)
    assert merged.returncode == 2
    assert "go1.22-default is in both" in merged.stderr
    assert len(merged.stderr.strip().splitlines()) == 1
