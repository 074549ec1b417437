"""The run journal: one line per recorded run, appended as each run ends (part of the store).

Cell documents are rewritten at a bounded rate, not after every run (a rewrite costs as much as
the cell has runs). The journal holds every run recorded meanwhile, so a gxm killed between two
cell writes, even by SIGKILL, loses nothing: `--resume` folds the journal into the runs it
restores. Once every cell document holds everything, the journal is removed.

The first line names the schema; each further line is `{"cell", "fixture", "run"}` (a `runs[]`
entry of a cell document), written with one `write` on an O_APPEND descriptor. A line a crash cut
short has no newline: the reader skips it, and the next writer ends it before appending.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.store.records import RunRecord

log = logging.getLogger("gxm.store.journal")


@dataclass(frozen=True)
class JournalEntry:
    """One recorded run: its cell, its fixture and its record."""

    cell_id: str
    fixture: str
    record: RunRecord


class RunJournal:
    """Appends run records to one journal file and reads them back (see the module docstring)."""

    def __init__(self, path: Path, schema: str) -> None:
        self.path = Path(path)
        self.schema = schema
        self._fd: int | None = None

    def append(self, cell_id: str, fixture: str, record: RunRecord) -> None:
        """Add one run record (the file is created with its schema line on first use)."""
        line = {"cell": cell_id, "fixture": fixture, "run": record.to_json()}
        self._write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")

    def _write(self, text: str) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            size = os.fstat(self._fd).st_size
            if size == 0:
                text = json.dumps({"schema": self.schema}) + "\n" + text
            elif not self._ends_with_newline(size):
                text = "\n" + text  # end a line a killed writer cut short
        data = text.encode("utf-8")
        while data:
            data = data[os.write(self._fd, data) :]

    def _ends_with_newline(self, size: int) -> bool:
        with open(self.path, "rb") as handle:
            handle.seek(size - 1)
            return handle.read(1) == b"\n"

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def remove(self) -> None:
        """Drop the journal (every record it held is in a cell document now)."""
        self.close()
        self.path.unlink(missing_ok=True)

    def entries(self) -> list[JournalEntry]:
        """Every whole, readable entry in the order written; [] without a journal (or another
        schema's, which is said in the log and ignored)."""
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        lines = text.split("\n")[:-1]  # the last piece has no newline: cut short, or empty
        if not lines or _parsed(lines[0]).get("schema") != self.schema:
            log.warning("%s: not a %s journal; ignored", self.path, self.schema)
            return []
        return list(_entries(lines[1:], self.path))


def _parsed(line: str) -> dict[str, object]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _entries(lines: list[str], path: Path) -> Iterator[JournalEntry]:
    for number, line in enumerate(lines, start=2):
        doc = _parsed(line)
        run = doc.get("run")
        try:
            if not isinstance(run, dict):
                raise TypeError("no run record")
            yield JournalEntry(str(doc["cell"]), str(doc["fixture"]), RunRecord.from_json(run))
        except (KeyError, TypeError, ValueError):
            if line:
                log.warning("%s:%d: unreadable journal line skipped", path, number)
