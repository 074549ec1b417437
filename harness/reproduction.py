"""What `gxm cell` prints after its tables, on stderr: the output of the first failing run of
each fixture (with the flake math when the failure is flaky), what `--until-fail` showed, and the
exact commands that reproduce the cell."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from harness import flake, gotest, store, until_fail
from harness.matrix import Matrix
from harness.model import CellPlan, Outcome
from harness.selection import Selection
from harness.store.records import CellResult


def print_reproduction(
    selection: Selection,
    matrix: Matrix,
    plan: CellPlan,
    run_dir: Path,
    seed: int,
    until_fail_max_runs: int | None = None,
) -> None:
    """The crash output of failed runs, then the exact commands that reproduce the cell (and,
    after `--until-fail`, what the loop showed)."""
    run_store = store.RunStore(run_dir)
    result = run_store.read_cell(plan.cell.id)
    err = sys.stderr
    for name, entry in (result.fixtures if result else {}).items():
        failed = [r for r in entry.runs if r.outcome is not Outcome.PASS]
        if failed:
            first = failed[0]
            print(
                f"\n--- {name} run {first.i}: {first.outcome} "
                f"({first.signature or first.detail or ''}) — {first.log}",
                file=err,
            )
            print(log_excerpt(run_store.path_of(first.log or "")), file=err)
            if first.c_backtrace:
                print(f"\n--- the C code that crashed — {first.c_backtrace}", file=err)
                print(log_excerpt(run_store.path_of(first.c_backtrace)), file=err)
            measured = len([r for r in entry.runs if not r.warmup])
            if len(failed) < measured:  # flaky: some runs failed, not all
                print(f"flaky: {flake.flaky_text(len(failed), measured)}", file=err)
    matrix_path = str(matrix.path.resolve())
    command = ["gxm", "cell", plan.cell.id, "--matrix", matrix_path, "--seed", str(seed)]
    if matrix.profile:
        command += ["--profile", matrix.profile]
    if selection.backend:
        command += ["--backend", selection.backend]
    if selection.repeats:
        command += ["--repeats", str(selection.repeats)]
    if selection.fixtures:
        command += ["--fixtures", ",".join(selection.fixtures)]
    if until_fail_max_runs is not None:
        command += ["--until-fail", "--max-runs", str(until_fail_max_runs)]
        for entry in (result.fixtures if result else {}).values():
            lines = until_fail.verdict_lines(entry.runs, until_fail_max_runs, seed)
            print("\n" + "\n".join(lines), file=err)
    print("\nreproduce this cell:\n  " + shlex.join(command), file=err)
    _print_build_commands(matrix, plan, result)


def _print_build_commands(matrix: Matrix, plan: CellPlan, result: CellResult | None) -> None:
    """The cell's go build (go test -c) lines, and the invocation of each test that did not pass."""
    err = sys.stderr
    print(
        "its go build command (the -o directory was temporary; `gxm cell` rebuilds it):", file=err
    )
    for line in result.build.commands if result else ():
        print(f"  {line}", file=err)
    for line in gotest.reproduction_lines(matrix.fixtures_by_name, plan.settings.env, result):
        print(line, file=err)


def log_excerpt(path: Path, max_lines: int = 60) -> str:
    """The start of a run log: the crash message, or the top of the goroutine dump."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return f"[no log at {path}]"
    more = f"\n[… {len(lines) - max_lines} more lines in {path}]" if len(lines) > max_lines else ""
    return "\n".join(lines[:max_lines]) + more
