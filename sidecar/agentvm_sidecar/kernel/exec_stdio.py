# The stdio of a process.exec: its input given whole, its output kept whole.
#
# An exec knows its stdin before the process starts and answers with its output
# after the process ended, so neither needs a pipe with the sidecar's trio thread
# at the other end: the process reads `StdinBytes` and writes into `OutputCapture`
# directly, on its own thread, and trio hears of nothing until the process exits.
# (With pipes, trio fed stdin, was woken to drain output, and every exec took one
# more thread hand-off and scheduler round: issue 11's warm `sh -c 'echo hi'`.)
#
# Both are FIFOs to the guest (fstat, fdstat), never block and are always ready,
# as a pipe whose other end keeps up: reads answer from the bytes, then EOF;
# writes always succeed. `OutputCapture` keeps the first `keep` bytes and counts
# the rest, so a process writing more still runs to its natural end in bounded
# memory (what exec did with its pipes); its bytes are kept in C, where the
# native fd_write appends them without a Python host call. Its last release (the last fd naming it
# closed: the process and whatever it started that inherited it) is the end of
# output, reported once to `on_closed`.

from __future__ import annotations

import threading
from collections.abc import Callable

from ..native import NativeDescription
from .descriptions import Description, fifo_stat, next_pipe_inode
from .errors import KernelError
from .fstypes import FileKind, Stat
from .pipes import Interrupted, never_interrupted

__all__ = ["OutputCapture", "StdinBytes"]


class StdinBytes(Description):
    """Reads ``data``, then end of file."""

    kind = FileKind.FIFO
    readable = True

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._data = data
        self._pos = 0
        self._lock = threading.Lock()  # processes sharing it read on their own threads
        self._ino = next_pipe_inode()

    def read(self, n: int, interrupted: Interrupted = never_interrupted) -> bytes:
        with self._lock:
            chunk = self._data[self._pos : self._pos + n]
            self._pos += len(chunk)
        return chunk

    def stat(self) -> Stat:
        return fifo_stat(self._ino, len(self._data) - self._pos)

    def _close(self) -> None:
        self._data = b""


class OutputCapture(Description):
    """Keeps the first ``keep`` bytes written; ``on_closed()`` runs (on the closing
    thread) at the last release. The bytes live in its native description, which
    the native fd_write appends to without Python (writes through here go there
    too, so there is one buffer under one lock)."""

    kind = FileKind.FIFO
    writable = True

    def __init__(self, keep: int, on_closed: Callable[[], None]) -> None:
        super().__init__()
        self.native = NativeDescription(capture=keep)
        self._ino = next_pipe_inode()
        self._on_closed = on_closed
        self.closed = False

    def write(self, data: bytes | memoryview, interrupted: Interrupted = never_interrupted) -> int:
        try:
            self.native.capture_write(data)
        except MemoryError:
            raise KernelError("ENOMEM", "cannot keep the output") from None
        return len(data)

    def output(self) -> tuple[bytes, bool]:
        """What was kept so far, and whether more was written (truncated)."""
        return self.native.captured()

    def stat(self) -> Stat:
        return fifo_stat(self._ino, 0)

    def _close(self) -> None:
        self.closed = True
        self._on_closed()
