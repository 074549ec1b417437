"""The `gxm bisect` command line: which fixture, which releases, what bad means, how hard to try.

Only argparse here, so parsing any gxm command stays cheap; `bisect_args` turns the parsed
arguments into a request.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

BISECT_EPILOG = (
    "Exit codes: 0 the first bad release was named, 2 usage error or a bisect the endpoints do "
    "not support (the bad release never fails, the good one fails too), 4 infrastructure."
)


def add_bisect_parser(sub: argparse._SubParsersAction[Any]) -> None:
    """`gxm bisect`: the fixture, the two releases, the cell; then what bad means, and effort."""
    p = sub.add_parser(
        "bisect",
        help="the first Go release where a fixture's outcome or a metric changed",
        description=(
            "Lists the Go releases the toolchain provider has from --good to --bad, then "
            "binary-searches them, running FIXTURE at each probe until the probe is decided. "
            "A probe is bad at its first run that fails like the bad release; good only after "
            "as many clean runs as the flake math asks for. Written as a run directory."
        ),
        epilog=BISECT_EPILOG,
    )
    p.add_argument("fixture", metavar="FIXTURE", help="fixture name (go_fixtures or external)")
    p.add_argument("--good", required=True, metavar="VERSION", help="a Go release that is good")
    p.add_argument("--bad", required=True, metavar="VERSION", help="a Go release that is bad")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--goexperiment",
        default="",
        metavar="VALUE",
        help="GOEXPERIMENT of every probe (default: the toolchain default)",
    )
    where.add_argument(
        "--cell",
        default=None,
        metavar="ID",
        help="take the experiment, the other axes and the settings from this matrix cell",
    )
    p.add_argument("--matrix", type=Path, default=None, help="matrix file (settings, externals)")
    p.add_argument("--profile", default=None, help="matrix profile")
    p.add_argument(
        "--backend",
        choices=("auto", "local", "docker"),
        default=None,
        help="where builds and runs happen (default: the matrix's `backend`)",
    )
    p.add_argument("--out", type=Path, default=Path("results"), help="results directory")
    p.add_argument("--seed", type=int, default=None, help="seed of the runs (default: random)")
    p.add_argument("--cache", type=Path, default=None, help="toolchain and build cache")
    _add_criteria(p)
    _add_effort(p)


def _add_criteria(p: argparse.ArgumentParser) -> None:
    bad = p.add_argument_group("what bad means (default: the bad release's dominant failure)")
    bad.add_argument("--outcome", default=None, help="bad = a run ending so (crash, timeout, …)")
    bad.add_argument(
        "--signature", default=None, metavar="TEXT", help="bad = a crash signature containing TEXT"
    )
    bad.add_argument(
        "--metric",
        default=None,
        metavar="NAME",
        help="bad = this metric worse than at --good (gc_pause_p99_ns, ns_per_op, …)",
    )
    bad.add_argument(
        "--threshold",
        type=float,
        default=10.0,
        metavar="PCT",
        help="with --metric: worse by at least PCT percent, with p < 0.05 (default 10)",
    )


def _add_effort(p: argparse.ArgumentParser) -> None:
    effort = p.add_argument_group("how many runs")
    effort.add_argument(
        "--budget",
        type=int,
        default=100,
        metavar="N",
        help="runs of the bad release looking for its failure before giving up (default 100)",
    )
    effort.add_argument(
        "--failures",
        type=int,
        default=5,
        metavar="K",
        help="failures the bad release must show before its rate is trusted (default 5)",
    )
    effort.add_argument(
        "--runs",
        type=int,
        default=10,
        metavar="N",
        help="with --metric: runs per release (default 10)",
    )
