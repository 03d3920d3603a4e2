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
# Storage.  The bytes, the counts and the two conditions live in C (a ring buffer
# under a pthread mutex, native/agentvm_native.c), so that the native fd_read and
# fd_write (native/__init__.py) can move data between a guest's memory and the
# pipe without the GIL when nothing needs deciding: data buffered, or room below
# `capacity` with a reader open and no watchers.  Everything else (blocking,
# elastic growth, EPIPE, EOF, O_NONBLOCK) is decided here, by the same rules, on
# the same C state.
#
# Blocking calls wait in short C timed waits (through ctypes, which releases the
# GIL) and poll `interrupted()` between them, so a killed process never stays
# parked here (EINTR); `_wait` is the only place a pipe blocks.  Watchers
# (callbacks taking no arguments) run after every state change, outside the
# lock; the trio side and poll_oneoff use them to wait for readiness without a
# thread per pipe.  While a pipe has watchers the native fast path steps aside,
# so every change goes through here and calls them.

from __future__ import annotations

import ctypes
import errno
import threading
import time
from collections.abc import Callable

from ..native import NativeDescription, library
from . import blocking
from .errors import KernelError
from .watchers import Watchable

__all__ = ["STALL_SECONDS", "Interrupted", "Pipe", "PipeBudget", "never_interrupted"]

STALL_SECONDS = 0.02
_WAIT_SLICE = 0.05  # a reader looks at its kill this often when nobody kicks it (blocking.py)
KICKED_WAIT_SECONDS = 1.0  # ... and this often when a kill kicks the pipe: a backstop

Interrupted = Callable[[], bool]

# avm_pipe_state() fields
_BUFFERED, _READERS, _WRITERS, _ELASTIC, _READS, _READY = range(6)


def never_interrupted() -> bool:
    """The ``interrupted`` of a caller no signal can interrupt (the sidecar's own)."""
    return False


class PipeBudget:
    """Bytes a VM's pipes may buffer beyond their base capacity, together. Thread-safe
    (a C counter: the pipes charge it from C)."""

    native: int | None = None  # the C object, once made (__del__ also runs after a failed __init__)

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lib = library()
        self.native = self._lib.avm_budget_new(limit)
        if not self.native:
            raise MemoryError("avm_budget_new")

    def __del__(self) -> None:
        if self.native:
            self._lib.avm_budget_unref(self.native)

    def take(self, n: int) -> int:
        """Grant up to ``n`` bytes (0 when spent)."""
        return self._lib.avm_budget_take(self.native, n)

    def give(self, n: int) -> None:
        self._lib.avm_budget_give(self.native, n)

    @property
    def used(self) -> int:
        return self._lib.avm_budget_used(self.native)


class Pipe(Watchable):
    """A byte FIFO with open-end counts. Thread-safe."""

    native: int | None = None  # the C object, once made (__del__ also runs after a failed __init__)

    def __init__(self, capacity: int, max_capacity: int, budget: PipeBudget | None = None) -> None:
        self.capacity = capacity
        self.max_capacity = max(max_capacity, capacity)
        self._lib = library()
        self.native = self._lib.avm_pipe_new(capacity, self.max_capacity, budget.native if budget else None)
        if not self.native:
            raise MemoryError("avm_pipe_new")
        self._budget = budget  # kept alive with the pipe (C holds its own reference too)
        self._cond = threading.Condition()  # guards the watcher set only (Watchable)
        self._watchers: set[Callable[[], None]] = set()
        self.on_destroyed: Callable[[], None] | None = None  # both ends closed

    def __del__(self) -> None:
        if self.native:
            self._lib.avm_pipe_unref(self.native)

    def native_end(self, for_write: bool) -> NativeDescription:
        """The C object of one end's description, for the fd mirrors holding it."""
        return NativeDescription(self.native, for_write)

    @property
    def _elastic(self) -> bool:
        """The pipe may grow beyond capacity (a reader stalled); never turned off."""
        return bool(self._state()[_ELASTIC])

    @_elastic.setter
    def _elastic(self, on: bool) -> None:
        if on:
            self._lib.avm_pipe_set_elastic(self.native)

    def _state(self) -> ctypes.Array[ctypes.c_int64]:
        state = (ctypes.c_int64 * 6)()
        self._lib.avm_pipe_state(self.native, state)
        return state

    # -- ends (each end is one open file description, closed once) -------------
    def close_reader(self) -> None:
        self._after_close(self._lib.avm_pipe_close_end(self.native, 0))

    def close_writer(self) -> None:
        self._after_close(self._lib.avm_pipe_close_end(self.native, 1))

    def _after_close(self, destroyed: bool) -> None:
        # "both closed" is decided in C under the pipe lock: the two ends close on
        # different threads, and both must not see "0 and 0".
        self._notify()
        if destroyed and self.on_destroyed is not None:
            self.on_destroyed()

    # -- I/O --------------------------------------------------------------------
    def read(self, n: int, *, nonblocking: bool = False, interrupted: Interrupted = never_interrupted) -> bytes:
        """Up to ``n`` bytes; b"" at end of file.

        Raises: EAGAIN (nonblocking and empty), EINTR (``interrupted()`` became true).
        """
        if n <= 0:
            return b""
        while True:
            buffered = self._lib.avm_pipe_buffered(self.native)  # -1: end of file
            if buffered > 0:
                buf = ctypes.create_string_buffer(min(n, buffered))
                got = self._lib.avm_pipe_read(self.native, buf, len(buf))
                if got > 0:
                    self._notify()
                    return buf.raw[:got] if got < len(buf) else buf.raw
                continue  # another reader emptied it meanwhile: look again
            if buffered < 0:
                return b""
            if nonblocking:
                raise KernelError.eagain()
            self._wait(False, interrupted, None)

    def write(self, data: bytes | memoryview, *, nonblocking: bool = False, interrupted: Interrupted = never_interrupted) -> int:
        """Write all of ``data`` (blocking as needed); returns len(data), or the bytes
        written so far when a nonblocking write fills the pipe.

        Raises: EPIPE (no read end), EAGAIN (nonblocking and full), EINTR.
        """
        view = memoryview(data).cast("B")
        if not view:
            return 0  # as Linux: a zero-length write to a pipe succeeds at once
        # The C side copies from an address: that of the bytes object itself
        # (immutable, never moves, kept alive by `keep`), else of a writable buffer.
        keep: object
        if view.readonly:
            keep = data if isinstance(data, bytes) else bytes(view)
            base = ctypes.cast(ctypes.c_char_p(keep), ctypes.c_void_p).value or 0  # type: ignore[arg-type]
        else:
            keep = (ctypes.c_char * len(view)).from_buffer(view)
            base = ctypes.addressof(keep)  # type: ignore[arg-type]
        done = 0
        stalled_since: float | None = None
        reads_seen = 0
        while done < len(view):
            wrote = self._lib.avm_pipe_write(self.native, base + done, len(view) - done)
            if wrote > 0:
                done += wrote
                stalled_since = None
                self._notify()
                continue
            if wrote == -errno.EPIPE:
                if done:
                    return done
                raise KernelError.epipe()
            if wrote == -errno.ENOMEM:
                raise KernelError("ENOMEM", "no memory for the pipe buffer")
            if nonblocking:
                if done:
                    return done
                raise KernelError.eagain()
            # Full. A reader that consumed nothing for STALL_SECONDS makes the pipe
            # elastic (see the header).
            state = self._state()
            now = time.monotonic()
            if stalled_since is None or state[_READS] != reads_seen:
                reads_seen, stalled_since = state[_READS], now
            elif now - stalled_since >= STALL_SECONDS and not state[_ELASTIC]:
                self._elastic = True
                continue
            self._wait(True, interrupted, STALL_SECONDS)
        return done

    def _wait(self, for_write: bool, interrupted: Interrupted, timeout: float | None) -> None:
        """Sleep until the pipe may be ready in that direction, at most ``timeout``
        (None: as long as a kill is sure to wake it, see kernel/blocking.py).

        Raises: EINTR (``interrupted()``), before and after the wait."""
        kicked = blocking.wake_on_kill(self._kick)
        try:
            kicks = self._lib.avm_pipe_kicks(self.native)  # before the kill check: no lost kick
            if interrupted():
                raise KernelError("EINTR", "interrupted by a signal")
            if timeout is None:
                timeout = KICKED_WAIT_SECONDS if kicked else _WAIT_SLICE
            blocking.before_blocking()  # give up the run slot (wasm/scheduler.py)
            self._lib.avm_pipe_wait(self.native, int(for_write), int(timeout * 1e9), kicks)
        finally:
            if kicked:
                blocking.wake_on_kill(None)
        if interrupted():
            raise KernelError("EINTR", "interrupted by a signal")

    def _kick(self) -> None:
        """Wake this pipe's waiters now (one of them was killed)."""
        self._lib.avm_pipe_kick(self.native)

    # -- readiness --------------------------------------------------------------
    def watch(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after state changes."""
        with self._cond:
            self._watchers.add(callback)
            self._publish_watched()

    def unwatch(self, callback: Callable[[], None]) -> None:
        with self._cond:
            self._watchers.discard(callback)
            self._publish_watched()

    def _publish_watched(self) -> None:  # under self._cond
        self._lib.avm_pipe_set_watched(self.native, int(bool(self._watchers)))

    def readable(self) -> bool:
        """A read would not block (data, or end of file)."""
        return bool(self._state()[_READY] & 1)

    def writable(self) -> bool:
        """A write would not block (room, or no reader: the write fails at once)."""
        return bool(self._state()[_READY] & 2)

    def hung_up(self, for_write: bool) -> bool:
        """The other end is closed: no reader (for a writer) or no writer (for a reader)."""
        return self._state()[_READERS if for_write else _WRITERS] == 0

    def buffered(self) -> int:
        return self._state()[_BUFFERED]
