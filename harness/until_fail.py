"""`gxm cell ID --until-fail`: the developer's loop for a rare crash.

One fixture of one cell is built once and run again and again (run i gets seed `seed*1000+i`,
as in every run) until a run fails or the budget ends. A failure stops the loop at once; a clean
budget says, by flake math, how low the failure rate has been shown to be.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from harness import flake, stats
from harness.errors import UsageError
from harness.model import CellPlan
from harness.pipeline import Pipeline
from harness.plan import RunTask
from harness.store.records import RunRecord

# A run that ran and did not end well (a test suite's `fail` too); infra-error stops the loop but
# is never the fixture's failure.
FAILING = frozenset({*stats.FAILURE_OUTCOMES, "fail"})


def stage_for(plan: CellPlan, max_runs: int) -> Callable[[Pipeline, Sequence[RunTask]], None]:
    """The run stage of `gxm cell --until-fail`; UsageError unless the cell has one fixture."""
    if len(plan.fixtures) != 1:
        raise UsageError(
            f"--until-fail repeats one fixture; {plan.cell.id} has {len(plan.fixtures)}: "
            "add --fixtures NAME"
        )
    if max_runs < 1:
        raise UsageError(f"--max-runs must be at least 1, got {max_runs}")
    return until_fail_stage(max_runs)


def until_fail_stage(max_runs: int) -> Callable[[Pipeline, Sequence[RunTask]], None]:
    """A pipeline run stage: the cell's only fixture, run until it fails or `max_runs` runs."""

    def stage(pipeline: Pipeline, done: Sequence[RunTask]) -> None:
        (state,) = pipeline.states.values()
        build = state.build
        if build is None or build.status != "ok":
            return
        names = [name for name in state.plan.fixtures if name in build.binaries]
        if not names:
            return
        (name,) = names
        cell_id = state.plan.cell.id
        with pipeline.ctx.reporter.progress(f"until fail (≤{max_runs})", max_runs) as advance:
            for i in range(max_runs):
                record = pipeline.run_task(RunTask(cell_id, name, i))
                signature = f" ({record.signature[:60]})" if record.signature else ""
                advance(f"{cell_id} {name} #{i}: {record.outcome}{signature}")
                if str(record.outcome) in FAILING or str(record.outcome) == "infra-error":
                    return

    return stage


def verdict_lines(records: Sequence[RunRecord], max_runs: int, seed: int) -> list[str]:
    """What the loop showed: the failing run, its seed and the runs it takes to see it again;
    or, after a clean budget, the bound on the failure rate."""
    runs = [r for r in records if not r.warmup]
    failed = [r for r in runs if str(r.outcome) in FAILING]
    if failed:
        first = failed[0]
        n = len(runs)
        what = first.signature or first.detail or str(first.outcome)
        needed = flake.runs_to_reproduce(1, n)
        return [
            f"failed at run {n} of at most {max_runs}: {first.outcome} ({what}); that run had "
            f"GXM_SEED={seed * 1000 + first.i} (the same --seed replays the same seeds)",
            f"1 failure in {n} runs: to see it again with 95% confidence, run it {needed} times "
            f"(at the lower Wilson rate, {flake.percent(flake.conservative_rate(1, n))})",
        ]
    stopped = [r for r in runs if str(r.outcome) == "infra-error"]
    if stopped:
        return [f"stopped at run {len(runs)}: infra-error ({stopped[0].detail})"]
    if not runs:
        return ["no run: the cell did not build or the fixture does not apply to it"]
    return [f"stopped at the budget (--max-runs {max_runs}): {flake.clean_runs_text(len(runs))}"]
