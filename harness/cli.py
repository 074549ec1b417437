"""`gxm` command line: parses arguments, calls the stages, maps errors to exit codes.

This is the only place that catches `GxmError`, prints its one-line message and exits with its
code (docs/contracts.md, "Exit codes"). `--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import NoReturn

from harness import __version__
from harness.cli_bisect import add_bisect_parser
from harness.errors import EXIT_INFRA, EXIT_USAGE, GxmError
from harness.markup import FORMATS, TABLE_FORMATS
from harness.masking import mask_secrets
from harness.model import MAX_REPEATS

EPILOG = (
    "Exit codes: 0 all outcomes as expected, 1 some outcome unexpected, 2 usage or input "
    "error, 3 nothing selected, 4 infrastructure unavailable or failed."
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit code 2, like every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _ArgumentError(f"{self.prog}: {message} (see `{self.prog} --help`)")


class _ArgumentError(Exception):
    pass


def repeat_count(text: str) -> int:
    """--repeats: a whole number of runs, 1..MAX_REPEATS (0 and -1 used to mean 1 and none)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= MAX_REPEATS:
        raise argparse.ArgumentTypeError(f"{value} is not between 1 and {MAX_REPEATS}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


def file_path(text: str) -> Path:
    """A path gxm can write into its UTF-8 JSON and print (no undecodable bytes, no NUL)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError(
            f"{text.encode('utf-8', 'surrogateescape')!r} is not valid UTF-8; use a UTF-8 path"
        ) from None
    if "\x00" in text or not text:
        raise argparse.ArgumentTypeError("an empty path or one holding a NUL byte")
    return Path(text)


def dir_path(text: str) -> Path:
    """A directory that may not exist yet, but is not a file."""
    path = file_path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a directory")
    return path


def _add_selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--matrix",
        type=file_path,
        default=None,
        help="matrix file (default: ./matrix.yaml, else the one shipped with gxm)",
    )
    parser.add_argument(
        "--profile", default=None, help="matrix profile (default: smoke when the matrix defines it)"
    )
    parser.add_argument(
        "--cells",
        dest="cell_patterns",
        action="append",
        default=[],
        metavar="PATTERN",
        help="cell ids, nox ids or shell globs ('go1.2*-arenas'); repeat or comma-separate",
    )
    parser.add_argument(
        "--go",
        action="append",
        default=[],
        metavar="VERSIONS",
        help="only cells of these Go versions, as the matrix writes them (1.22,1.26)",
    )
    parser.add_argument(
        "--goexperiment",
        action="append",
        default=[],
        metavar="VALUES",
        help="only cells of these experiments (`default` for none; arenas+cgocheck2 for a list)",
    )
    parser.add_argument(
        "--godebug",
        action="append",
        default=[],
        metavar="VALUES",
        help="only cells of these GODEBUG values (`default` for none; clobberfree=1+efence=1 "
        "for several settings in one value)",
    )
    parser.add_argument(
        "--buildmode",
        action="append",
        default=[],
        metavar="MODES",
        help="only cells of these build modes (default, race, asan, msan)",
    )
    parser.add_argument(
        "--cgo",
        action="append",
        default=[],
        choices=("on", "off"),
        help="only cells with cgo on or off (CGO_ENABLED=0)",
    )
    parser.add_argument(
        "--shard",
        default=None,
        metavar="I/N",
        help="only shard I of N: a split of the selected cells balanced by expected cost",
    )


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fixtures",
        action="append",
        default=[],
        metavar="NAME",
        help="only these fixtures (repeat or comma-separate)",
    )
    parser.add_argument(
        "--repeats",
        type=repeat_count,
        default=None,
        help=f"runs per fixture per cell, 1..{MAX_REPEATS} (overrides the matrix)",
    )
    parser.add_argument(
        "--backend",
        choices=("auto", "local", "docker"),
        default=None,
        help="where builds and runs happen (default: the matrix's `backend`)",
    )
    parser.add_argument(
        "--out",
        type=dir_path,
        default=Path("results"),
        help="directory the run directory is created in (default: ./results)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the interleaved run order (default: random, recorded)",
    )
    parser.add_argument(
        "--cache",
        type=dir_path,
        default=None,
        help="toolchain and build cache (default: $GXM_CACHE or ~/.cache/gxm)",
    )
    parser.add_argument(
        "--jobs",
        type=positive_int,
        default=None,
        metavar="N",
        help="stress and claim runs at a time, overlapping other cells' builds; bench runs always "
        "run alone, on pinned CPUs (default: the matrix's `jobs`, else the CPUs gxm may use)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gxm",
        description=(
            "Go eXperiment Matrix: builds and runs cgo SDK fixtures and GC benchmarks on every "
            "Go version x GOEXPERIMENT cell of a matrix, classifies crashes, tabulates results."
        ),
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"gxm {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every command run")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_list_command(sub)
    _add_run_commands(sub)
    _add_engine_commands(sub)
    _add_report_commands(sub)
    _add_history_commands(sub)
    _add_publish_command(sub)
    return parser


def _add_list_command(sub: argparse._SubParsersAction[_Parser]) -> None:
    p_list = sub.add_parser("list", help="list the cells a matrix selection gives", epilog=EPILOG)
    _add_selection(p_list)
    fmt = p_list.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="cells as JSON")
    fmt.add_argument(
        "--github-matrix",
        action="store_true",
        help="JSON for a GitHub Actions strategy.matrix (fromJSON)",
    )
    p_list.add_argument(
        "--shards",
        type=positive_int,
        default=None,
        metavar="N",
        help="with --github-matrix: one job per shard (gxm run --shard i/N) instead of per cell",
    )


def _add_run_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    """run, cell, merge: commands that make a run directory."""
    p_run = sub.add_parser("run", help="run a matrix selection and print the tables", epilog=EPILOG)
    _add_selection(p_run)
    _add_run_options(p_run)
    p_run.add_argument(
        "--resume",
        metavar="RUN",
        default=None,
        help="continue an interrupted run (run id, path or `latest`)",
    )

    p_cell = sub.add_parser(
        "cell", help="run one cell verbosely and print how to reproduce it", epilog=EPILOG
    )
    p_cell.add_argument("cell_id", metavar="ID", help="cell id (go1.22-arenas) or nox id")
    p_cell.add_argument("--matrix", type=file_path, default=None, help="matrix file")
    p_cell.add_argument("--profile", default=None, help="matrix profile")
    _add_run_options(p_cell)
    p_cell.add_argument(
        "--until-fail",
        action="store_true",
        help="repeat one fixture until a run fails (crash, corrupt, timeout, oom) or --max-runs "
        "is reached; then print that run's output and how to reproduce it",
    )
    p_cell.add_argument(
        "--max-runs",
        type=int,
        default=200,
        metavar="N",
        help="with --until-fail: the budget of runs (default 200: no failure in 200 runs shows "
        "the rate is below 1.5%%)",
    )

    add_bisect_parser(sub)

    p_merge = sub.add_parser(
        "merge", help="combine shard run directories into one run", epilog=EPILOG
    )
    p_merge.add_argument(
        "runs", nargs="+", type=file_path, metavar="RUN_DIR", help="shard run dirs"
    )
    p_merge.add_argument(
        "--out",
        type=dir_path,
        default=Path("results"),
        help="directory the merged run directory is created in (default: ./results)",
    )


def _add_engine_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    """doctor and clean: what is installed, what was left behind."""
    p_doctor = sub.add_parser(
        "doctor", help="what is installed, what works, what to do", epilog=EPILOG
    )
    p_doctor.add_argument("--matrix", type=file_path, default=None, help="matrix file")
    p_doctor.add_argument("--cache", type=dir_path, default=None, help="gxm cache directory")
    p_clean = sub.add_parser(
        "clean", help="remove left-over containers, images, volumes, work dirs", epilog=EPILOG
    )
    p_clean.add_argument("--dry-run", action="store_true", help="only say what would go")
    p_clean.add_argument("--images", action="store_true", help="also stale gxm toolchain images")
    p_clean.add_argument("--volumes", action="store_true", help="also GOCACHE volumes")
    p_clean.add_argument("--cache", type=dir_path, default=None, help="gxm cache directory")


def _add_results_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=dir_path,
        default=Path("results"),
        help="results directory to look for runs in (default: ./results)",
    )


def _add_report_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    """report: the tables of one finished run."""
    p_report = sub.add_parser("report", help="render the tables of a finished run", epilog=EPILOG)
    p_report.add_argument("run", metavar="RUN", help="run id, run directory, or `latest`")
    p_report.add_argument("--format", choices=FORMATS, default="txt")
    p_report.add_argument(
        "--claims",
        action="store_true",
        help="add the claims section (go_fixtures/claims.yaml judged on this run)",
    )
    p_report.add_argument(
        "--write",
        action="store_true",
        help="also rewrite the run's report files and plots/ (report.md/.txt/.html, bench.txt, "
        "junit.xml)",
    )
    p_report.add_argument(
        "--output",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the report to FILE instead of stdout; md/html link the run's plots relative "
        "to FILE's folder (on stdout: relative to the current directory)",
    )
    p_report.add_argument(
        "--assets-url",
        default=None,
        metavar="URL",
        help="link the plots as URL/<plot>.png (where the run's plots/ is published) instead "
        "of by a relative path (txt, md, mediawiki, html)",
    )
    _add_results_root(p_report)


def _add_history_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    """compare and trend: across finished runs."""
    p_compare = sub.add_parser(
        "compare",
        help="outcome changes, then significant metric changes, from RUN_A to RUN_B",
        epilog="Exit code 1 when an outcome changed into an unexpected one; metric changes "
        "never fail.",
    )
    p_compare.add_argument("run_a", metavar="RUN_A", help="the earlier run (id, dir, `latest`)")
    p_compare.add_argument("run_b", metavar="RUN_B", help="the later run")
    p_compare.add_argument("--format", choices=TABLE_FORMATS, default="txt")
    _add_results_root(p_compare)

    p_trend = sub.add_parser(
        "trend", help="a metric's median per cell across every run under results/", epilog=EPILOG
    )
    p_trend.add_argument("--fixture", default=None, help="one bench fixture (default: all)")
    p_trend.add_argument(
        "--metric", default=None, help="one metric, e.g. gc_pause_p99_ns (default: pauses, GC CPU)"
    )
    p_trend.add_argument("--format", choices=TABLE_FORMATS, default="txt")
    p_trend.add_argument(
        "--plots", type=dir_path, default=None, help="where trend PNGs go (default: <out>/trends)"
    )
    _add_results_root(p_trend)


def _add_publish_command(sub: argparse._SubParsersAction[_Parser]) -> None:
    p_publish = sub.add_parser(
        "publish", help="write a run's pages into a GitHub wiki and push them", epilog=EPILOG
    )
    p_publish.add_argument("run", metavar="RUN", help="run id, run directory, or `latest`")
    p_publish.add_argument(
        "--wiki",
        required=True,
        metavar="DIR_OR_URL",
        help="a wiki checkout, a bare repository, or a URL (https://github.com/O/R.wiki.git)",
    )
    p_publish.add_argument(
        "--cache", type=dir_path, default=None, help="where clones live (default: the gxm cache)"
    )
    _add_results_root(p_publish)


def _terminate_as_interrupt(signum: int, frame: object) -> None:
    """SIGTERM (a CI job cancelled, `timeout`, `kill`) takes the Ctrl-C path: children killed,
    work dir removed, the run record marked interrupted."""
    raise KeyboardInterrupt


def entry() -> NoReturn:
    """The `gxm` command and `python -m harness`: `main()`, then out of the process at once."""
    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """End the process with `code` without tearing the interpreter down: freeing every object of
    matplotlib, numpy and a loaded run one by one took 0.2 s at the end of a run, for nothing.
    What an exit must do still happens first: other threads are joined (daemon threads end, as
    they would), atexit handlers run (temporary directories removed, logging flushed), and
    stdout and stderr are flushed."""
    here = threading.main_thread()
    for thread in threading.enumerate():
        if thread is not here and thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader gone, a stream closed
            stream.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _ArgumentError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    handler = _handler(args.command)
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    try:
        return int(handler(args, argv))
    except GxmError as exc:
        if args.debug:
            raise
        print(f"gxm: {mask_secrets(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"gxm: {_interrupted_line(args.command)}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `gxm list | head`: the reader is gone, nothing to report
        sys.stderr.close()
        return 0
    except OSError as exc:
        if args.debug:
            raise
        print(f"gxm: {mask_secrets(_os_error_line(exc, args.command))}", file=sys.stderr)
        return EXIT_INFRA


def _handler(command: str) -> Callable[[argparse.Namespace, Sequence[str]], int]:
    """`cmd_<command>` of the module that has it: `report_commands` for the commands that read
    finished runs (imported without the run machinery, which `gxm report` never needs), else
    `commands`."""
    from harness import report_commands

    module: ModuleType = report_commands
    if command not in report_commands.COMMANDS:
        from harness import commands

        module = commands
    handler: Callable[[argparse.Namespace, Sequence[str]], int] = getattr(module, f"cmd_{command}")
    return handler


_RUN_COMMANDS = ("run", "cell")  # the commands that fill a run directory `--resume` goes on with


def _interrupted_line(command: str) -> str:
    """What to say after an interrupt (Ctrl-C, SIGTERM): how a run goes on (`--resume`); other
    commands have nothing to resume."""
    if command in _RUN_COMMANDS:
        return "interrupted; partial results kept (resume with `gxm run --resume latest`)"
    return "interrupted"


def _os_error_line(exc: OSError, command: str) -> str:
    """An OS failure (disk full, permissions) as one line: what, where, and for a run how to go
    on once it is fixed (every file gxm wrote is whole, so the run resumes)."""
    where = f": {exc.filename}" if exc.filename else ""
    line = f"{exc.strerror or exc}{where}"
    if command in _RUN_COMMANDS:
        line += "; the results written so far are whole: fix this, then `gxm run --resume latest`"
    return line
