# /// script
# dependencies = ["nox>=2025.2.9", "pyyaml>=6.0"]
# ///
"""nox sessions for gxm. Thin on purpose: every session calls `gxm` or pytest.

- `nox` (default session `matrix`): run the smoke profile on the embedded default backend.
- `nox -s "cell(go1_22-arenas)"`: run one cell of the nightly matrix; `nox -t arenas -l` lists a
  column, `nox -t go1.22 -l` a row. Extra arguments pass through: `-- --repeats 20`.
- `nox -s bisect -- FIXTURE --good 1.25.5 --bad 1.26.1`: which Go release changed an outcome.
- `nox -s tests`: unit and integration tests. `nox -s lint`: ruff, mypy --strict, import cycles.

The cell sessions are generated from matrix.yaml with the same `load_matrix` the CLI uses (the
`# /// script` block above makes nox provide pyyaml for that).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from harness.matrix import load_matrix  # noqa: E402
from harness.model import axis_id, experiment_id  # noqa: E402

nox.needs_version = ">=2025.2.9"
nox.options.sessions = ["matrix"]
nox.options.reuse_venv = "yes"


INSTALL_STAMP = "gxm-install.sha256"


def _install(session: nox.Session, *extras: str, pyproject: Path = ROOT / "pyproject.toml") -> None:
    """`pip install -e .[extras]` into the session's venv, only when the project's metadata
    (pyproject.toml) or the extras changed since the last install into that venv: an editable
    install already sees every source change, and pip's resolver costs seconds per session."""
    target = f".[{','.join(extras)}]" if extras else "."
    digest = hashlib.sha256(pyproject.read_bytes() + target.encode()).hexdigest()
    location = getattr(session.virtualenv, "location", None)
    stamp = Path(location) / INSTALL_STAMP if location else None
    if stamp is not None and stamp.is_file() and stamp.read_text() == digest:
        return
    session.install("-e", target)
    if stamp is not None:
        stamp.write_text(digest)


def _quiet_script_mode() -> None:
    """When nox's own interpreter lacks pyyaml, nox's script mode re-runs `pip install nox pyyaml`
    into .nox/_nox_script_mode at every start, printing a dozen "Requirement already satisfied"
    lines. A pip.conf in that environment (pip reads `<sys.prefix>/pip.conf`) keeps those runs
    quiet from the second start on; nox never passes pip options there itself."""
    if os.environ.get("NOX_SCRIPT_MODE") != "none" or Path(sys.prefix).name != "_nox_script_mode":
        return
    conf = Path(sys.prefix) / "pip.conf"
    if not conf.exists():
        conf.write_text("[global]\nquiet = 1\ndisable-pip-version-check = true\n")


_quiet_script_mode()


def _nightly_cells() -> list[nox.param]:
    matrix = load_matrix(ROOT / "matrix.yaml", "nightly")
    return [
        nox.param(
            plan.cell.id,
            id=plan.cell.nox_id,
            tags=[
                f"go{plan.cell.go}",
                experiment_id(plan.cell.goexperiment),
                *(axis_id(name, value) for name, value in plan.cell.axes),
            ],
        )
        for plan in matrix.cells
    ]


@nox.session
def matrix(session: nox.Session) -> None:
    """Run the smoke profile (or `-- --profile nightly`, or any `gxm run` options)."""
    _install(session)
    session.run("gxm", "run", *(session.posargs or ["--profile", "smoke"]))


@nox.session
@nox.parametrize("cell", _nightly_cells())
def cell(session: nox.Session, cell: str) -> None:
    """Run one cell of the nightly matrix (`-- --fixtures X --repeats N` pass through)."""
    _install(session)
    session.run("gxm", "run", "--profile", "nightly", "--cells", cell, *session.posargs)


@nox.session(default=False)
def nightly(session: nox.Session) -> None:
    """The whole nightly profile on this machine (`-- --backend docker` etc. pass through)."""
    _install(session)
    session.run("gxm", "run", "--profile", "nightly", *session.posargs)


@nox.session(default=False)
def report(session: nox.Session) -> None:
    """Every report format of a run (default: the latest) into its directory."""
    _install(session)
    run = session.posargs[0] if session.posargs else "latest"
    session.run("gxm", "report", run, "--write", success_codes=[0, 1])


@nox.session(default=False)
def publish(session: nox.Session) -> None:
    """Publish a run to a wiki: `nox -s publish -- RUN --wiki DIR_OR_URL`."""
    _install(session)
    if not session.posargs:
        session.error("usage: nox -s publish -- RUN --wiki DIR_OR_URL")
    session.run("gxm", "publish", *session.posargs)


@nox.session(default=False)
def bisect(session: nox.Session) -> None:
    """The first Go release where a fixture changed: `nox -s bisect -- FIXTURE --good V --bad V`."""
    _install(session)
    if not session.posargs:
        session.error("usage: nox -s bisect -- FIXTURE --good VERSION --bad VERSION [gxm options]")
    session.run("gxm", "bisect", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """Unit tests, then integration tests with real Go toolchains (`-- -k X` passes through)."""
    _install(session, "test")
    session.run("pytest", "-q", "-rs", *(session.posargs or ["tests"]))


@nox.session(default=False)
def perf(session: nox.Session) -> None:
    """gxm against a hand-written build-and-run loop, both backends, interleaved pairs
    (`-- --pairs 6 --backend local` etc. pass through; see benchmarks/overhead.py); then what the
    pooled p99 pause test can tell apart here (benchmarks/pause_power.py)."""
    _install(session)
    session.run("python", "benchmarks/overhead.py", *session.posargs)
    session.run("python", "benchmarks/pause_power.py", "--length", "10")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and format check, mypy --strict on the package, and the import-cycle check."""
    _install(session, "lint")
    session.run("ruff", "check", "harness", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "harness", "tests", "benchmarks", "noxfile.py")
    session.run("mypy", "--strict", "harness")
    session.run("pytest", "-q", "tests/unit/test_imports.py")
