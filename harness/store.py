"""Result storage (DESIGN "Results (schema 1)"): run directories, atomic files, secret masking.

Layout of one run:
    results/<run-id>/run.json               schema "gxm.run/1"
    results/<run-id>/cells/<cell-id>.json   schema "gxm.cell/1"
    results/<run-id>/logs/<cell-id>/…       build.log, <fixture>.<i>.stderr / .stdout

Every file gxm writes goes through `write_text_atomic` / `write_json_atomic`, so a killed run leaves
only whole files and `completed_cells` can tell a resumed run what is already done.
"""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import os
import platform
import random
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, overload

import psutil

from harness.errors import UsageError

log = logging.getLogger("gxm.store")

RUN_SCHEMA = "gxm.run/1"
CELL_SCHEMA = "gxm.cell/1"
RUN_FILE = "run.json"
CELLS_DIR = "cells"
LOGS_DIR = "logs"
RUN_STATUSES = ("running", "complete", "interrupted", "failed")
LOCK_FILE = ".gxm-lock"  # in a run dir: its one writer (harness.runlock)
OWNER_FILE = ".gxm-owner"  # in a work dir: the gxm it belongs to

_UNSAFE_NAME = re.compile(r"[/\\\x00]|^\.\.?$|^$")
_SECRET_NAME = re.compile(r"(?i)(token|secret|passw|key|credential|auth)")
MASK = "***"


# --- atomic files -------------------------------------------------------------------------------


def _json_default(value: object) -> object:
    """Encode the few non-JSON types gxm hands over (paths, enums); anything else is a bug."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _write_atomic(path: Path, write: Callable[[Any], None], *, binary: bool = False) -> None:
    """Write through `write` into a temp file next to `path`, fsync it, then rename over `path`.

    On any failure the temp file is removed and `path` keeps its old content (or stays absent).
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    text_mode: dict[str, Any] = {} if binary else {"encoding": "utf-8", "newline": "\n"}
    try:
        with os.fdopen(fd, "wb" if binary else "w", **text_mode) as tmp:
            os.chmod(tmp_name, 0o644)  # mkstemp makes 0600; results are meant to be shared
            write(tmp)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable where the platform allows opening a directory."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def write_text_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) atomically: readers see the old file or the new one."""
    _write_atomic(Path(path), lambda f: f.write(text))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically (plots and other binary files)."""
    _write_atomic(Path(path), lambda f: f.write(data), binary=True)


def write_json_atomic(path: Path, obj: object) -> None:
    """Replace `path` with `obj` as indented JSON atomically.

    The JSON is streamed into the temp file, so an object that fails to encode half way leaves the
    old `path` untouched and no temp file behind. Paths and enums are written as strings.
    """

    def dump(f: IO[str]) -> None:
        json.dump(obj, f, indent=2, ensure_ascii=False, default=_json_default)
        f.write("\n")

    _write_atomic(Path(path), dump)


# --- run ids and host ---------------------------------------------------------------------------


def _as_utc(now: datetime) -> datetime:
    """`now` in UTC; a naive datetime is taken to be UTC already."""
    return now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now.astimezone(timezone.utc)


def new_run_id(now: datetime, rand: random.Random | None = None) -> str:
    """`20261127T104233Z-ab12`: UTC time of `now` (naive means UTC) plus 4 random hex digits.

    Ids sort by start time; the suffix keeps two runs started in the same second apart.
    """
    utc = _as_utc(now)
    suffix = (rand or random.Random()).getrandbits(16)
    return f"{utc:%Y%m%dT%H%M%SZ}-{suffix:04x}"


def utc_timestamp(now: datetime) -> str:
    """ISO-8601 UTC with a `Z`, to the second: the form run.json uses for `started` / `ended`."""
    return _as_utc(now).strftime("%Y-%m-%dT%H:%M:%SZ")


def host_info() -> dict[str, Any]:
    """What the results need to know about this machine. Never reads environment variables."""
    try:
        load_avg = [round(x, 2) for x in psutil.getloadavg()]
    except (OSError, AttributeError):
        load_avg = []
    return {
        "cpus": psutil.cpu_count(logical=True),
        "memory_bytes": psutil.virtual_memory().total,
        "load_avg": load_avg,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


# --- secrets ------------------------------------------------------------------------------------

_ASSIGNMENT = re.compile(r"""(?<!\w)([A-Za-z_][A-Za-z0-9_]*)=('[^']*'|"[^"]*"|\S*)""")
_JSON_PAIR = re.compile(r'"([A-Za-z_][A-Za-z0-9_]*)"(\s*:\s*)"((?:[^"\\]|\\.)*)"')


def is_secret_name(name: str) -> bool:
    """True for environment names whose values must never reach results or logs."""
    return bool(_SECRET_NAME.search(name))


def _mask_text(text: str) -> str:
    def assignment(m: re.Match[str]) -> str:
        return f"{m[1]}={MASK}" if is_secret_name(m[1]) else m[0]

    def json_pair(m: re.Match[str]) -> str:
        return f'"{m[1]}"{m[2]}"{MASK}"' if is_secret_name(m[1]) else m[0]

    return _JSON_PAIR.sub(json_pair, _ASSIGNMENT.sub(assignment, text))


@overload
def mask_secrets(value: str) -> str: ...
@overload
def mask_secrets(value: Mapping[str, str]) -> dict[str, str]: ...
@overload
def mask_secrets(value: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]: ...


def mask_secrets(value: Any) -> Any:
    """Replace values of secret-looking env names (token, secret, passw, key, credential, auth).

    A mapping or a sequence of (name, value) pairs comes back as a new dict / tuple of pairs. Text
    (a shell line, an env dump, a JSON object) has `NAME=value` and `"NAME": "value"` masked.
    """
    if isinstance(value, str):
        return _mask_text(value)
    if isinstance(value, Mapping):
        return {k: MASK if is_secret_name(k) else v for k, v in value.items()}
    return tuple((k, MASK if is_secret_name(k) else v) for k, v in value)


# --- run directories ----------------------------------------------------------------------------


def _check_name(kind: str, name: str) -> str:
    if _UNSAFE_NAME.search(name):
        raise UsageError(f"invalid {kind} {name!r}: it must be a plain file name")
    return name


@dataclass(frozen=True)
class RunStore:
    """The files of one run directory. Creates nothing until asked; writes only atomically."""

    run_dir: Path

    @classmethod
    def create(cls, results_root: Path, run_id: str) -> RunStore:
        """Make `results_root/<run_id>/` with `cells/` and `logs/`; refuses an existing run."""
        run_dir = Path(results_root) / _check_name("run id", run_id)
        if run_dir.exists():
            raise UsageError(f"run directory {run_dir} already exists; use --resume {run_id}")
        (run_dir / CELLS_DIR).mkdir(parents=True)
        (run_dir / LOGS_DIR).mkdir()
        log.info("results go to %s", run_dir)
        return cls(run_dir)

    @classmethod
    def open(cls, run_dir: Path) -> RunStore:
        """An existing run directory (for --resume); UsageError when it holds no run.json."""
        run_dir = Path(run_dir)
        if not (run_dir / RUN_FILE).is_file():
            raise UsageError(f"{run_dir} is not a gxm run directory (no {RUN_FILE})")
        (run_dir / CELLS_DIR).mkdir(exist_ok=True)
        (run_dir / LOGS_DIR).mkdir(exist_ok=True)
        return cls(run_dir)

    @property
    def run_id(self) -> str:
        return self.run_dir.name

    def write_run(self, run: Mapping[str, Any]) -> Path:
        """Write run.json (schema added when absent) and return its path."""
        path = self.run_dir / RUN_FILE
        write_json_atomic(path, {"schema": RUN_SCHEMA, **run})
        return path

    def cell_path(self, cell_id: str) -> Path:
        return self.run_dir / CELLS_DIR / f"{_check_name('cell id', cell_id)}.json"

    def write_cell(self, cell_doc: Mapping[str, Any]) -> Path:
        """Write cells/<cell-id>.json, the id taken from `cell_doc["cell"]["id"]`."""
        path = self.cell_path(str(cell_doc["cell"]["id"]))
        write_json_atomic(path, {"schema": CELL_SCHEMA, **cell_doc})
        return path

    def log_path(self, cell_id: str, name: str) -> Path:
        """Absolute path of logs/<cell-id>/<name>; creates its directory so writers can open it."""
        directory = self.run_dir / LOGS_DIR / _check_name("cell id", cell_id)
        directory.mkdir(parents=True, exist_ok=True)
        return directory / _check_name("log name", name)

    def relative(self, path: Path) -> str:
        """`path` as recorded in cell json: relative to the run dir, with `/` separators."""
        return Path(path).relative_to(self.run_dir).as_posix()


# --- reading runs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunData:
    """A loaded run: run.json as a dict and the cell documents sorted by cell id (naturally)."""

    run_dir: Path
    run: dict[str, Any]
    cells: tuple[dict[str, Any], ...]

    @property
    def run_id(self) -> str:
        return str(self.run.get("run_id") or self.run_dir.name)

    def cell_ids(self) -> list[str]:
        """Cell ids in matrix order (run.json `cells`, including cells without a result yet),
        then ids of cell files run.json does not list (e.g. written by a newer matrix)."""
        listed = [str(i) for i in self.run.get("cells", [])]
        return listed + [c["cell"]["id"] for c in self.cells if c["cell"]["id"] not in listed]

    def cell(self, cell_id: str) -> dict[str, Any] | None:
        """The cell document with this id, or None when the run has no result for it."""
        return next((c for c in self.cells if c["cell"]["id"] == cell_id), None)

    def missing_cells(self) -> list[str]:
        """Cells run.json lists that have no cell file (not run yet, or the run was killed)."""
        present = {c["cell"]["id"] for c in self.cells}
        return [i for i in self.run.get("cells", []) if i not in present]


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders `go1.9` before `go1.22` (digit runs compare as numbers)."""
    parts = re.split(r"(\d+)", text)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)


def _read_json(path: Path, schema: str) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: unreadable ({exc}); remove it and resume the run") from None
    if not isinstance(doc, dict) or doc.get("schema") != schema:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise UsageError(f"{path}: expected schema {schema!r}, found {found!r}")
    return doc


def _read_cell(path: Path) -> dict[str, Any]:
    doc = _read_json(path, CELL_SCHEMA)
    if not isinstance(doc.get("cell"), dict) or "id" not in doc["cell"]:
        raise UsageError(f"{path}: cell document without cell.id")
    return doc


def _cell_files(run_dir: Path) -> Iterator[Path]:
    cells_dir = run_dir / CELLS_DIR
    if cells_dir.is_dir():
        yield from (p for p in cells_dir.glob("*.json") if not p.name.startswith("."))


def load_run(run_dir: Path) -> RunData:
    """Read run.json and every cell file; UsageError naming the file when one is not ours."""
    run_dir = Path(run_dir)
    if not (run_dir / RUN_FILE).is_file():
        raise UsageError(f"{run_dir} is not a gxm run directory (no {RUN_FILE})")
    run = _read_json(run_dir / RUN_FILE, RUN_SCHEMA)
    cells = [_read_cell(p) for p in _cell_files(run_dir)]
    cells.sort(key=lambda c: natural_key(str(c["cell"]["id"])))
    return RunData(run_dir=run_dir, run=run, cells=tuple(cells))


def cell_has_infra_error(cell_doc: Mapping[str, Any]) -> bool:
    """True when the cell's build or any of its runs ended in infra-error."""
    if cell_doc.get("build", {}).get("status") == "infra-error":
        return True
    fixtures = cell_doc.get("fixtures", {}).values()
    return any(r.get("outcome") == "infra-error" for f in fixtures for r in f.get("runs", []))


def completed_cells(run_dir: Path) -> frozenset[str]:
    """Cells a resumed run may skip: the file exists, parses as a gxm.cell/1 document, and holds
    no infra-error (DESIGN: infra errors are never blamed on the cell and are redone on resume)."""
    done = set()
    for path in _cell_files(Path(run_dir)):
        try:
            doc = _read_cell(path)
        except UsageError as exc:
            log.warning("will redo cell %s: %s", path.stem, exc)
            continue
        if not cell_has_infra_error(doc):
            done.add(path.stem)
    return frozenset(done)


def list_runs(results_root: Path) -> list[Path]:
    """Run directories under `results_root` (those holding run.json), oldest first by id."""
    root = Path(results_root)
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if (p / RUN_FILE).is_file()), key=lambda p: p.name)


def resolve_run(arg: str, results_root: Path) -> Path:
    """A run directory from `latest`, a path (to the dir or its run.json), a run id, or a unique
    prefix of one. UsageError with a one-line hint when nothing (or more than one run) matches."""
    root = Path(results_root)
    if arg == "latest":
        runs = list_runs(root)
        if not runs:
            raise UsageError(f"no runs under {root}/ yet; start one with `gxm run`")
        return runs[-1]
    as_path = Path(arg)
    if as_path.name == RUN_FILE and as_path.is_file():
        return as_path.parent
    if (as_path / RUN_FILE).is_file():
        return as_path
    if not _UNSAFE_NAME.search(arg) and (root / arg / RUN_FILE).is_file():
        return root / arg
    matches = [p for p in list_runs(root) if p.name.startswith(arg)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        names = ", ".join(p.name for p in matches[:3])
        raise UsageError(
            f"run {arg!r} is ambiguous under {root}/ ({names}, …); give more of the id"
        )
    raise UsageError(f"no run {arg!r} under {root}/; give a run id, a run directory, or `latest`")
