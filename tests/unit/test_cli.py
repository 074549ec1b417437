"""cli.py: usage errors are one line with exit code 2; selection errors exit 3."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from gxm_process import gxm, python_c

from harness.cli import main

REPO = Path(__file__).resolve().parents[2]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_unknown_option_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "run", "--no-such-option")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_matrix_file_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "list", "--matrix", str(tmp_path / "nope.yaml"))
    assert code == 2 and "nope.yaml" in err


def test_bad_matrix_names_file_and_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "matrix.yaml"
    bad.write_text("schema: 1\ngo: ['1.22']\ngoexperiment: ['']\nfixtures: all\nbogus: 1\n")
    code, _, err = run_cli(capsys, "list", "--matrix", str(bad))
    assert code == 2
    assert f"{bad}:5" in err and len(err.strip().splitlines()) == 1


def test_nothing_selected_is_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(
        capsys, "list", "--matrix", str(REPO / "matrix.yaml"), "--cells", "go9.99-nothing"
    )
    assert code == 3 and "go9.99-nothing" in err


def test_nightly_list_has_45_cells_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys, "list", "--matrix", str(REPO / "matrix.yaml"), "--profile", "nightly", "--json"
    )
    assert code == 0
    cells = json.loads(out)
    assert len(cells) == 45  # 7 Go x 5 experiments, + 2 Go x 5 GODEBUG/sanitizer/cgo columns
    assert {"id": "go1.22-arenas", "nox_session": "cell(go1_22-arenas)"}.items() <= next(
        c for c in cells if c["id"] == "go1.22-arenas"
    ).items()


def test_github_matrix_is_an_include_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys,
        "list",
        "--matrix",
        str(REPO / "matrix.yaml"),
        "--profile",
        "nightly",
        "--github-matrix",
    )
    assert code == 0
    matrix = json.loads(out)
    assert len(matrix["include"]) == 45
    assert all(isinstance(v, str) for entry in matrix["include"] for v in entry.values())


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("list", "run", "cell", "report"):
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0
        assert "usage: gxm" in capsys.readouterr().out


def test_an_os_error_names_its_path_and_how_to_go_on() -> None:
    """Disk full printed `[Errno 28] No space left on device` with no path and no resume hint."""
    from harness.cli import _os_error_line

    line = _os_error_line(OSError(28, "No space left on device", "/r/run.json"), "run")
    assert line.startswith("No space left on device: /r/run.json")
    assert "gxm run --resume latest" in line and "\n" not in line


@pytest.mark.parametrize(
    ("command", "hint"), [("run", True), ("cell", True), ("report", False), ("publish", False)]
)
def test_an_interrupt_says_how_to_resume_only_for_what_resumes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str, hint: bool
) -> None:
    """Ctrl-C (or SIGTERM) is exit 130 and one line; `gxm run --resume` only after a command
    that was filling a run directory (an interrupted report has nothing to resume)."""
    from harness import commands, report_commands

    def interrupted(*_args: object) -> int:
        raise KeyboardInterrupt

    module = report_commands if command in report_commands.COMMANDS else commands
    monkeypatch.setattr(module, f"cmd_{command}", interrupted)
    argv = {"run": ["run"], "cell": ["cell", "go1.22-default"], "report": ["report", "latest"],
            "publish": ["publish", "latest", "--wiki", "w"]}[command]  # fmt: skip
    code, _, err = run_cli(capsys, *argv)
    assert code == 130
    assert err.startswith("gxm: interrupted") and err.count("\n") == 1
    assert ("gxm run --resume latest" in err) is hint


def test_exit_now_keeps_what_an_exit_must_do(tmp_path: Path) -> None:
    """`gxm` leaves without tearing the interpreter down, but still joins other threads, runs
    the atexit handlers (a temporary directory's cleanup among them) and flushes its output."""
    program = textwrap.dedent(
        f"""
        import pathlib, sys, tempfile, threading, time
        from harness.cli import exit_now
        out = pathlib.Path({str(tmp_path)!r})
        kept = tempfile.TemporaryDirectory(dir=out)  # removed by its finalizer at exit
        (out / "dir.txt").write_text(kept.name)
        def late():
            time.sleep(0.3)
            (out / "late.txt").write_text("written")
        threading.Thread(target=late).start()
        sys.stdout.write("no newline yet")  # still in the buffer: stdout is a pipe
        exit_now(3)
        print("never")
        """
    )
    done = python_c(program)
    assert done.returncode == 3, done.stderr
    assert done.stdout == "no newline yet"
    assert (tmp_path / "late.txt").read_text() == "written"
    assert not Path((tmp_path / "dir.txt").read_text()).exists()


def test_python_m_harness_exits_with_the_command_s_code(tmp_path: Path) -> None:
    done = gxm("list", "--matrix", str(tmp_path / "nope.yaml"), cwd=tmp_path, timeout=60)
    assert done.returncode == 2 and "nope.yaml" in done.stderr
    done = gxm("list", "--profile", "smoke", "--json", cwd=REPO, timeout=60)
    assert done.returncode == 0 and json.loads(done.stdout)
