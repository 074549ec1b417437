"""Merge: shard run directories (one per CI job) into one run, as if one machine had run them all.

Shards must come from the same matrix file (same sha256) and profile and must not share a cell;
anything else is refused with a message naming the shards involved.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.errors import MatrixError, UsageError
from harness.store import natural_key, new_run_id, write_json_atomic, write_text_atomic


def _load_run_json(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "run.json"
    try:
        run = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{run_dir}: not a gxm run directory (no run.json)") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: unreadable ({exc})") from None
    if not isinstance(run, dict) or run.get("schema") != "gxm.run/1":
        raise UsageError(f"{path}: not a gxm.run/1 record")
    return run


def check_compatible(runs: Sequence[tuple[Path, dict[str, Any]]]) -> None:
    """Refuse shards of different matrices or profiles, and cells present in two shards."""
    first_dir, first = runs[0]
    key = (first["matrix"].get("sha256"), first["matrix"].get("profile"))
    owner: dict[str, Path] = {}
    for run_dir, run in runs:
        other = (run["matrix"].get("sha256"), run["matrix"].get("profile"))
        if other != key:
            raise UsageError(
                f"{run_dir.name} ran matrix {str(other[0])[:12]} profile {other[1]}, but "
                f"{first_dir.name} ran matrix {str(key[0])[:12]} profile {key[1]}: "
                "only shards of the same matrix can be merged"
            )
        for cell_id in run.get("cells", []):
            if cell_id in owner:
                raise UsageError(
                    f"cell {cell_id} is in both {owner[cell_id].name} and {run_dir.name}: "
                    "shards must not overlap"
                )
            owner[cell_id] = run_dir


def cell_order(runs: Sequence[dict[str, Any]]) -> list[str]:
    """All cells in matrix order when the matrix file is still there and unchanged, else sorted."""
    cells = [cell for run in runs for cell in run.get("cells", [])]
    matrix = runs[0]["matrix"]
    try:
        from harness.matrix import load_matrix

        loaded = load_matrix(Path(matrix["path"]), matrix.get("profile"))
    except (MatrixError, UsageError, OSError, KeyError, TypeError):
        return sorted(cells, key=natural_key)
    if loaded.sha256 != matrix.get("sha256"):
        return sorted(cells, key=natural_key)
    order = {plan.cell.id: index for index, plan in enumerate(loaded.cells)}
    return sorted(cells, key=lambda c: (order.get(c, len(order)), natural_key(c)))


def _status(statuses: Sequence[str]) -> str:
    for worst in ("failed", "interrupted", "running"):
        if worst in statuses:
            return worst
    return "complete"


def merged_run_document(run_id: str, runs: Sequence[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    records = [run for _, run in runs]
    started = [r["started"] for r in records if r.get("started")]
    ended = [r["ended"] for r in records if r.get("ended")]
    backends = sorted({str(r.get("backend")) for r in records})
    seeds = {r.get("seed") for r in records}
    return {
        "schema": "gxm.run/1",
        "run_id": run_id,
        "started": min(started) if started else None,
        "ended": max(ended) if len(ended) == len(records) else None,
        "status": _status([str(r.get("status")) for r in records]),
        "host": records[0].get("host"),
        "backend": backends[0] if len(backends) == 1 else "mixed",
        "matrix": records[0]["matrix"],
        "seed": seeds.pop() if len(seeds) == 1 else None,
        "cells": cell_order(records),
        "fixtures": records[0].get("fixtures"),
        "repeats": records[0].get("repeats"),
        "command": ["gxm", "merge", *(str(d) for d, _ in runs)],
        "gxm_version": records[0].get("gxm_version"),
        "shards": [
            {
                "run_id": r.get("run_id"),
                "cells": r.get("cells", []),
                "host": r.get("host"),
                "backend": r.get("backend"),
                "status": r.get("status"),
            }
            for r in records
        ],
    }


def merge_runs(run_dirs: Sequence[Path], results_root: Path) -> Path:
    """Create a new run directory under `results_root` holding every shard's cells and logs."""
    if not run_dirs:
        raise UsageError("merge needs at least one run directory")
    runs = [(Path(d), _load_run_json(Path(d))) for d in run_dirs]
    check_compatible(runs)
    run_id = new_run_id(datetime.now(timezone.utc))
    target = results_root / run_id
    (target / "cells").mkdir(parents=True)
    (target / "logs").mkdir()
    for run_dir, run in runs:
        for cell_id in run.get("cells", []):
            cell_file = run_dir / "cells" / f"{cell_id}.json"
            if cell_file.is_file():
                write_text_atomic(target / "cells" / cell_file.name, cell_file.read_text())
            logs = run_dir / "logs" / cell_id
            if logs.is_dir():
                shutil.copytree(logs, target / "logs" / cell_id)
    write_json_atomic(target / "run.json", merged_run_document(run_id, runs))
    return target
