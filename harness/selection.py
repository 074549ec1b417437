"""Choosing cells and describing them to CI.

`select_cells` serves `--cells` (canonical ids, nox ids, or shell globs of either);
`github_matrix` and `github_shard_matrix` serve `list --github-matrix`, producing a GitHub Actions
`strategy.matrix` for `fromJSON`. Items are `Cell`s or anything with a `.cell` (e.g. `CellPlan`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import Any

from harness.errors import NothingSelectedError, UsageError
from harness.model import Cell
from harness.yamlsrc import suggest

__all__ = ["GITHUB_MATRIX_LIMIT", "github_matrix", "github_shard_matrix", "select_cells"]

GITHUB_MATRIX_LIMIT = 256  # GitHub Actions: "a matrix will generate a maximum of 256 jobs"


def _cell_of(item: Any) -> Cell:
    return item if isinstance(item, Cell) else item.cell


def select_cells(cells: Sequence[Any], patterns: Sequence[str]) -> list[Any]:
    """The cells (Cells or CellPlans) matching any pattern, in their original order.

    A pattern is a canonical id (`go1.22-arenas`), a nox id (`go1_22-arenas`, `cell(go1_22-arenas)`)
    or a shell glob of either (`go1.2*-arenas`). No patterns selects everything. A pattern that
    matches nothing raises NothingSelectedError naming it and some valid ids.
    """
    chosen: set[int] = set() if patterns else set(range(len(cells)))
    ids = [_cell_of(item).id for item in cells]
    for pattern in patterns:
        text = pattern.strip()
        if text.startswith("cell(") and text.endswith(")"):
            text = text[len("cell(") : -1]
        hits = {i for i, item in enumerate(cells) if _cell_matches(_cell_of(item), text)}
        if not hits:
            shown = ", ".join(ids[:8]) + (", …" if len(ids) > 8 else "")
            hint = suggest(text, ids)
            raise NothingSelectedError(
                f"no cell matches {pattern!r}{hint}; cells: {shown or 'none'}"
            )
        chosen |= hits
    return [item for i, item in enumerate(cells) if i in chosen]


def _cell_matches(cell: Cell, pattern: str) -> bool:
    return fnmatch.fnmatchcase(cell.id, pattern) or fnmatch.fnmatchcase(cell.nox_id, pattern)


def github_matrix(cells: Sequence[Any]) -> dict[str, list[dict[str, str]]]:
    """A GitHub Actions `strategy.matrix` (for fromJSON): one include entry per cell, <= 256."""
    if not cells:
        raise NothingSelectedError("no cells selected: a GitHub Actions matrix needs at least one")
    if len(cells) > GITHUB_MATRIX_LIMIT:
        raise UsageError(
            f"{len(cells)} cells exceed the {GITHUB_MATRIX_LIMIT} jobs a GitHub Actions matrix "
            "may have: select fewer cells, or run shards (--shard i/n) in each job"
        )
    entries = []
    for item in cells:
        cell = _cell_of(item)
        entries.append(
            {
                "cell": cell.id,
                "nox_id": cell.nox_id,
                "nox_session": f"cell({cell.nox_id})",
                "go": cell.go,
                "goexperiment": cell.goexperiment,
                "godebug": cell.godebug,
                "buildmode": cell.buildmode,
                "cgo": "on" if cell.cgo_enabled else "off",
                "name": cell.id,
                "selection": f"--cells {cell.id}",
            }
        )
    return {"include": entries}


def github_shard_matrix(count: int) -> dict[str, list[dict[str, str]]]:
    """A GitHub Actions `strategy.matrix` with one job per shard (`gxm run --shard i/N`)."""
    if not 1 <= count <= GITHUB_MATRIX_LIMIT:
        raise UsageError(f"--shards takes 1 to {GITHUB_MATRIX_LIMIT}, got {count}")
    return {
        "include": [
            {
                "name": f"shard-{i}-of-{count}",
                "shard": f"{i}/{count}",
                "selection": f"--shard {i}/{count}",
            }
            for i in range(1, count + 1)
        ]
    }
