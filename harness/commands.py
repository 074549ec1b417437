"""What each `gxm` subcommand does, on parsed arguments. Thin: the stages do the work."""

from __future__ import annotations

import argparse
import json
import random
import shlex
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tabulate import tabulate

from harness import report, store, toolchains
from harness.backends.select import open_backend
from harness.cli import print_json
from harness.context import Clock, Paths, Reporter, RunContext
from harness.errors import GxmError, NothingSelectedError, UsageError
from harness.matrix import CellPlan, Matrix, load_matrix
from harness.model import Fixture
from harness.pipeline import RunRequest, execute_run
from harness.plan import parse_shard, shard_plans
from harness.runlock import (
    Owner,
    RunLock,
    describe_takeover,
    end_leftovers,
    mark_work_dir,
    sweep_abandoned,
)
from harness.selection import github_matrix, github_shard_matrix, select_cells

REPO = Path(__file__).resolve().parent.parent


def default_matrix_path(given: Path | None) -> Path:
    """--matrix, else ./matrix.yaml, else the matrix shipped beside the harness package."""
    if given is not None:
        if not given.is_file():
            raise UsageError(f"{given}: no such matrix file")
        return given
    local = Path("matrix.yaml")
    return local if local.is_file() else REPO / "matrix.yaml"


def _split(values: Sequence[str]) -> list[str]:
    return [part for value in values for part in value.split(",") if part]


def selected_plans(args: argparse.Namespace, matrix: Matrix) -> list[CellPlan]:
    """The cells and fixtures `--cells` / `--fixtures` select; exit 3 when nothing is left."""
    plans = list(matrix.cells)
    patterns = _split(getattr(args, "cells", []))
    if patterns:
        plans = list(select_cells(plans, patterns))
    plans = _filter_axes(args, plans)
    wanted = _split(getattr(args, "fixtures", []))
    if wanted:
        known = {f.name for f in matrix.fixtures}
        unknown = [name for name in wanted if name not in known]
        if unknown:
            raise UsageError(f"unknown fixture {unknown[0]!r}; known: {', '.join(sorted(known))}")
        plans = [replace(p, fixtures=tuple(f for f in p.fixtures if f in wanted)) for p in plans]
        plans = [p for p in plans if p.fixtures]
    if not plans:
        raise NothingSelectedError("the selection matched no cell (see `gxm list`)")
    if getattr(args, "shard", None):
        plans = _shard(args.shard, plans, matrix)
    return plans


def _filter_axes(args: argparse.Namespace, plans: list[CellPlan]) -> list[CellPlan]:
    """`--go 1.22,1.26` and `--goexperiment default,arenas` narrow the selection."""
    versions = {v.removeprefix("go") for v in _split(getattr(args, "go", []))}
    if versions:
        plans = [p for p in plans if p.cell.go in versions]
    experiments = {e.replace("+", ",") for e in _split(getattr(args, "goexperiment", []))}
    if experiments:
        wanted = {"" if e == "default" else e for e in experiments}
        plans = [p for p in plans if p.cell.goexperiment in wanted]
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


def _fixture_summary(names: Sequence[str], shown: int = 4) -> str:
    """A short fixtures column: the names, or the first few and how many more."""
    if len(names) <= shown:
        return ", ".join(names)
    return f"{len(names)}: {', '.join(names[:shown])}, …"


def cmd_list(args: argparse.Namespace, argv: Sequence[str]) -> int:
    matrix = load_matrix(default_matrix_path(args.matrix), args.profile)
    plans = selected_plans(args, matrix)
    if args.github_matrix:
        jobs = (
            github_shard_matrix(args.shards)
            if args.shards
            else github_matrix([p.cell for p in plans])
        )
        print(json.dumps(jobs, separators=(",", ":")))
        return 0
    rows = [
        {
            "id": p.cell.id,
            "nox_session": f"cell({p.cell.nox_id})",
            "go": p.cell.go,
            "goexperiment": p.cell.goexperiment,
            "fixtures": list(p.fixtures),
        }
        for p in plans
    ]
    if args.json:
        print_json(rows)
        return 0
    table = [
        [
            r["id"],
            r["nox_session"],
            r["go"],
            r["goexperiment"] or "(default)",
            _fixture_summary(r["fixtures"]),
        ]
        for r in rows
    ]
    print(
        tabulate(
            table,
            headers=["cell", "nox session", "go", "GOEXPERIMENT", "fixtures"],
            disable_numparse=True,
        )
    )
    return 0


def _new_context(
    args: argparse.Namespace, run_dir: Path, seed: int, backend_name: str, verbose: bool
) -> RunContext:
    cache = (args.cache or toolchains.cache_dir()).resolve()
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "work").mkdir(exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix=f"{run_dir.name}-", dir=cache / "work"))
    paths = Paths(
        repo=REPO, results_root=run_dir.parent, cache=cache, run_dir=run_dir, work_dir=work_dir
    )
    return RunContext(paths, Reporter(verbose=verbose), Clock(), seed, backend_name)


def _execute(
    args: argparse.Namespace,
    argv: Sequence[str],
    matrix: Matrix,
    plans: list[CellPlan],
    *,
    run_dir: Path,
    seed: int,
    previous: dict[str, Any] | None,
    verbose: bool,
    original: tuple[Any, Any, tuple[dict[str, Any], ...]] = (None, None, ()),
) -> Path:
    """Run `plans` into `run_dir` as its one writer; `original` is (started, command, resumes)
    of a resumed run. Before anything runs, what a dead gxm left is ended and reported."""
    reporter = Reporter(verbose=verbose)
    backend_name = args.backend or matrix.backend
    cache = (args.cache or toolchains.cache_dir()).resolve()
    request = RunRequest(
        matrix_path=str(matrix.path.resolve()),
        matrix_sha256=matrix.sha256,
        profile=matrix.profile,
        cells=tuple(p.cell.id for p in plans),
        fixtures=tuple(_split(args.fixtures)) or None,
        repeats=args.repeats,
        seed=seed,
        command=original[1] or ("gxm", *argv),
        started=original[0],
        resumed=original[2],
    )
    fixtures: dict[str, Fixture] = {f.name: f for f in matrix.fixtures}
    with RunLock(run_dir, Owner.me(run_dir.name, backend_name)) as lock:
        _end_what_the_dead_left(lock, cache, reporter)
        try:
            backend = open_backend(backend_name, reporter, settings=matrix.docker, cache=cache)
        except GxmError:
            if previous is None:  # a new, still empty run directory: leave nothing behind
                lock.release()
                shutil.rmtree(run_dir, ignore_errors=True)
            raise
        ctx = _new_context(args, run_dir, seed, backend.name, verbose)
        mark_work_dir(ctx.paths.work_dir, lock.owner)
        reporter.info(f"run {run_dir.name}: {len(plans)} cells, seed {seed}, results in {run_dir}")
        try:
            with backend:
                execute_run(ctx, backend, plans, fixtures, request, previous)
        finally:
            shutil.rmtree(ctx.paths.work_dir, ignore_errors=True)
    return run_dir


def _end_what_the_dead_left(lock: RunLock, cache: Path, reporter: Reporter) -> None:
    """Report and end what a dead gxm left: of this run (a stale lock) and under the cache."""
    if lock.stale is not None:
        reporter.info(f"gxm: {describe_takeover(lock.stale, end_leftovers(lock.stale, cache))}")
    for line in sweep_abandoned(cache):
        reporter.info(f"gxm: {line}")


def _finish(run_dir: Path) -> int:
    """Write the reports beside the results, print the tables, and return the exit code."""
    report.write_reports(run_dir)
    text = (run_dir / "report.txt").read_text(encoding="utf-8")
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()
    print(f"results: {run_dir}", file=sys.stderr)
    return report.exit_code_for(run_dir)


def cmd_run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    previous: dict[str, Any] | None = None
    original: tuple[Any, Any, tuple[dict[str, Any], ...]] = (None, None, ())
    if args.resume:
        run_dir = store.resolve_run(args.resume, args.out)
        run = json.loads((run_dir / "run.json").read_text())
        args.matrix = args.matrix or Path(run["matrix"]["path"])
        args.profile = args.profile or run["matrix"]["profile"]
        args.cells = args.cells or run["cells"]
        args.fixtures = args.fixtures or (run.get("fixtures") or [])
        args.repeats = args.repeats or run.get("repeats")
        args.backend = args.backend or run.get("backend")
        seed = run["seed"]
        previous = {doc["cell"]["id"]: doc for doc in store.load_run(run_dir).cells}
        resume = {
            "command": ["gxm", *argv],
            "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        first_command = tuple(str(word) for word in run.get("command") or ()) or None
        original = (run.get("started"), first_command, (*run.get("resumed", []), resume))
    matrix = load_matrix(default_matrix_path(args.matrix), args.profile)
    plans = selected_plans(args, matrix)
    if not args.resume:
        seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
        run_dir = _create_run_dir(args.out)
    _execute(
        args,
        argv,
        matrix,
        plans,
        run_dir=run_dir,
        seed=seed,
        previous=previous,
        verbose=args.verbose,
        original=original,
    )
    return _finish(run_dir)


def _create_run_dir(results_root: Path) -> Path:
    run_dir = results_root / store.new_run_id(datetime.now(timezone.utc))
    (run_dir / "cells").mkdir(parents=True)
    (run_dir / "logs").mkdir()
    return run_dir.resolve()


def cmd_cell(args: argparse.Namespace, argv: Sequence[str]) -> int:
    args.cells = [args.cell_id.removeprefix("cell(").removesuffix(")")]
    matrix = load_matrix(default_matrix_path(args.matrix), args.profile)
    plans = selected_plans(args, matrix)
    if len(plans) != 1:
        ids = ", ".join(p.cell.id for p in plans)
        raise UsageError(f"{args.cell_id!r} names {len(plans)} cells ({ids}); name exactly one")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    run_dir = _create_run_dir(args.out)
    _execute(args, argv, matrix, plans, run_dir=run_dir, seed=seed, previous=None, verbose=True)
    code = _finish(run_dir)
    _print_reproduction(args, matrix, plans[0], run_dir, seed)
    return code


def _print_reproduction(
    args: argparse.Namespace, matrix: Matrix, plan: CellPlan, run_dir: Path, seed: int
) -> None:
    """The crash output of failed runs, then the exact commands that reproduce the cell."""
    doc = json.loads((run_dir / "cells" / f"{plan.cell.id}.json").read_text())
    err = sys.stderr
    for name, entry in doc["fixtures"].items():
        failed = [r for r in entry["runs"] if r["outcome"] != "pass"]
        if failed:
            first = failed[0]
            print(
                f"\n--- {name} run {first['i']}: {first['outcome']} "
                f"({first.get('signature') or first.get('detail') or ''}) — {first['log']}",
                file=err,
            )
            print(log_excerpt(run_dir / first["log"]), file=err)
    matrix_path = str(matrix.path.resolve())
    command = ["gxm", "cell", plan.cell.id, "--matrix", matrix_path, "--seed", str(seed)]
    if matrix.profile:
        command += ["--profile", matrix.profile]
    for option in ("backend", "repeats"):
        if getattr(args, option):
            command += [f"--{option}", str(getattr(args, option))]
    if args.fixtures:
        command += ["--fixtures", ",".join(_split(args.fixtures))]
    print("\nreproduce this cell:\n  " + shlex.join(command), file=err)
    print(
        "its go build command (the -o directory was temporary; `gxm cell` rebuilds it):", file=err
    )
    for line in doc["build"].get("commands", []):
        print(f"  {line}", file=err)


def log_excerpt(path: Path, max_lines: int = 60) -> str:
    """The start of a run log: the crash message, or the top of the goroutine dump."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return f"[no log at {path}]"
    more = f"\n[… {len(lines) - max_lines} more lines in {path}]" if len(lines) > max_lines else ""
    return "\n".join(lines[:max_lines]) + more


def cmd_report(args: argparse.Namespace, argv: Sequence[str]) -> int:
    run_dir = store.resolve_run(args.run, args.out)
    if args.write:
        for path in report.write_reports(run_dir):
            print(f"wrote {path}", file=sys.stderr)
    text = report.render(run_dir, args.format, claims=bool(args.claims))
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return report.exit_code_for(run_dir)


def cmd_compare(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from harness import history

    run_a = store.resolve_run(args.run_a, args.out)
    run_b = store.resolve_run(args.run_b, args.out)
    comparison = history.compare(run_a, run_b)
    sys.stdout.write(history.render_comparison(comparison, args.format))
    return comparison.exit_code


def cmd_trend(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from harness import history, plots

    runs = history.load_history(args.out)
    if not runs:
        raise UsageError(f"no runs under {args.out}/ yet; start one with `gxm run`")
    found = history.trends(runs, args.fixture, args.metric)
    plot_dir = args.plots or args.out / "trends"
    written = plots.write_trend_plots(found, plot_dir)
    images = {key: str(path) for key, path in written.items()}
    sys.stdout.write(history.render_trends(found, args.format, images))
    for path in written.values():
        print(f"plot: {path}", file=sys.stderr)
    return 0


def cmd_publish(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from harness import publish

    run_dir = store.resolve_run(args.run, args.out)
    result = publish.publish(run_dir, args.wiki, cache=args.cache)
    state = f"committed {result.commit[:12]}" if result.commit else "no change, nothing committed"
    pushed = ", pushed" if result.pushed else ""
    print(f"wiki {result.checkout}: {', '.join(result.pages)} — {state}{pushed}", file=sys.stderr)
    return 0


def cmd_merge(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Combine shard run directories; print the merged run's tables, exit as `gxm run` would."""
    from harness.merge import merge_runs

    for run_dir in args.runs:
        if not (run_dir / "run.json").is_file():
            raise UsageError(f"{run_dir}: not a gxm run directory (no run.json)")
    args.out.mkdir(parents=True, exist_ok=True)
    merged = merge_runs(args.runs, args.out)
    print(f"merged {len(args.runs)} runs into {merged}", file=sys.stderr)
    return _finish(merged)


def cmd_doctor(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """What is installed, what works, and what to do about what does not."""
    from harness.leftovers import doctor_report

    matrix = load_matrix(default_matrix_path(args.matrix), None)
    cache = (args.cache or toolchains.cache_dir()).resolve()
    rows = [("python", sys.version.split()[0], "")]
    cached = toolchains.list_cached(cache) if cache.is_dir() else []
    versions = ", ".join(t.version for t in cached) or "none yet (fetched on first run)"
    rows.append(("toolchains", f"{versions} in {cache}", ""))
    rows.extend(doctor_report(matrix.docker, cache))
    print(tabulate(rows, headers=["check", "status", "what to do"], disable_numparse=True))
    return 0


def _in_use(path: Path) -> bool:
    """Whether a live process runs from or in `path` (a work dir of a gxm run still going)."""
    import psutil

    marker = str(path)
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        words = " ".join(proc.info.get("cmdline") or []) + " " + (proc.info.get("cwd") or "")
        if marker in words:
            return True
    return False


def cmd_clean(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Remove what gxm left behind: containers, stale images, volumes, work dirs, old toolchains."""
    from harness.images import connect, engine_problem
    from harness.leftovers import clean

    cache = (args.cache or toolchains.cache_dir()).resolve()
    work = cache / "work"
    stale_work = [p for p in sorted(work.glob("*")) if not _in_use(p)] if work.is_dir() else []
    for path in stale_work:
        print(f"{'would remove' if args.dry_run else 'removing'} work dir {path}")
        if not args.dry_run:
            shutil.rmtree(path, ignore_errors=True)
    try:
        client = connect(timeout_s=30)
    except Exception as exc:  # noqa: BLE001 - any engine failure means "nothing to clean there"
        print(f"docker: skipped ({engine_problem(exc)})", file=sys.stderr)
        return 0
    removed = clean(
        client, dry_run=args.dry_run, images=args.images, volumes=args.volumes, cache=cache
    )
    for item in removed:
        verb = "would remove" if args.dry_run else "removed"
        print(f"{verb} {item.kind} {item.name} ({item.reason})")
    if not removed and not stale_work:
        print("nothing to clean")
    return 0
