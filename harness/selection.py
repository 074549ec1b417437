"""Choosing cells and describing them to CI.

`Selection` is what the command line (or a resumed run's record) asks for; `selected_plans` turns
it into the `CellPlan`s of a matrix.

`select_cells` serves `--cells` (canonical ids, nox ids, or shell globs of either);
`github_matrix` and `github_shard_matrix` serve `list --github-matrix`, producing a GitHub Actions
`strategy.matrix` for `fromJSON`. Items are `Cell`s or anything with a `.cell` (e.g. `CellPlan`).
"""

from __future__ import annotations

import argparse
import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.errors import NothingSelectedError, UsageError
from harness.matrix import Matrix
from harness.model import Cell, CellPlan
from harness.plan import parse_shard, shard_plans
from harness.store.records import RunDocument
from harness.yamlsrc import suggest

__all__ = [
    "GITHUB_MATRIX_LIMIT", "Selection", "github_matrix", "github_shard_matrix", "select_cells",
    "selected_plans",
]  # fmt: skip

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


def _split(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(part for value in values for part in value.split(",") if part)


@dataclass(frozen=True)
class Selection:
    """What to run: the matrix and profile, and the filters `--cells`, `--fixtures`, `--go`,
    `--goexperiment`, `--godebug`, `--buildmode`, `--cgo`, `--shard`, with the run options
    `--repeats` and `--backend`."""

    matrix: Path | None = None
    profile: str | None = None
    cells: tuple[str, ...] = ()
    fixtures: tuple[str, ...] = ()
    go: tuple[str, ...] = ()
    goexperiment: tuple[str, ...] = ()
    godebug: tuple[str, ...] = ()
    buildmode: tuple[str, ...] = ()
    cgo: tuple[str, ...] = ()
    shard: str | None = None
    repeats: int | None = None
    backend: str | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Selection:
        """The selection parsed command-line options ask for (absent options select everything)."""
        return cls(
            matrix=getattr(args, "matrix", None),
            profile=getattr(args, "profile", None),
            cells=_split(getattr(args, "cell_patterns", [])),
            fixtures=_split(getattr(args, "fixtures", [])),
            go=_split(getattr(args, "go", [])),
            goexperiment=_split(getattr(args, "goexperiment", [])),
            godebug=_split(getattr(args, "godebug", None) or []),
            buildmode=_split(getattr(args, "buildmode", None) or []),
            cgo=_split(getattr(args, "cgo", None) or []),
            shard=getattr(args, "shard", None),
            repeats=getattr(args, "repeats", None),
            backend=getattr(args, "backend", None),
        )

    def resumed(self, run: RunDocument) -> Selection:
        """This selection completed from a run's record: what was not given again is what the
        run was started with (`gxm run --resume RUN`)."""
        return replace(
            self,
            matrix=self.matrix or (Path(run.matrix.path) if run.matrix.path else None),
            profile=self.profile or run.matrix.profile,
            cells=self.cells or run.cells,
            fixtures=self.fixtures or (run.fixtures or ()),
            repeats=self.repeats or run.repeats,
            backend=self.backend or run.backend,
        )


def selected_plans(selection: Selection, matrix: Matrix) -> list[CellPlan]:
    """The cells and fixtures a selection names; exit 3 when nothing is left."""
    plans = list(matrix.cells)
    if selection.cells:
        plans = list(select_cells(plans, selection.cells))
    plans = _filter_axes(selection, plans)
    if selection.fixtures:
        known = {f.name for f in matrix.fixtures}
        unknown = [name for name in selection.fixtures if name not in known]
        if unknown:
            raise UsageError(f"unknown fixture {unknown[0]!r}; known: {', '.join(sorted(known))}")
        wanted = selection.fixtures
        plans = [replace(p, fixtures=tuple(f for f in p.fixtures if f in wanted)) for p in plans]
        plans = [p for p in plans if p.fixtures]
    if not plans:
        raise NothingSelectedError("the selection matched no cell (see `gxm list`)")
    if selection.shard:
        plans = _shard(selection.shard, plans, matrix)
    return plans


def _filter_axes(selection: Selection, plans: list[CellPlan]) -> list[CellPlan]:
    """`--go 1.22,1.26`, `--goexperiment default,arenas`, `--godebug default,clobberfree=1`,
    `--buildmode default,race` and `--cgo off` narrow the selection."""
    versions = {v.removeprefix("go") for v in selection.go}
    if versions:
        plans = [p for p in plans if p.cell.go in versions]
    experiments = {e.replace("+", ",") for e in selection.goexperiment}
    if experiments:
        wanted = {"" if e == "default" else e for e in experiments}
        plans = [p for p in plans if p.cell.goexperiment in wanted]
    # `+` joins the settings of one GODEBUG value (commas separate values), as in cell ids
    for axis in ("godebug", "buildmode", "cgo"):
        values = {v.replace("+", ",") for v in getattr(selection, axis)}
        if values:
            wanted = {"" if v in ("default", "on") else v for v in values}
            plans = [p for p in plans if p.cell.axis(axis) in wanted]
    return plans


def _shard(text: str, plans: list[CellPlan], matrix: Matrix) -> list[CellPlan]:
    try:
        index, count = parse_shard(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    chosen = shard_plans(plans, {f.name: f for f in matrix.fixtures}, index, count)
    if not chosen:
        raise NothingSelectedError(f"shard {text} has no cells ({len(plans)} cells selected)")
    return chosen
