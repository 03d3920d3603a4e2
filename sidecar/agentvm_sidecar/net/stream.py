# One direction of a stream connection: a bounded byte FIFO.
#
# A loopback TCP connection is two of these (one per direction).  Unlike a pipe
# (kernel/pipes.py) a socket buffer never turns elastic: a peer that never reads
# makes writers block, or fail with EAGAIN when non-blocking, and the memory a
# connection holds stays at most 2 x capacity.  States:
#   * write_closed (the writer shut down or closed): readers get b"" once drained;
#   * read_closed (the reader closed or shut down reading): writers get EPIPE and
#     buffered bytes are dropped;
#   * reset (a listener closed with the connection still queued): both sides get
#     ECONNRESET.
# Blocking calls wait on a Condition in short slices, polling `interrupted` (kill)
# and an optional deadline (SO_RCVTIMEO -> EAGAIN).  Watchers run after every state
# change, outside the lock, like a Pipe's.

from __future__ import annotations

import threading
from collections.abc import Callable

from ..kernel.errors import KernelError
from ..kernel.pipes import Interrupted, never_interrupted
from ..kernel.watchers import Watchable

__all__ = ["ByteStream"]



class ByteStream(Watchable):
    """A bounded byte FIFO with one reader and one writer. Thread-safe."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._buf = bytearray()
        self._cond = threading.Condition(threading.Lock())
        self.read_closed = False
        self.write_closed = False
        self.reset = False
        self._watchers: set[Callable[[], None]] = set()

    # -- I/O --------------------------------------------------------------------
    def read(
        self, n: int, *, nonblocking: bool = False, deadline: float | None = None,
        interrupted: Interrupted = never_interrupted,
    ) -> bytes:
        """Up to ``n`` bytes; b"" at end of stream.

        Raises: ECONNRESET, EAGAIN (nonblocking and empty, or ``deadline`` passed),
        EINTR (``interrupted()``).
        """
        with self._cond:
            while not self._buf:
                if self.reset:
                    raise KernelError("ECONNRESET", "connection reset")
                if self.write_closed or self.read_closed or n == 0:
                    return b""
                if nonblocking:
                    raise KernelError.eagain()
                self._wait(interrupted, deadline)
            with memoryview(self._buf) as view:
                data = bytes(view[:n])
            del self._buf[:n]
            self._cond.notify_all()
        self._notify()
        return data

    def write(self, data: bytes | memoryview, *, nonblocking: bool = False, interrupted: Interrupted = never_interrupted) -> int:
        """Append ``data``: all of it (blocking as needed), or when nonblocking what
        fits now. Returns the bytes taken.

        Raises: EPIPE (reader gone), ECONNRESET, EAGAIN (nonblocking and full), EINTR.
        """
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            with self._cond:
                while True:
                    if self.reset:
                        raise KernelError("ECONNRESET", "connection reset")
                    if self.read_closed or self.write_closed:
                        if done:
                            return done
                        raise KernelError.epipe()
                    room = self.capacity - len(self._buf)
                    if room > 0:
                        break
                    if nonblocking:
                        if done:
                            return done
                        raise KernelError.eagain()
                    self._wait(interrupted, None)
                chunk = view[done : done + room]
                self._buf += chunk
                done += len(chunk)
                self._cond.notify_all()
            self._notify()
            if nonblocking:
                break
        return done

    def _wait(self, interrupted: Interrupted, deadline: float | None) -> None:
        self._wait_slice(interrupted, deadline, "receive")
        if interrupted():
            raise KernelError("EINTR", "interrupted by a signal")

    # -- state changes ------------------------------------------------------------
    def close_read(self) -> None:
        with self._cond:
            self.read_closed = True
            self._buf.clear()
            self._cond.notify_all()
        self._notify()

    def close_write(self) -> None:
        with self._cond:
            self.write_closed = True
            self._cond.notify_all()
        self._notify()

    def reset_connection(self) -> None:
        with self._cond:
            self.reset = True
            self._buf.clear()
            self._cond.notify_all()
        self._notify()

    # -- readiness ----------------------------------------------------------------
    def readable(self) -> bool:
        """A read would not block (data, end of stream, or an error to report)."""
        with self._cond:
            return bool(self._buf) or self.write_closed or self.read_closed or self.reset

    def writable(self) -> bool:
        """A write would not block (room, or an error to report at once)."""
        with self._cond:
            return len(self._buf) < self.capacity or self.read_closed or self.write_closed or self.reset

    def buffered(self) -> int:
        with self._cond:
            return len(self._buf)
