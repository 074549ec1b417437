"""Selection: what the command line asks for, completed from a run's record on --resume."""

from __future__ import annotations

from pathlib import Path

from harness.cli import build_parser
from harness.selection import Selection
from harness.store.records import MatrixRef, RunDocument

RECORDED = RunDocument(
    run_id="20261127T104233Z-ab12",
    backend="local",
    matrix=MatrixRef("/m/matrix.yaml", "ab" * 32, "nightly"),
    seed=42,
    cells=("go1.22-default", "go1.22-arenas"),
    fixtures=("cmem_finalizer",),
    repeats=2,
)


def test_resume_takes_what_the_command_line_leaves_out_from_the_run_record() -> None:
    args = build_parser().parse_args(["run", "--resume", "latest"])
    resumed = Selection.from_args(args).resumed(RECORDED)
    assert resumed.matrix == Path("/m/matrix.yaml")
    assert resumed.profile == "nightly"
    assert resumed.cells == ("go1.22-default", "go1.22-arenas")
    assert resumed.fixtures == ("cmem_finalizer",)
    assert resumed.repeats == 2
    assert resumed.backend == "local"
    assert args.cell_patterns == [] and args.repeats is None  # the parsed arguments stay as given


def test_options_given_again_on_resume_win_over_the_record() -> None:
    argv = ["run", "--resume", "latest", "--repeats", "5", "--backend", "docker", "--cells", "a,b"]
    resumed = Selection.from_args(build_parser().parse_args(argv)).resumed(RECORDED)
    assert (resumed.repeats, resumed.backend, resumed.cells) == (5, "docker", ("a", "b"))
    assert resumed.profile == "nightly"
