"""Started threads kept waiting for the next guest process, so starting one creates no thread.

Why: a guest process runs on a thread of its own (runtime.py). Creating that thread
cost the starting thread ~20 us (trio's, for a wire start; the parent guest's for a
guest's spawn) and ~35 us more before the new thread ran, on every process start. A
waiting thread is handed its work by one lock release (~4 us) and runs ~9 us later.
As trio's own thread cache (``trio/_core/_thread_cache.py``) and Go's idle Ms do.

Bounds: at most ``max_idle`` threads wait at once (a thread that finishes while that
many wait ends instead), and a thread that waited ``idle_seconds`` without work ends,
so a sidecar that went quiet holds none. A waiting thread is not a guest: the runtime
counts a guest (the epoch ticker, run slots) only while it runs a process. Work
handed over must leave no thread-local state behind (the runtime's ``_run_process``
clears the guest context, the blocking hook and the attribute cache in its
``finally``); an exception escaping the work ends its thread, as it ended a bare one.

Threads are bare ``_thread`` threads, as before: ``Thread.start`` would hold the
starting thread until the new one is up.
"""

from __future__ import annotations

import _thread
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["IDLE_SECONDS", "MAX_IDLE", "SpareThreads", "SpareThreadsStatistics", "shared_spare_threads"]

MAX_IDLE = 4
IDLE_SECONDS = 10.0

_Work = tuple[Callable[..., object], tuple[Any, ...]]


class _Waiter:
    """One waiting thread: its wake-up lock (held while it waits) and the work handed to it."""

    __slots__ = ("wake", "work")

    def __init__(self) -> None:
        self.wake = _thread.allocate_lock()
        self.wake.acquire()
        self.work: _Work | None = None


class SpareThreadsStatistics:
    """A snapshot: threads waiting for work, threads started so far."""

    __slots__ = ("idle", "started")

    def __init__(self, idle: int, started: int) -> None:
        self.idle = idle
        self.started = started


class SpareThreads:
    """Runs each piece of work on a waiting thread, or on a new one when none waits."""

    def __init__(self, max_idle: int = MAX_IDLE, idle_seconds: float = IDLE_SECONDS) -> None:
        self._max_idle = max_idle
        self._idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._idle: list[_Waiter] = []  # last in, first out: the most recently used thread
        self._started = 0

    def run(self, fn: Callable[..., object], *args: Any) -> None:
        """Call ``fn(*args)`` on another thread; returns at once."""
        with self._lock:
            waiter = self._idle.pop() if self._idle else None
            if waiter is None:
                self._started += 1
        if waiter is None:
            # Handed over in the waiter, not as the thread's arguments: those stay
            # referenced until the thread ends, and would keep the first process's
            # kernel (all its files) alive for the thread's whole life.
            waiter = _Waiter()
            waiter.work = (fn, args)
            _thread.start_new_thread(self._serve, (waiter,))
            return
        waiter.work = (fn, args)
        waiter.wake.release()

    def statistics(self) -> SpareThreadsStatistics:
        with self._lock:
            return SpareThreadsStatistics(idle=len(self._idle), started=self._started)

    def _serve(self, waiter: _Waiter) -> None:
        work, waiter.work = waiter.work, None
        while work is not None:
            fn, args = work
            fn(*args)
            del fn, args, work  # nothing of a finished process stays reachable from here
            work = self._wait_for_work(waiter)

    def _wait_for_work(self, waiter: _Waiter) -> _Work | None:
        """The next work handed to this thread, or None when it should end."""
        with self._lock:
            if len(self._idle) >= self._max_idle:
                return None
            self._idle.append(waiter)
        if not waiter.wake.acquire(timeout=self._idle_seconds):
            with self._lock:
                if waiter in self._idle:
                    self._idle.remove(waiter)
                    return None
            # run() took this thread between the timeout and the lock: its release comes
            waiter.wake.acquire()
        work, waiter.work = waiter.work, None
        assert work is not None
        return work


_shared = SpareThreads()


def shared_spare_threads() -> SpareThreads:
    """The sidecar's pool: guest processes (runtime.py) and the client's kernel calls
    (thread_calls.py) run on the same waiting threads."""
    return _shared
