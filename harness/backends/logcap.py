"""Size-capped run logs: the head and the tail of a stream are kept, the middle is counted.

A fixture that floods its output (1.8 GB in 5 s was seen) must not fill the disk, and what a
reader needs is at both ends: the crash message is at the top of Go's output, the end of a
goroutine dump or the last lines before a hang at the bottom. A `CappedLog` writes the first
`head_bytes` straight to its file, keeps the last `tail_bytes` in memory, and on close appends a
marker line saying how many bytes were dropped, then the tail.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import IO

DEFAULT_LOG_LIMIT_BYTES = 64 << 20
READ_CHUNK_BYTES = 1 << 16


class CappedLog:
    """A binary sink keeping at most `limit_bytes` (half head, half tail) of what it is fed."""

    def __init__(self, handle: IO[bytes], limit_bytes: int = DEFAULT_LOG_LIMIT_BYTES) -> None:
        self._handle = handle
        self.head_bytes = limit_bytes // 2
        self.tail_bytes = limit_bytes - self.head_bytes
        self._written = 0
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self.dropped_bytes = 0

    def write(self, data: bytes) -> None:
        room = self.head_bytes - self._written
        if room > 0:
            self._handle.write(data[:room])
            self._written += min(room, len(data))
            data = data[room:]
        if not data:
            return
        self._tail.append(data)
        self._tail_size += len(data)
        while self._tail and self._tail_size - len(self._tail[0]) >= self.tail_bytes:
            self.dropped_bytes += len(self._tail[0])
            self._tail_size -= len(self._tail.popleft())
        if self._tail_size > self.tail_bytes:  # trim the oldest chunk to the exact tail size
            excess = self._tail_size - self.tail_bytes
            self._tail[0] = self._tail[0][excess:]
            self._tail_size -= excess
            self.dropped_bytes += excess

    def close(self) -> int:
        """Write the marker and the tail; return the number of bytes dropped."""
        if self.dropped_bytes:
            marker = f"\n[gxm: {self.dropped_bytes} bytes of output dropped here: log capped]\n"
            self._handle.write(marker.encode())
        for chunk in self._tail:
            self._handle.write(chunk)
        self._tail.clear()
        self._handle.flush()
        return self.dropped_bytes


def pump(source: IO[bytes], sink: CappedLog) -> threading.Thread:
    """A daemon thread copying `source` (a pipe) into `sink` until EOF; join it, then close."""

    def copy() -> None:
        while True:
            try:
                chunk = source.read1(READ_CHUNK_BYTES)  # type: ignore[attr-defined]
            except (OSError, ValueError):
                break
            if not chunk:
                break
            sink.write(chunk)

    thread = threading.Thread(target=copy, name="gxm-log", daemon=True)
    thread.start()
    return thread
