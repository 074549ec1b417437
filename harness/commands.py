"""What each `gxm` subcommand does, on parsed arguments. Thin: the stages do the work."""

from __future__ import annotations

import argparse
import functools
import json
import random
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness import goenv, modules, report, store, symbolize, toolchains, until_fail
from harness.backends import Backend
from harness.backends.select import open_backend
from harness.context import Clock, Paths, Reporter, RunContext
from harness.errors import GxmError, UsageError
from harness.external import expansion_lines
from harness.masking import mask_secrets
from harness.matrix import Matrix, load_matrix
from harness.model import CellPlan, Fixture
from harness.pipeline import Pipeline, RunRequest, execute_run
from harness.plan import RunTask
from harness.reproduction import print_reproduction
from harness.schedule import default_jobs
from harness.selection import Selection, github_matrix, github_shard_matrix, selected_plans
from harness.store.lock import Owner, RunLock, end_what_the_dead_left, mark_work_dir
from harness.store.records import CellResult, RunDocument

REPO = Path(__file__).resolve().parent.parent
RunStage = Callable[[Pipeline, Sequence[RunTask]], None]


def default_matrix_path(given: Path | None) -> Path:
    """--matrix, else ./matrix.yaml, else the matrix shipped beside the harness package."""
    if given is not None:
        if not given.is_file():
            raise UsageError(f"{given}: no such matrix file")
        return given
    local = Path("matrix.yaml")
    return local if local.is_file() else REPO / "matrix.yaml"


def print_json(obj: object) -> None:
    """Data as indented JSON on stdout."""
    json.dump(obj, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def _fixture_summary(names: Sequence[str], shown: int = 4) -> str:
    """A short fixtures column: the names, or the first few and how many more."""
    if len(names) <= shown:
        return ", ".join(names)
    return f"{len(names)}: {', '.join(names[:shown])}, …"


def cmd_list(args: argparse.Namespace, argv: Sequence[str]) -> int:
    matrix = load_matrix(default_matrix_path(args.matrix), args.profile)
    plans = selected_plans(Selection.from_args(args), matrix)
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
            "godebug": p.cell.godebug,
            "buildmode": p.cell.buildmode,
            "cgo": "on" if p.cell.cgo_enabled else "off",
            "fixtures": list(p.fixtures),
        }
        for p in plans
    ]
    if args.json:
        print_json(rows)
        return 0
    # the extra axes' columns only when some cell uses them: other matrices list as before
    extra_axes = any(p.cell.axes for p in plans)
    table = [
        [
            r["id"],
            r["nox_session"],
            r["go"],
            r["goexperiment"] or "(default)",
            *(_axis_columns(r) if extra_axes else []),
            _fixture_summary(r["fixtures"]),
        ]
        for r in rows
    ]
    headers = ["cell", "nox session", "go", "GOEXPERIMENT"]
    headers += ["GODEBUG", "build mode", "cgo"] if extra_axes else []
    from harness.render import render_table

    print(render_table([*headers, "fixtures"], table, "txt"))
    lines = expansion_lines(matrix.externals, matrix.fixtures_by_name)
    print("\n".join(["", "external entries:", *lines]) if lines else "", end="\n" if lines else "")
    return 0


def _axis_columns(row: dict[str, Any]) -> list[str]:
    return [row["godebug"] or "(default)", row["buildmode"] or "(default)", row["cgo"]]


def _new_context(
    cache: Path, run_dir: Path, seed: int, backend_name: str, verbose: bool
) -> RunContext:
    (cache / "work").mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix=f"{run_dir.name}-", dir=cache / "work"))
    paths = Paths(
        repo=REPO, results_root=run_dir.parent, cache=cache, run_dir=run_dir, work_dir=work_dir
    )
    return RunContext(paths, Reporter(verbose=verbose), Clock(), seed, backend_name)


def _cache(args: argparse.Namespace) -> Path:
    return Path(args.cache or goenv.cache_dir()).resolve()


def _execute(
    args: argparse.Namespace,
    argv: Sequence[str],
    selection: Selection,
    matrix: Matrix,
    plans: list[CellPlan],
    *,
    run_dir: Path,
    seed: int,
    previous: dict[str, CellResult] | None,
    verbose: bool,
    run_stage: RunStage | None = None,
    resumed: RunDocument | None = None,
) -> Path:
    """Run `plans` into `run_dir` (`resumed`: the record of the run being resumed, whose first
    command and start are kept)."""
    request = RunRequest(
        matrix_path=str(matrix.path.resolve()),
        matrix_sha256=matrix.sha256,
        profile=matrix.profile,
        cells=tuple(p.cell.id for p in plans),
        fixtures=selection.fixtures or None,
        repeats=selection.repeats,
        seed=seed,
        command=("gxm", *argv),
        jobs=getattr(args, "jobs", None) or matrix.jobs or default_jobs(),
    )
    if resumed is not None:
        request = request.resumed_from(resumed, datetime.now(timezone.utc))
    fixtures: dict[str, Fixture] = {f.name: f for f in matrix.fixtures}

    preload = report.Preload()

    def work(ctx: RunContext, backend: Backend) -> None:
        ctx.reporter.info(f"run {run_dir.name}: {len(plans)} cells, seed {seed}, in {run_dir}")

        versions: list[str] = []  # the Go versions the run resolved, before any build

        def provisioned(resolved: Sequence[str]) -> None:
            versions[:] = resolved

        def go_api_checks() -> None:
            import harness.report.document  # noqa: F401
            from harness import claims  # with the report document: needed only at the end

            claims.record_go_api_checks_ahead(run_dir, versions)

        def groundwork() -> None:
            # what the report at the end needs (matplotlib, the `go doc` answers, the claims and
            # report modules), beside the first stress run: a build keeps every CPU busy, a
            # stress run seldom does, and bench runs (each after `preload.join`) come after every
            # stress run
            preload.matplotlib()
            preload.also(go_api_checks)

        execute_run(
            ctx,
            backend,
            plans,
            fixtures,
            request,
            previous,
            run_stage,
            before_alone=preload.join,
            after_provision=provisioned,
            before_shared=functools.partial(preload.once, groundwork),
        )

    backend_name = selection.backend or matrix.backend
    fresh = previous is None
    try:
        _on_backend(
            args, matrix, backend_name, run_dir, seed, verbose, work, fresh=fresh, plans=plans
        )
    finally:
        preload.join()
    return run_dir


def _on_backend(
    args: argparse.Namespace,
    matrix: Matrix,
    backend_name: str,
    run_dir: Path,
    seed: int,
    verbose: bool,
    work: Callable[[RunContext, Backend], object],
    *,
    fresh: bool,
    plans: Sequence[CellPlan] = (),
) -> None:
    """Download the dependencies of `plans`' external modules, open the backend, do `work` in a
    new context and remove the work dir afterwards, as the run directory's one writer (its lock);
    before anything runs, what a dead gxm left is ended and reported. A `fresh` (new, still empty)
    run directory is removed when the dependencies or the backend cannot be had."""
    cache, reporter = _cache(args), Reporter(verbose=verbose)
    with RunLock(run_dir, Owner.me(run_dir.name, backend_name)) as lock:
        for line in end_what_the_dead_left(lock, cache):
            reporter.info(f"gxm: {line}")
        try:
            modules.download_selected(plans, matrix.fixtures_by_name, cache, reporter.info)
            backend = open_backend(backend_name, reporter, settings=matrix.docker, cache=cache)
        except GxmError:
            if fresh:
                lock.release()
                shutil.rmtree(run_dir, ignore_errors=True)
            raise
        ctx = _new_context(cache, run_dir, seed, backend.name, verbose)
        mark_work_dir(ctx.paths.work_dir, lock.owner)
        try:
            with backend:
                work(ctx, backend)
        finally:
            shutil.rmtree(ctx.paths.work_dir, ignore_errors=True)


def _finish(run_dir: Path) -> int:
    """Write the reports beside the results, print the tables, and return the exit code."""
    data = store.load_run(run_dir)
    with report.PendingReports(data) as pending:
        pending.finish()
    text = pending.texts["report.txt"]
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()
    print(f"results: {run_dir}", file=sys.stderr)
    infra = report.infra_summary(data)
    if infra:
        print(f"gxm: {mask_secrets(infra)}", file=sys.stderr)
    return report.exit_code_for_data(data)


def _new_seed(args: argparse.Namespace) -> int:
    return int(args.seed) if args.seed is not None else random.SystemRandom().randrange(1 << 31)


def cmd_run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    selection = Selection.from_args(args)
    previous: dict[str, CellResult] | None = None
    recorded: RunDocument | None = None
    if args.resume:
        run_store = store.RunStore.open(store.resolve_run(args.resume, args.out))
        recorded = run_store.read_run()
        selection = selection.resumed(recorded)
        seed = recorded.seed if recorded.seed is not None else _new_seed(args)
        previous = run_store.cell_results()
        run_dir = run_store.run_dir
    matrix = load_matrix(default_matrix_path(selection.matrix), selection.profile)
    plans = selected_plans(selection, matrix)
    if not args.resume:
        seed = _new_seed(args)
        run_dir = _create_run_dir(args.out)
    _execute(
        args,
        argv,
        selection,
        matrix,
        plans,
        run_dir=run_dir,
        seed=seed,
        previous=previous,
        verbose=args.verbose,
        resumed=recorded,
    )
    return _finish(run_dir)


def _create_run_dir(results_root: Path) -> Path:
    run_id = store.new_run_id(datetime.now(timezone.utc))
    return store.RunStore.create(results_root, run_id).run_dir


def cmd_cell(args: argparse.Namespace, argv: Sequence[str]) -> int:
    selection = replace(
        Selection.from_args(args), cells=(args.cell_id.removeprefix("cell(").removesuffix(")"),)
    )
    matrix = load_matrix(default_matrix_path(selection.matrix), selection.profile)
    plans = selected_plans(selection, matrix)
    if len(plans) != 1:
        ids = ", ".join(p.cell.id for p in plans)
        raise UsageError(f"{args.cell_id!r} names {len(plans)} cells ({ids}); name exactly one")
    stage = until_fail.stage_for(plans[0], args.max_runs) if args.until_fail else None
    seed = _new_seed(args)
    run_dir = _create_run_dir(args.out)
    _execute(
        args, argv, selection, matrix, plans, run_dir=run_dir, seed=seed, previous=None,
        verbose=True, run_stage=stage,
    )  # fmt: skip
    code = _finish(run_dir)
    max_runs = args.max_runs if args.until_fail else None
    print_reproduction(selection, matrix, plans[0], run_dir, seed, max_runs)
    return code


def cmd_merge(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Combine shard run directories; print the merged run's tables, exit as `gxm run` would."""
    from harness.merge import merge_runs

    for run_dir in args.runs:
        if not store.is_run_dir(run_dir):
            raise UsageError(f"{run_dir}: not a gxm run directory (no {store.RUN_FILE})")
    args.out.mkdir(parents=True, exist_ok=True)
    merged = merge_runs(args.runs, args.out)
    print(f"merged {len(args.runs)} runs into {merged}", file=sys.stderr)
    return _finish(merged)


def cmd_doctor(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """What is installed, what works, and what to do about what does not."""
    from harness.backends.containment import containment_row
    from harness.backends.docker.leftovers import doctor_report

    matrix = load_matrix(default_matrix_path(args.matrix), None)
    cache = _cache(args)
    rows = [("python", sys.version.split()[0], "")]
    cached = toolchains.list_cached(cache) if cache.is_dir() else []
    versions = ", ".join(t.version for t in cached) or "none yet (fetched on first run)"
    rows.append(("toolchains", f"{versions} in {cache}", ""))
    rows.append(containment_row())
    rows.extend(doctor_report(matrix.docker, cache))
    rows.extend(symbolize.doctor_rows(matrix.docker.base_image))
    from harness.render import render_table

    print(render_table(["check", "status", "what to do"], rows, "txt"))
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
    from harness.backends.docker.engine import connect, engine_problem
    from harness.backends.docker.leftovers import clean

    cache = _cache(args)
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


def cmd_bisect(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Find the first Go release where FIXTURE's outcome (or a metric) changed."""
    from harness.bisect_args import bisect_request
    from harness.bisect_run import execute_bisect
    from harness.report.bisects import bisect_text

    matrix = load_matrix(default_matrix_path(args.matrix), args.profile)
    seed = _new_seed(args)
    request = bisect_request(args, argv, matrix, _cache(args), seed)
    run_dir = _create_run_dir(args.out)
    run_store = store.RunStore(run_dir)

    def work(ctx: RunContext, backend: Backend) -> None:
        first, last = request.releases[0], request.releases[-1]
        ctx.reporter.info(f"bisect {run_dir.name}: go{first} … go{last}, seed {seed}")
        execute_bisect(ctx, backend, request)

    try:
        backend_name = args.backend or matrix.backend
        _on_backend(args, matrix, backend_name, run_dir, seed, args.verbose, work, fresh=True)
    finally:
        if run_store.read_bisect() is not None:  # refused or failed: its record still reports
            report.write_reports(run_dir)
            print(f"results: {run_dir}", file=sys.stderr)
    sys.stdout.write(bisect_text(run_store.read_bisect()))
    return 0
