"""Callbacks handed from guest threads to the trio thread without giving up the GIL.

Why: ``TrioToken.run_sync_soon`` wakes the trio thread with a socket ``send``, which
releases the GIL. The trio thread, woken by that very send, takes the GIL while the
guest thread is in the send and keeps it for its whole reaction (a request's next
steps: ~100-200 us), while the guest thread waits to take it back. Measured on a
warm ``sh -c 'echo hi'``: the guest thread waited ~200 us after reporting its
process to trio, and again after reporting its exit, before it ran on. Here the
wake-up is a write to an eventfd through ``ctypes.PyDLL``, which keeps the GIL: the
guest thread runs on to its next natural release (entering wasm, a wait, the end of
its process), and the trio thread reacts then, to everything queued by that time.

Shape: one ``ThreadWakeups`` per trio run (a ``RunVar``), made on first use with a
system task that waits for the eventfd and runs the queued callbacks in order. A
callback must be quick and must not raise (trio's own rule for ``run_sync_soon``);
one that raises is logged and the others still run. The eventfd is written only
when the trio side has not been told yet since it last emptied the queue. Once the
run ends, ``run_sync_soon`` raises ``trio.RunFinishedError`` as the token's does.
"""

from __future__ import annotations

import collections
import ctypes
import os
import threading
from collections.abc import Callable
from typing import Any

import trio

from .logs import get_logger

__all__ = ["QuietEvent", "ThreadWakeups", "thread_wakeups"]

log = get_logger("thread_wakeups")

_libc = ctypes.PyDLL(None)  # PyDLL: calls keep the GIL (the point of this module)
_write = _libc.write
_write.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t)
_write.restype = ctypes.c_ssize_t
_ONE = ctypes.c_uint64(1)


class ThreadWakeups:
    """Runs callbacks on the trio thread of one run, queued from any thread."""

    def __init__(self) -> None:
        self._fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._queue: collections.deque[tuple[Callable[..., object], tuple[Any, ...]]] = collections.deque()
        self._told = False  # the eventfd was written since the trio side last emptied the queue
        self._closed = False

    def run_sync_soon(self, fn: Callable[..., object], *args: Any) -> None:
        """Call ``fn(*args)`` on the trio thread soon. Any thread.

        Raises: trio.RunFinishedError (the run has ended)."""
        # No GIL release from the check to the write: the trio side sets _closed
        # before it closes the fd, so this never writes to a closed (or reused) fd.
        if self._closed:
            raise trio.RunFinishedError("the trio run has ended")
        self._queue.append((fn, args))
        if not self._told:
            self._told = True
            _write(self._fd, ctypes.byref(_ONE), 8)

    async def _serve(self) -> None:
        try:
            while True:
                await trio.lowlevel.wait_readable(self._fd)
                try:
                    os.eventfd_read(self._fd)
                except BlockingIOError:
                    pass
                self._told = False  # before emptying: what is queued after this tells again
                self._run_queued()
        finally:
            self._closed = True
            self._queue.clear()
            os.close(self._fd)

    def _run_queued(self) -> None:
        # A function of its own, so the last callback and its arguments (a disposed
        # VM's kernel, say) are not kept alive by the waiting task's locals.
        while self._queue:
            fn, args = self._queue.popleft()
            try:
                fn(*args)
            except Exception:
                log.exception("thread_wakeup_failed", callback=getattr(fn, "__qualname__", repr(fn)))


_current: trio.lowlevel.RunVar[ThreadWakeups] = trio.lowlevel.RunVar("agentvm_thread_wakeups")


def thread_wakeups() -> ThreadWakeups:
    """The current trio run's ThreadWakeups (made on first use). Call from the trio thread."""
    try:
        return _current.get()
    except LookupError:
        wakeups = ThreadWakeups()
        trio.lowlevel.spawn_system_task(wakeups._serve, name="agentvm-thread-wakeups")
        _current.set(wakeups)
        return wakeups


class QuietEvent:
    """A one-shot event set from any thread that wakes the trio thread only when a
    task waits for it. Made on the trio thread.

    Why: an exec's process is created, runs and ends on its guest thread; each
    ``run_sync_soon`` on the way (created, output ended) would be a scheduler round
    of trio competing with the guest for the GIL, though nobody needs to hear of
    it unless the process fails or must be killed first (client_processes.py).
    """

    __slots__ = ("_is_set", "_lock", "_trio_thread", "_waiter", "_wakeups")

    def __init__(self) -> None:
        self._wakeups = thread_wakeups()
        self._trio_thread = threading.get_ident()
        self._lock = threading.Lock()
        self._is_set = False
        self._waiter: trio.Event | None = None

    def is_set(self) -> bool:
        return self._is_set

    def set(self) -> None:
        """Set it (again: nothing happens). Any thread."""
        with self._lock:
            if self._is_set:
                return
            self._is_set = True
            waiter = self._waiter
        if waiter is None:
            return
        if threading.get_ident() == self._trio_thread:
            waiter.set()
            return
        try:
            self._wakeups.run_sync_soon(waiter.set)
        except trio.RunFinishedError:
            pass  # nobody waits any more

    async def wait(self) -> None:
        """Return once it is set (a checkpoint either way)."""
        with self._lock:
            if not self._is_set and self._waiter is None:
                self._waiter = trio.Event()
            waiter = self._waiter
        if waiter is None:
            await trio.lowlevel.checkpoint()
            return
        await waiter.wait()
