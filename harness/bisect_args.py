"""`gxm bisect` arguments → a `BisectRequest`: the fixture, the cell, the releases, what is bad.

Every mistake is a one-line UsageError (exit 2) before anything is built or downloaded (except the
package index answer that lists the releases).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from harness import toolchains
from harness.bisect import Criterion, Policy
from harness.bisect_run import BisectRequest
from harness.errors import UsageError
from harness.fixtures import load_fixtures
from harness.matrix import Matrix, default_fixtures_path
from harness.model import Cell, Fixture, Outcome, Settings, go_version_key
from harness.pipeline import RunRequest
from harness.report.formats import BETTER
from harness.selection import select_cells

OUTCOMES = tuple(o.value for o in Outcome if o.value != "pass") + ("fail",)


def releases_between(first: str, last: str, cache: Path, *, offline_ok: bool = True) -> list[str]:
    """Every Go release the index has a wheel for from `first` to `last` (both included, exact
    versions or `1.22` for a line's newest patch), in that order: descending when `first` is the
    newer one. UsageError when an end has no wheel, so the user sees what there is."""
    ends = [toolchains.resolve_go_version(v, cache, offline_ok=offline_ok) for v in (first, last)]
    known = toolchains.known_wheels(cache)
    wheels = toolchains.index_wheel_versions(cache, offline_ok=offline_ok)
    found = {go for go in (toolchains.wheel_go_version(w, known) for w in wheels) if go is not None}
    releases = sorted(found, key=go_version_key)
    for end in ends:
        if end not in found:
            nearby = ", ".join(releases[-12:])
            raise UsageError(f"{toolchains.PACKAGE} has no wheel for go{end} (it has … {nearby})")
    low, high = sorted(ends, key=go_version_key)
    span = [v for v in releases if go_version_key(low) <= go_version_key(v) <= go_version_key(high)]
    return span if ends[0] == low else span[::-1]


def bisect_fixture(matrix: Matrix, name: str) -> Fixture:
    """A fixture of the matrix (its externals included), else of go_fixtures/fixtures.yaml."""
    known = dict(load_fixtures(default_fixtures_path())) | matrix.fixtures_by_name
    if name not in known:
        raise UsageError(f"unknown fixture {name!r}; known: {', '.join(sorted(known))}")
    return known[name]


def bisect_cell(args: argparse.Namespace, matrix: Matrix) -> tuple[Cell, Settings]:
    """The cell whose Go version the bisect varies, and the settings of its runs."""
    if args.cell:
        pattern = args.cell.removeprefix("cell(").removesuffix(")")
        plans = list(select_cells(list(matrix.cells), [pattern]))
        if len(plans) != 1:
            raise UsageError(
                f"--cell {args.cell!r} names {len(plans)} cells of the matrix; name one"
            )
        return plans[0].cell, plans[0].settings
    experiment = "" if args.goexperiment == "default" else args.goexperiment.replace("+", ",")
    same = [p for p in matrix.cells if p.cell.goexperiment == experiment and not p.cell.axes]
    settings = (same or list(matrix.cells))[0].settings
    return Cell(go=args.bad, goexperiment=experiment), settings


def bisect_criterion(args: argparse.Namespace) -> Criterion | None:
    """--metric, or --outcome/--signature, or None (the bad release's dominant failure)."""
    if args.metric and (args.outcome or args.signature):
        raise UsageError("--metric bisects a metric; leave out --outcome and --signature")
    if args.metric:
        if not 0 < args.threshold < 100:
            raise UsageError(f"--threshold is a percentage between 0 and 100, got {args.threshold}")
        return Criterion(
            metric=args.metric,
            threshold=args.threshold / 100,
            higher_is_better=BETTER.get(args.metric) == "higher",
        )
    if args.outcome and args.outcome not in OUTCOMES:
        raise UsageError(f"--outcome {args.outcome!r}: choose one of {', '.join(OUTCOMES)}")
    if args.outcome or args.signature:
        return Criterion(outcome=args.outcome, signature=args.signature)
    return None


def bisect_policy(args: argparse.Namespace) -> Policy:
    for option in ("budget", "failures", "runs"):
        if getattr(args, option) < 1:
            raise UsageError(f"--{option} must be at least 1, got {getattr(args, option)}")
    return Policy(target_failures=args.failures, budget_runs=args.budget, metric_runs=args.runs)


def bisect_request(
    args: argparse.Namespace, argv: Sequence[str], matrix: Matrix, cache: Path, seed: int
) -> BisectRequest:
    fixture = bisect_fixture(matrix, args.fixture)
    criterion = bisect_criterion(args)
    policy = bisect_policy(args)
    template, settings = bisect_cell(args, matrix)
    releases = tuple(releases_between(args.good, args.bad, cache))
    if len(releases) < 2:
        raise UsageError(f"--good and --bad are the same release (go{releases[0]})")
    run = RunRequest(
        matrix_path=str(matrix.path.resolve()),
        matrix_sha256=matrix.sha256,
        profile=matrix.profile,
        cells=(),
        fixtures=(fixture.name,),
        repeats=None,
        seed=seed,
        command=("gxm", *argv),
    )
    return BisectRequest(
        fixture=fixture,
        template=template,
        settings=settings,
        good=releases[0],
        bad=releases[-1],
        releases=releases,
        criterion=criterion,
        policy=policy,
        run=run,
    )
