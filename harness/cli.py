"""`gxm` command line: parses arguments, calls the stages, maps errors to exit codes.

This is the only place that catches `GxmError`, prints its one-line message and exits with its
code (DESIGN "CLI"). `--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from harness import __version__
from harness.errors import EXIT_INFRA, EXIT_USAGE, GxmError

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


def _add_selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--matrix",
        type=Path,
        default=None,
        help="matrix file (default: ./matrix.yaml, else the one shipped with gxm)",
    )
    parser.add_argument(
        "--profile", default=None, help="matrix profile (default: smoke when the matrix defines it)"
    )
    parser.add_argument(
        "--cells",
        action="append",
        default=[],
        metavar="PATTERN",
        help="cell ids, nox ids or shell globs ('go1.2*-arenas'); repeat or comma-separate",
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
        "--repeats", type=int, default=None, help="runs per fixture per cell (overrides the matrix)"
    )
    parser.add_argument(
        "--backend",
        choices=("auto", "local", "docker"),
        default=None,
        help="where builds and runs happen (default: the matrix's `backend`)",
    )
    parser.add_argument(
        "--out",
        type=Path,
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
        type=Path,
        default=None,
        help="toolchain and build cache (default: $GXM_CACHE or ~/.cache/gxm)",
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

    p_list = sub.add_parser("list", help="list the cells a matrix selection gives", epilog=EPILOG)
    _add_selection(p_list)
    fmt = p_list.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="cells as JSON")
    fmt.add_argument(
        "--github-matrix",
        action="store_true",
        help="JSON for a GitHub Actions strategy.matrix (fromJSON)",
    )

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
    p_cell.add_argument("--matrix", type=Path, default=None, help="matrix file")
    p_cell.add_argument("--profile", default=None, help="matrix profile")
    _add_run_options(p_cell)

    p_report = sub.add_parser("report", help="render the tables of a finished run", epilog=EPILOG)
    p_report.add_argument("run", metavar="RUN", help="run id, run directory, or `latest`")
    p_report.add_argument("--format", choices=("txt", "md", "json"), default="txt")
    p_report.add_argument(
        "--out",
        type=Path,
        default=Path("results"),
        help="results directory to look for RUN in (default: ./results)",
    )
    return parser


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
    from harness import commands

    handler = getattr(commands, f"cmd_{args.command}")
    try:
        return int(handler(args, argv))
    except GxmError as exc:
        if args.debug:
            raise
        print(f"gxm: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(
            "gxm: interrupted; partial results kept (resume with `gxm run --resume latest`)",
            file=sys.stderr,
        )
        return 130
    except OSError as exc:
        if args.debug:
            raise
        print(f"gxm: {exc}", file=sys.stderr)
        return EXIT_INFRA


def print_json(obj: object) -> None:
    json.dump(obj, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")
