"""The noxfile's install step: `pip install -e .` only when the project's metadata changed."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from types import ModuleType, SimpleNamespace

ROOT = Path(__file__).resolve().parents[2]


@functools.cache  # loading registers the sessions with nox; once is enough
def _noxfile() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gxm_noxfile", ROOT / "noxfile.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Session:
    """What `_install` uses of a nox session: its venv location and `install`."""

    def __init__(self, venv_dir: Path) -> None:
        self.virtualenv = SimpleNamespace(location=str(venv_dir))
        self.installs: list[tuple[str, ...]] = []

    def install(self, *args: str) -> None:
        self.installs.append(args)


def test_install_runs_once_per_metadata_and_extras(tmp_path: Path) -> None:
    noxfile = _noxfile()
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "gxm"\nversion = "0.1.0"\n')
    session = _Session(tmp_path / "venv")
    (tmp_path / "venv").mkdir()
    for _ in range(3):
        noxfile._install(session, pyproject=pyproject)
    assert session.installs == [("-e", ".")]
    noxfile._install(session, "test", pyproject=pyproject)
    assert session.installs[-1] == ("-e", ".[test]")
    pyproject.write_text('[project]\nname = "gxm"\nversion = "0.2.0"\n')
    noxfile._install(session, "test", pyproject=pyproject)
    assert len(session.installs) == 3


def test_install_without_a_venv_always_installs(tmp_path: Path) -> None:
    noxfile = _noxfile()
    session = _Session(tmp_path)
    session.virtualenv = SimpleNamespace(location=None)
    noxfile._install(session)
    noxfile._install(session)
    assert len(session.installs) == 2
