"""Bad input of every kind gxm reads — arguments, matrix files, run directories, cell files —
ends in one line on stderr and exit code 2 (4 for unreachable infrastructure), never a traceback
and never a run. `CASES` is also the table of the reliability note (see `bad_input_table`)."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.cli import main

REPO = Path(__file__).resolve().parents[2]
MATRICES = REPO / "tests" / "data" / "matrices"
MINIMAL = "schema: 1\nbackend: local\ngo: ['1.22']\ngoexperiment: ['']\nfixtures: all\n"
RUN_ID = "20260101T000000Z-abcd"

Setup = Callable[[Path], list[str]]


def _matrix(body: str | bytes) -> Setup:
    def setup(tmp: Path) -> list[str]:
        path = tmp / "matrix.yaml"
        path.write_bytes(body if isinstance(body, bytes) else body.encode())
        return ["list", "--matrix", str(path)]

    return setup


def _argv(*words: str) -> Setup:
    return lambda tmp: [w.replace("{tmp}", str(tmp)) for w in words]


def _run_dir(tmp: Path, run_json: str | None = None, cell: str | None = None) -> Path:
    run_dir = tmp / "results" / RUN_ID
    (run_dir / "cells").mkdir(parents=True)
    if run_json is not None:
        (run_dir / "run.json").write_text(run_json)
    if cell is not None:
        (run_dir / "cells" / "go1.22-default.json").write_text(cell)
    return run_dir


GOOD_RUN = json.dumps(
    {"schema": "gxm.run/1", "run_id": RUN_ID, "status": "complete", "cells": ["go1.22-default"],
     "matrix": {"path": str(REPO / "matrix.yaml"), "sha256": "x", "profile": "smoke"}, "seed": 1,
     "command": ["gxm", "run"], "backend": "local"}
)  # fmt: skip


def _report_of(run_json: str | None, cell: str | None = None) -> Setup:
    def setup(tmp: Path) -> list[str]:
        return ["report", str(_run_dir(tmp, run_json, cell))]

    return setup


def _locked_resume(tmp: Path) -> list[str]:
    """A run another (here: a still open) writer holds: its lock names a live gxm."""
    run_dir = _run_dir(tmp, GOOD_RUN)
    handle = open(run_dir / ".gxm-lock", "w")  # noqa: SIM115 - held for the test's life
    handle.write(json.dumps({"pid": 1, "started": 0, "host": os.uname().nodename,
                             "run_id": RUN_ID}))  # fmt: skip
    handle.flush()
    fcntl.flock(handle, fcntl.LOCK_EX)
    _HELD.append(handle)
    return ["run", "--resume", RUN_ID, "--out", str(tmp / "results"), "--backend", "local"]


_HELD: list[object] = []
NOT_UTF8 = os.fsdecode(b"/tmp/gxm-\xff-out")

# (what, setup → argv, exit code)
CASES: list[tuple[str, Setup, int]] = [
    # command line
    ("unknown option", _argv("run", "--no-such-option"), 2),
    ("unknown command", _argv("frobnicate"), 2),
    ("--repeats -1", _argv("run", "--repeats", "-1"), 2),
    ("--repeats 0", _argv("run", "--repeats", "0"), 2),
    ("--repeats 1000000000", _argv("run", "--repeats", "1000000000"), 2),
    ("--repeats not a number", _argv("run", "--repeats", "many"), 2),
    ("--out with a non-UTF-8 byte", _argv("run", "--out", NOT_UTF8), 2),
    ("--out naming a file", _argv("run", "--out", str(REPO / "matrix.yaml")), 2),
    ("--cache naming a file", _argv("run", "--cache", str(REPO / "matrix.yaml")), 2),
    ("--backend unknown", _argv("run", "--backend", "podman"), 2),
    ("--shard 3/2", _argv("run", "--shard", "3/2"), 2),
    ("--shard not i/n", _argv("run", "--shard", "half"), 2),
    ("--shards 0", _argv("list", "--github-matrix", "--shards", "0"), 2),
    ("--seed not a number", _argv("run", "--seed", "soon"), 2),
    ("--jobs 0", _argv("run", "--jobs", "0"), 2),
    ("--fixtures unknown name", _argv("run", "--fixtures", "no_such_fixture"), 2),
    ("--matrix missing file", _argv("list", "--matrix", "{tmp}/nope.yaml"), 2),
    ("cell id naming two cells", _argv("cell", "go1.2*-arenas"), 2),
    ("report --format unknown", _argv("report", "latest", "--format", "pdf"), 2),
    ("report without RUN", _argv("report"), 2),
    ("--resume of no such run", _argv("run", "--resume", "nosuchrun", "--out", "{tmp}"), 2),
    ("merge of a non-run dir", _argv("merge", "{tmp}"), 2),
    # matrix files
    ("matrix: tab indentation", _matrix((MATRICES / "bad_tab.yaml").read_bytes()), 2),
    ("matrix: duplicate key", _matrix((MATRICES / "bad_duplicate.yaml").read_bytes()), 2),
    ("matrix: misspelt key", _matrix((MATRICES / "bad_typo_key.yaml").read_bytes()), 2),
    ("matrix: go: 1.20 as a float", _matrix((MATRICES / "bad_float_version.yaml").read_bytes()), 2),
    ("matrix: bad size", _matrix((MATRICES / "bad_size.yaml").read_bytes()), 2),
    ("matrix: not UTF-8", _matrix(MINIMAL.encode() + b"# \xff\xfe\n"), 2),
    ("matrix: empty file", _matrix(""), 2),
    ("matrix: a list at the top", _matrix("- 1\n- 2\n"), 2),
    ("matrix: over 1 MiB", _matrix(MINIMAL + "#" * (2 << 20) + "\n"), 2),
    ("matrix: repeats 0", _matrix(MINIMAL + "defaults: {repeats: 0}\n"), 2),
    ("matrix: repeats 10^9", _matrix(MINIMAL + "defaults: {repeats: 1000000000}\n"), 2),
    ("matrix: log_limit 1 byte", _matrix(MINIMAL + "defaults: {log_limit: 1}\n"), 2),
    (
        "matrix: alias bomb",
        _matrix(
            "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
            "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
            "e: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
        ),
        2,
    ),  # fmt: skip
    # run directories and the files in them
    ("report: dir without run.json", _argv("report", "{tmp}"), 2),
    ("report: run.json deleted (cells left)", _report_of(None), 2),
    (
        "report latest: only damaged runs",
        lambda t: (_run_dir(t), ["report", "latest", "--out", str(t / "results")])[1],
        2,
    ),  # fmt: skip
    ("report: run.json not JSON", _report_of("{not json"), 2),
    ("report: run.json of another schema", _report_of('{"schema": "other/9"}'), 2),
    ("report: truncated cell file", _report_of(GOOD_RUN, '{"schema": "gxm.cell/1", "cel'), 2),
    ("resume: run held by a live gxm", _locked_resume, 2),
    # infrastructure
    ("--backend docker, no engine", _argv("run", "--backend", "docker", "--out", "{tmp}"), 4),
]


@pytest.fixture(autouse=True)
def _no_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    monkeypatch.setenv("GXM_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(("what", "setup", "code"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_its_exit_code(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, what: str, setup: Setup, code: int
) -> None:
    argv = setup(tmp_path)
    try:
        assert main(argv) == code, what
    finally:
        for handle in _HELD:
            handle.close()  # type: ignore[attr-defined]
        _HELD.clear()
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err[-2000:]
    assert lines[0].startswith("gxm"), lines[0]
    assert not (tmp_path / "results").exists() or what.startswith(("report", "resume")), what


def test_there_are_at_least_thirty_kinds() -> None:
    assert len(CASES) >= 30


def bad_input_table() -> str:
    """The Markdown table of CASES as gxm answers them now (for the reliability note)."""
    import contextlib
    import io
    import tempfile

    rows = ["| bad input | exit | the one line |", "|---|---|---|"]
    for what, setup, _ in CASES:
        with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
            os.environ["DOCKER_HOST"] = f"unix://{tmp}/no-engine.sock"
            os.environ["GXM_CACHE"] = f"{tmp}/cache"
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                code = main(setup(Path(tmp)))
            for handle in _HELD:
                handle.close()  # type: ignore[attr-defined]
            _HELD.clear()
        line = err.getvalue().strip().replace(tmp, "$TMP").replace("|", "\\|")
        rows.append(f"| {what} | {code} | `{line}` |")
    return "\n".join(rows)
