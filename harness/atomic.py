"""Atomic files: every file gxm writes is whole or absent, never half written; and the one
inter-process file lock (`file_lock`) for caches shared by concurrent gxm processes.

A killed run leaves only whole files (temp file in the same directory, fsync, rename, fsync of the
directory), so a resumed run can trust what it finds.
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

log = logging.getLogger("gxm.files")


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


@contextlib.contextmanager
def file_lock(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive flock on `lock_path` (created if missing) for the block, so two gxm
    processes never fill the same cache entry (a toolchain, an image) at once."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another gxm holding %s", lock_path)
            fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
