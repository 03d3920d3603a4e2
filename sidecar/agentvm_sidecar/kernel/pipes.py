# Pipes: kernel objects with bounded buffers and back-pressure.
#
# A Pipe is a byte FIFO shared by a read end and a write end (each an open file
# description, see descriptions.py; dup() and spawn share them, so the Pipe only
# counts open ends).  POSIX rules implemented:
#  * read blocks while the pipe is empty and a write end is open; it returns b""
#    (end of file) once every write end is closed.
#  * write with no read end open fails with EPIPE (the caller raises SIGPIPE).
#  * O_NONBLOCK: read on an empty pipe / write on a full pipe raise EAGAIN.
#
# Capacity.  Writers block when `capacity` bytes are buffered (back-pressure for
# streaming pipelines like `seq 1 100000 | head`).  But the guest shell relies on
# pipes that absorb a whole output nobody reads yet: brush runs `x=$(cmd)` by
# waiting for `cmd` to EXIT before reading, and writes a builtin's output into a
# pipe before spawning the reader (`echo hi | cat`).  A strictly bounded pipe
# deadlocks both.  So a writer that stays blocked for STALL_SECONDS while no
# reader consumed anything turns the pipe elastic: it may then buffer up to
# `max_capacity` (a hard, configured bound) and only blocks beyond that.  Live
# readers keep the fast bounded behaviour; a stalled reader costs one short wait.
# What a pipe holds beyond `capacity` is borrowed from the VM's PipeBudget, so the
# elastic slack of all its pipes together is bounded too (256 pipes x 16 MiB would
# otherwise be 4 GiB of sidecar memory); a writer waits when the budget is spent.
#
# Wake-ups.  A hand-off between two guest threads costs far more here than in
# Linux (a futex wake, then the woken thread waits for the GIL), and streaming
# through a pipe in 8 KiB guest writes made one hand-off per chunk on both sides.
# So, as Linux's pipe_write does, readers are woken only when a write makes an
# empty pipe non-empty (only then can one be waiting), and a writer blocked on a
# full pipe is woken only once a read brings it down to `capacity // 2` (or on
# its own STALL_SECONDS slice): it then refills half the buffer in one go
# instead of 8 KiB per wake-up.  Readers and writers wait on two conditions over
# the same lock, so neither side's wake-up disturbs the other.
#
# Blocking calls wait on a Condition in short slices and poll `interrupted()`, so
# a killed process never stays parked here (EINTR).  Watchers (callbacks taking
# no arguments) run after every state change, outside the lock; the trio side
# and poll_oneoff use them to wait for readiness without a thread per pipe.

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from . import blocking
from .errors import KernelError
from .watchers import Watchable

__all__ = ["STALL_SECONDS", "Interrupted", "Pipe", "PipeBudget"]

STALL_SECONDS = 0.02
_WAIT_SLICE = 0.05

Interrupted = Callable[[], bool]


def _never() -> bool:
    return False


class PipeBudget:
    """Bytes a VM's pipes may buffer beyond their base capacity, together. Thread-safe."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._used = 0
        self._lock = threading.Lock()

    def take(self, n: int) -> int:
        """Grant up to ``n`` bytes (0 when spent)."""
        with self._lock:
            granted = max(0, min(n, self.limit - self._used))
            self._used += granted
            return granted

    def give(self, n: int) -> None:
        with self._lock:
            self._used -= n

    @property
    def used(self) -> int:
        return self._used


class Pipe(Watchable):
    """A byte FIFO with open-end counts. Thread-safe."""

    def __init__(self, capacity: int, max_capacity: int, budget: PipeBudget | None = None) -> None:
        self.capacity = capacity
        self.max_capacity = max(max_capacity, capacity)
        self._budget = budget
        self._borrowed = 0  # == max(0, len(self._buf) - capacity), charged to the budget
        self._buf = bytearray()
        lock = threading.Lock()
        self._cond = threading.Condition(lock)  # readers wait here (and watch/unwatch lock it)
        self._not_full = threading.Condition(lock)  # writers wait here
        self._low_water = capacity // 2
        self._readers = 1
        self._writers = 1
        self._elastic = False
        self._reads = 0  # count of successful reads, to detect a stalled reader
        self._watchers: set[Callable[[], None]] = set()
        self.on_destroyed: Callable[[], None] | None = None  # both ends closed

    # -- ends (each end is one open file description, closed once) -------------
    def close_reader(self) -> None:
        with self._cond:
            self._readers -= 1
            if self._readers == 0:
                self._buf.clear()
                self._repay()
            destroyed = self._closed_end_was_last()
        self._after_close(destroyed)

    def close_writer(self) -> None:
        with self._cond:
            self._writers -= 1
            destroyed = self._closed_end_was_last()
        self._after_close(destroyed)

    def _closed_end_was_last(self) -> bool:
        # Decided under the lock: the two ends close on different threads, and
        # both must not see "0 and 0" (the VM's pipe count would drop twice).
        self._cond.notify_all()
        self._not_full.notify_all()
        return self._readers == 0 and self._writers == 0

    def _after_close(self, destroyed: bool) -> None:
        self._notify()
        if destroyed and self.on_destroyed is not None:
            self.on_destroyed()

    # -- I/O --------------------------------------------------------------------
    def read(self, n: int, *, nonblocking: bool = False, interrupted: Interrupted = _never) -> bytes:
        """Up to ``n`` bytes; b"" at end of file.

        Raises: EAGAIN (nonblocking and empty), EINTR (``interrupted()`` became true).
        """
        with self._cond:
            while not self._buf:
                if self._writers == 0 or n == 0:
                    return b""
                if nonblocking:
                    raise KernelError.eagain()
                self._wait(self._cond, interrupted)
            with memoryview(self._buf) as view:
                data = bytes(view[:n])  # one copy (a bytearray slice would be a second)
            del self._buf[:n]
            self._repay()
            self._reads += 1
            if len(self._buf) <= self._low_water or self._elastic:
                self._not_full.notify_all()
        self._notify()
        return data

    def write(self, data: bytes | memoryview, *, nonblocking: bool = False, interrupted: Interrupted = _never) -> int:
        """Write all of ``data`` (blocking as needed); returns len(data), or the bytes
        written so far when a nonblocking write fills the pipe.

        Raises: EPIPE (no read end), EAGAIN (nonblocking and full), EINTR.
        """
        view = memoryview(data).cast("B")
        if not view:
            return 0  # as Linux: a zero-length write to a pipe succeeds at once
        done = 0
        while done < len(view):
            with self._cond:
                stalled_since: float | None = None
                reads_seen = self._reads
                while True:
                    if self._readers == 0:
                        if done:
                            return done
                        raise KernelError.epipe()
                    room = self._room(len(view) - done)
                    if room > 0:
                        break
                    if nonblocking:
                        if done:
                            return done
                        raise KernelError.eagain()
                    now = time.monotonic()
                    if self._reads != reads_seen:
                        reads_seen, stalled_since = self._reads, None
                    elif stalled_since is None:
                        stalled_since = now
                    elif now - stalled_since >= STALL_SECONDS and not self._elastic:
                        self._elastic = True
                        continue
                    self._wait(self._not_full, interrupted, STALL_SECONDS)
                chunk = view[done : done + room]
                was_empty = not self._buf
                self._buf += chunk
                done += len(chunk)
                if was_empty:
                    self._cond.notify_all()
            self._notify()
        return done

    def _room(self, wanted: int) -> int:
        """Bytes a write may append now (caller holds the lock): up to capacity
        freely, beyond it (elastic only) what the VM budget grants."""
        room = self.capacity - len(self._buf)
        if room > 0 or not self._elastic:
            return room
        wanted = min(wanted, self.max_capacity - len(self._buf))
        if wanted <= 0:
            return 0
        granted = wanted if self._budget is None else self._budget.take(wanted)
        self._borrowed += granted
        return granted

    def _repay(self) -> None:
        """Return what the buffer no longer holds beyond capacity (caller holds the lock)."""
        excess = max(0, len(self._buf) - self.capacity)
        if self._borrowed > excess:
            if self._budget is not None:
                self._budget.give(self._borrowed - excess)
            self._borrowed = excess

    def _wait(self, cond: threading.Condition, interrupted: Interrupted, timeout: float = _WAIT_SLICE) -> None:
        if interrupted():
            raise KernelError("EINTR", "interrupted by a signal")
        blocking.wait(cond, timeout)
        if interrupted():
            raise KernelError("EINTR", "interrupted by a signal")

    # -- readiness --------------------------------------------------------------
    def readable(self) -> bool:
        """A read would not block (data, or end of file)."""
        with self._cond:
            return bool(self._buf) or self._writers == 0

    def writable(self) -> bool:
        """A write would not block (room, or no reader: the write fails at once)."""
        with self._cond:
            if self._readers == 0 or len(self._buf) < self.capacity:
                return True
            spare = self._budget is None or self._budget.used < self._budget.limit
            return self._elastic and len(self._buf) < self.max_capacity and spare

    def hung_up(self, for_write: bool) -> bool:
        """The other end is closed: no reader (for a writer) or no writer (for a reader)."""
        with self._cond:
            return (self._readers if for_write else self._writers) == 0

    def buffered(self) -> int:
        with self._cond:
            return len(self._buf)
