"""Merge: shard run directories (one per CI job) into one run, as if one machine had run them all.

Shards must come from the same matrix file (same sha256) and profile and must not share a cell;
anything else is refused with a message naming the shards involved.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from harness.errors import MatrixError, UsageError
from harness.store import RunStore, natural_key, new_run_id
from harness.store.records import RunDocument


def check_compatible(runs: Sequence[tuple[Path, RunDocument]]) -> None:
    """Refuse shards of different matrices or profiles, and cells present in two shards."""
    first_dir, first = runs[0]
    key = (first.matrix.sha256, first.matrix.profile)
    owner: dict[str, Path] = {}
    for run_dir, run in runs:
        other = (run.matrix.sha256, run.matrix.profile)
        if other != key:
            raise UsageError(
                f"{run_dir.name} ran matrix {str(other[0])[:12]} profile {other[1]}, but "
                f"{first_dir.name} ran matrix {str(key[0])[:12]} profile {key[1]}: "
                "only shards of the same matrix can be merged"
            )
        for cell_id in run.cells:
            if cell_id in owner:
                raise UsageError(
                    f"cell {cell_id} is in both {owner[cell_id].name} and {run_dir.name}: "
                    "shards must not overlap"
                )
            owner[cell_id] = run_dir


def cell_order(runs: Sequence[RunDocument]) -> list[str]:
    """All cells in matrix order when the matrix file is still there and unchanged, else sorted."""
    cells = [cell for run in runs for cell in run.cells]
    matrix = runs[0].matrix
    try:
        from harness.matrix import load_matrix

        loaded = load_matrix(Path(str(matrix.path)), matrix.profile)
    except (MatrixError, UsageError, OSError, KeyError, TypeError):
        return sorted(cells, key=natural_key)
    if loaded.sha256 != matrix.sha256:
        return sorted(cells, key=natural_key)
    order = {plan.cell.id: index for index, plan in enumerate(loaded.cells)}
    return sorted(cells, key=lambda c: (order.get(c, len(order)), natural_key(c)))


def _status(statuses: Sequence[str]) -> str:
    for worst in ("failed", "interrupted", "running"):
        if worst in statuses:
            return worst
    return "complete"


def merged_run_document(run_id: str, runs: Sequence[tuple[Path, RunDocument]]) -> RunDocument:
    """The record of the merged run: the shards' span, worst status, and one entry per shard."""
    records = [run for _, run in runs]
    started = [r.started for r in records if r.started]
    ended = [r.ended for r in records if r.ended]
    backends = sorted({str(r.backend) for r in records})
    seeds = {r.seed for r in records}
    return RunDocument(
        run_id=run_id,
        started=min(started) if started else None,
        ended=max(ended) if len(ended) == len(records) else None,
        status=_status([r.status for r in records]),
        host=records[0].host,
        backend=backends[0] if len(backends) == 1 else "mixed",
        matrix=records[0].matrix,
        seed=seeds.pop() if len(seeds) == 1 else None,
        cells=tuple(cell_order(records)),
        fixtures=records[0].fixtures,
        repeats=records[0].repeats,
        command=("gxm", "merge", *(str(d) for d, _ in runs)),
        gxm_version=records[0].gxm_version,
        shards=tuple(r.shard_summary() for r in records),
    )


def merge_runs(run_dirs: Sequence[Path], results_root: Path) -> Path:
    """Create a new run directory under `results_root` holding every shard's cells and logs."""
    if not run_dirs:
        raise UsageError("merge needs at least one run directory")
    shards = [RunStore(Path(d)) for d in run_dirs]
    runs = [(shard.run_dir, shard.read_run()) for shard in shards]
    check_compatible(runs)
    for shard in shards:
        if shard.journal().entries():  # runs recorded after its cell documents were last written
            raise UsageError(
                f"{shard.run_dir.name} was interrupted with runs its cell documents do not hold "
                f"yet: resume it first (`gxm run --resume {shard.run_dir}`)"
            )
    run_id = new_run_id(datetime.now(timezone.utc))
    target = RunStore.create(results_root, run_id)
    for shard, (_, run) in zip(shards, runs, strict=True):
        for cell_id in run.cells:
            target.copy_cell_from(shard, cell_id)
    target.write_run(merged_run_document(run_id, runs))
    return results_root / run_id
