"""The context passed through the stages: paths, the reporter, the clock.

No stage reads module-level state; whatever differs between a test and a real run lives here.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from harness.store import RunStore

if TYPE_CHECKING:
    from rich.progress import Progress


@dataclass(frozen=True)
class Paths:
    """Where a run reads and writes. `work_dir` (binaries, scratch) is removed after the run."""

    repo: Path  # the directory holding harness/ and go_fixtures/
    results_root: Path
    cache: Path
    run_dir: Path
    work_dir: Path


class Advance(Protocol):
    """What `Reporter.progress` yields: one step done (or `steps`), labelled."""

    def __call__(self, label: str, steps: int = 1) -> None: ...


class Reporter:
    """Progress for long work, on stderr: a live bar on a terminal, plain lines otherwise.

    Safe to call from several threads (concurrent runs): each message is one whole line."""

    def __init__(self, *, verbose: bool = False, stream: TextIO | None = None) -> None:
        self.verbose = verbose
        self._stream: TextIO = stream or sys.stderr
        self._progress: Progress | None = None
        self._lock = threading.Lock()

    def info(self, message: str) -> None:
        if self._progress is not None:
            self._progress.console.print(message, highlight=False, markup=False)
            return
        with self._lock:
            self._stream.write(message + "\n")
            self._stream.flush()

    def detail(self, message: str) -> None:
        if self.verbose:
            self.info(message)

    @contextmanager
    def progress(self, description: str, total: int) -> Iterator[Advance]:
        """Yield `advance(label, steps=1)`; shows a live bar on a terminal, a line per call
        elsewhere."""
        is_tty = getattr(self._stream, "isatty", lambda: False)()
        if not is_tty:
            done = [0]

            def advance_plain(label: str, steps: int = 1) -> None:
                done[0] += steps
                self.info(f"[{done[0]}/{total}] {label}")

            yield advance_plain
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        console = Console(file=self._stream)
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[label]}"),
        )
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task(description, total=total, label="")
            self._progress = bar

            def advance_bar(label: str, steps: int = 1) -> None:
                bar.update(task, advance=steps, label=label)

            try:
                yield advance_bar
            finally:
                self._progress = None


@dataclass
class Clock:
    """Wall clock and monotonic timer in one place so tests can substitute both."""

    now: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))
    monotonic: Callable[[], float] = field(default=time.monotonic)


@dataclass(frozen=True)
class RunContext:
    paths: Paths
    reporter: Reporter
    clock: Clock
    seed: int
    backend_name: str

    @property
    def store(self) -> RunStore:
        """The run directory's files: every path inside it comes from here."""
        return RunStore(self.paths.run_dir)
