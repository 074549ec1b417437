"""The one owner of the on-disk results format: run directories, their paths and schema strings.

Layout of one run (schema 1):
    <results>/<run-id>/run.json               schema "gxm.run/1"   (records.RunDocument)
    <results>/<run-id>/cells/<cell-id>.json   schema "gxm.cell/2"  (records.CellResult; /1 read)
    <results>/<run-id>/logs/<cell-id>/…       build.log, <fixture>.<i>.stderr / .stdout
    <results>/<run-id>/journal.jsonl          schema "gxm.journal/1": runs recorded since the cell
                                              documents were written (only while a run is
                                              unfinished; `--resume` folds it in)
    <results>/<run-id>/bisect.json            schema "gxm.bisect/1" (`gxm bisect` runs only: the
                                              releases, every probe, the verdict; each probed
                                              release is a cell holding its runs, as in any run)
    <results>/<run-id>/report.*, bench.txt, junit.xml, plots/, claims/   (derived, rewritable)

Nothing else in gxm names a path inside a run directory or a schema string: stages ask `RunStore`
for paths and hand it records; readers use `load_run`. Every file is written atomically
(`harness.atomic`), so a killed run leaves only whole files and `completed_cells` can tell a
resumed run what is already done.
"""

from __future__ import annotations

import json
import logging
import platform
import random
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.atomic import write_json_atomic, write_text_atomic
from harness.errors import UsageError
from harness.store.bisect_record import BisectRecord
from harness.store.journal import RunJournal
from harness.store.records import CellResult, RunDocument

log = logging.getLogger("gxm.store")

RUN_SCHEMA = "gxm.run/1"
CELL_SCHEMA = "gxm.cell/2"  # /2 added the `fail` outcome and per-test results; /1 is still read
CELL_SCHEMAS_READ = ("gxm.cell/1", CELL_SCHEMA)
BISECT_SCHEMA = "gxm.bisect/1"
JOURNAL_SCHEMA = "gxm.journal/1"
RUN_FILE = "run.json"
JOURNAL_FILE = "journal.jsonl"  # runs recorded since the cell documents were last written
BISECT_FILE = "bisect.json"
CELLS_DIR = "cells"
LOGS_DIR = "logs"
CLAIMS_DIR = "claims"
PLOTS_DIR = "plots"
LOCK_FILE = ".gxm-lock"  # in a run dir: its one writer (harness.store.lock)
OWNER_FILE = ".gxm-owner"  # in a work dir: the gxm it belongs to

_UNSAFE_NAME = re.compile(r"[/\\\x00]|^\.\.?$|^$")


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


def utc_timestamp_ms(now: datetime) -> str:
    """ISO-8601 UTC with a `Z`, to the millisecond: when a run started and ended."""
    return _as_utc(now).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def host_info() -> dict[str, Any]:
    """What the results need to know about this machine. Never reads environment variables.

    psutil is imported here, not at module level: the noxfile loads the matrix (and through it
    this package) in nox's own environment, which has pyyaml and nothing else of ours."""
    import psutil

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


# --- run directories ----------------------------------------------------------------------------


def _check_name(kind: str, name: str) -> str:
    if _UNSAFE_NAME.search(name):
        raise UsageError(f"invalid {kind} {name!r}: it must be a plain file name")
    return name


def is_run_dir(path: Path) -> bool:
    """Whether `path` is a gxm run directory (it holds a run record)."""
    return (Path(path) / RUN_FILE).is_file()


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
        return cls(run_dir.resolve())

    @classmethod
    def open(cls, run_dir: Path) -> RunStore:
        """An existing run directory (for --resume); UsageError when it holds no run.json."""
        run_dir = Path(run_dir)
        if not is_run_dir(run_dir):
            raise UsageError(f"{run_dir} is not a gxm run directory (no {RUN_FILE})")
        (run_dir / CELLS_DIR).mkdir(exist_ok=True)
        (run_dir / LOGS_DIR).mkdir(exist_ok=True)
        return cls(run_dir)

    @property
    def run_id(self) -> str:
        return self.run_dir.name

    @property
    def run_file(self) -> Path:
        return self.run_dir / RUN_FILE

    def write_run(self, run: RunDocument) -> Path:
        """Write run.json and return its path."""
        write_json_atomic(self.run_file, {"schema": RUN_SCHEMA, **run.to_json()})
        return self.run_file

    def read_run(self) -> RunDocument:
        return RunDocument.from_json(_read_json(self.run_file, RUN_SCHEMA), self.run_id)

    def write_bisect(self, bisect: BisectRecord) -> Path:
        """Write bisect.json (a `gxm bisect` run; rewritten after every probe)."""
        path = self.run_dir / BISECT_FILE
        write_json_atomic(path, {"schema": BISECT_SCHEMA, **bisect.to_json()})
        return path

    def read_bisect(self) -> BisectRecord | None:
        """bisect.json, or None when the run is not a bisect."""
        path = self.run_dir / BISECT_FILE
        if not path.is_file():
            return None
        return BisectRecord.from_json(_read_json(path, BISECT_SCHEMA))

    def cell_path(self, cell_id: str) -> Path:
        return self.run_dir / CELLS_DIR / f"{_check_name('cell id', cell_id)}.json"

    def write_cell(self, cell: CellResult) -> Path:
        """Write cells/<cell-id>.json."""
        path = self.cell_path(cell.id)
        write_json_atomic(path, {"schema": CELL_SCHEMA, **cell.to_json()})
        return path

    def read_cell(self, cell_id: str) -> CellResult | None:
        """The stored result of one cell, or None when the run has none for it."""
        path = self.cell_path(cell_id)
        return _cell_result(_read_cell(path), path) if path.is_file() else None

    def cell_results(self) -> dict[str, CellResult]:
        """Every cell document of the run, by cell id (for a resumed run)."""
        return {p.stem: _cell_result(_read_cell(p), p) for p in _cell_files(self.run_dir)}

    def journal(self) -> RunJournal:
        """The run's journal of run records not yet in a cell document (harness.store.journal)."""
        return RunJournal(self.run_dir / JOURNAL_FILE, JOURNAL_SCHEMA)

    def log_dir(self, cell_id: str) -> Path:
        """logs/<cell-id>/, created so writers can open files in it."""
        directory = self.run_dir / LOGS_DIR / _check_name("cell id", cell_id)
        directory.mkdir(parents=True, exist_ok=True)
        return directory

    def log_path(self, cell_id: str, name: str) -> Path:
        """Absolute path of logs/<cell-id>/<name>; creates its directory so writers can open it."""
        return self.log_dir(cell_id) / _check_name("log name", name)

    def relative(self, path: Path) -> str:
        """`path` as recorded in cell json: relative to the run dir, with `/` separators."""
        return Path(path).relative_to(self.run_dir).as_posix()

    def path_of(self, relative: str) -> Path:
        """The file a relative path recorded in the results (a run's `log`) names."""
        return self.run_dir / relative

    def report_path(self, name: str) -> Path:
        """A derived report file at the top of the run directory (report.md, junit.xml, …)."""
        return self.run_dir / _check_name("report name", name)

    @property
    def plots_dir(self) -> Path:
        return self.run_dir / PLOTS_DIR

    def claims_path(self, name: str) -> Path:
        """claims/<name>: what claim checks recorded about this run."""
        return self.run_dir / CLAIMS_DIR / _check_name("claims file", name)

    def copy_cell_from(self, source: RunStore, cell_id: str) -> None:
        """Take one cell's document (byte for byte) and logs from another run (merging shards)."""
        cell_file = source.cell_path(cell_id)
        if cell_file.is_file():
            write_text_atomic(self.cell_path(cell_id), cell_file.read_text(encoding="utf-8"))
        logs = source.run_dir / LOGS_DIR / cell_id
        if logs.is_dir():
            shutil.copytree(logs, self.run_dir / LOGS_DIR / cell_id)

    def stored_documents(self) -> list[tuple[str, Path]]:
        """The stored records (run.json, cells/*.json, bisect.json of a bisect) as (path relative
        to the run, file)."""
        bisect = self.run_dir / BISECT_FILE
        files = [self.run_file, *sorted(_cell_files(self.run_dir))]
        files += [bisect] if bisect.is_file() else []
        return [(self.relative(p), p) for p in files]


# --- reading runs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunData:
    """A loaded run: the run record and the cell records sorted by cell id (naturally).

    `stored` keeps the documents as read (schema and any key a newer writer added included), so
    `gxm report --format json` gives back what is on disk; everything else reads the records."""

    run_dir: Path
    document: RunDocument
    results: tuple[CellResult, ...]
    stored: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def run_id(self) -> str:
        return self.document.run_id

    @property
    def store(self) -> RunStore:
        return RunStore(self.run_dir)

    def to_json(self) -> dict[str, object]:
        """The whole run as one JSON object `{"run": run.json, "cells": [cell documents]}`
        (`gxm report --format json`), each document as stored."""
        if self.stored:
            return dict(self.stored)
        return {
            "run": {"schema": RUN_SCHEMA, **self.document.to_json()},
            "cells": [{"schema": CELL_SCHEMA, **c.to_json()} for c in self.results],
        }

    def cell_ids(self) -> list[str]:
        """Cell ids in matrix order (run.json `cells`, including cells without a result yet),
        then ids of cell files run.json does not list (e.g. written by a newer matrix)."""
        listed = list(self.document.cells)
        return listed + [c.id for c in self.results if c.id not in listed]

    def cell(self, cell_id: str) -> CellResult | None:
        """The cell record with this id, or None when the run has no result for it."""
        return next((c for c in self.results if c.id == cell_id), None)

    def missing_cells(self) -> list[str]:
        """Cells run.json lists that have no cell file (not run yet, or the run was killed)."""
        present = {c.id for c in self.results}
        return [i for i in self.document.cells if i not in present]


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders `go1.9` before `go1.22` (digit runs compare as numbers)."""
    parts = re.split(r"(\d+)", text)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)


def _read_json(path: Path, schema: str | tuple[str, ...]) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path.parent} is not a gxm run directory (no {path.name})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: unreadable ({exc}); remove it and resume the run") from None
    accepted = (schema,) if isinstance(schema, str) else schema
    if not isinstance(doc, dict) or doc.get("schema") not in accepted:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise UsageError(f"{path}: expected schema {accepted[-1]!r}, found {found!r}")
    return doc


def _read_cell(path: Path) -> dict[str, Any]:
    doc = _read_json(path, CELL_SCHEMAS_READ)
    if not isinstance(doc.get("cell"), dict) or "id" not in doc["cell"]:
        raise UsageError(f"{path}: cell document without cell.id")
    return doc


def _cell_result(doc: Mapping[str, Any], path: Path) -> CellResult:
    try:
        return CellResult.from_json(doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{path}: malformed cell document ({exc})") from None


def _cell_files(run_dir: Path) -> Iterator[Path]:
    cells_dir = run_dir / CELLS_DIR
    if cells_dir.is_dir():
        yield from (p for p in cells_dir.glob("*.json") if not p.name.startswith("."))


def load_run(run_dir: Path) -> RunData:
    """Read run.json and every cell file; UsageError naming the file when one is not ours."""
    run_dir = Path(run_dir)
    if not is_run_dir(run_dir):
        raise UsageError(f"{run_dir} is not a gxm run directory (no {RUN_FILE})")
    run = _read_json(run_dir / RUN_FILE, RUN_SCHEMA)
    cells = [(_read_cell(p), p) for p in _cell_files(run_dir)]
    cells.sort(key=lambda c: natural_key(str(c[0]["cell"]["id"])))
    return RunData(
        run_dir=run_dir,
        document=RunDocument.from_json(run, run_dir.name),
        results=tuple(_cell_result(doc, path) for doc, path in cells),
        stored={"run": run, "cells": [doc for doc, _ in cells]},
    )


def completed_cells(run_dir: Path) -> frozenset[str]:
    """Cells a resumed run may skip: the file exists, parses as a cell document, and holds no
    infra-error (infra errors are never blamed on the cell and are redone on resume)."""
    done = set()
    for path in _cell_files(Path(run_dir)):
        try:
            result = _cell_result(_read_cell(path), path)
        except UsageError as exc:
            log.warning("will redo cell %s: %s", path.stem, exc)
            continue
        if not result.has_infra_error():
            done.add(path.stem)
    return frozenset(done)


def list_runs(results_root: Path) -> list[Path]:
    """Run directories under `results_root` (those holding run.json), oldest first by id."""
    root = Path(results_root)
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if is_run_dir(p)), key=lambda p: p.name)


def _damaged_hint(root: Path) -> str:
    """What to say when `root` holds no run: a damaged one (cells but no run.json), or nothing."""
    damaged = (
        sorted(p.parent for p in root.glob(f"*/{CELLS_DIR}") if not is_run_dir(p.parent))
        if root.is_dir()
        else []
    )
    if damaged:
        return f", only {len(damaged)} damaged (no {RUN_FILE}), e.g. {damaged[0]}"
    return "; start one with `gxm run`"


def resolve_run(arg: str, results_root: Path) -> Path:
    """A run directory from `latest`, a path (to the dir or its run.json), a run id, or a unique
    prefix of one. UsageError with a one-line hint when nothing (or more than one run) matches."""
    root = Path(results_root)
    if arg == "latest":
        runs = list_runs(root)
        if not runs:
            raise UsageError(f"no runs under {root}/ yet{_damaged_hint(root)}")
        return runs[-1]
    as_path = Path(arg)
    if as_path.name == RUN_FILE and as_path.is_file():
        return as_path.parent
    if (as_path / RUN_FILE).is_file():
        return as_path
    if not _UNSAFE_NAME.search(arg) and (root / arg / RUN_FILE).is_file():
        return root / arg
    for candidate in (as_path, root / arg):
        if not _UNSAFE_NAME.search(candidate.name) and (candidate / CELLS_DIR).is_dir():
            raise UsageError(
                f"{candidate} has no {RUN_FILE} (a damaged run: it was deleted or never "
                f"written); its cell files alone cannot be reported or resumed"
            )
    if as_path.is_dir():
        raise UsageError(f"{as_path} is not a gxm run directory (no {RUN_FILE})")
    matches = [p for p in list_runs(root) if p.name.startswith(arg)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        names = ", ".join(p.name for p in matches[:3])
        raise UsageError(
            f"run {arg!r} is ambiguous under {root}/ ({names}, …); give more of the id"
        )
    raise UsageError(f"no run {arg!r} under {root}/; give a run id, a run directory, or `latest`")
