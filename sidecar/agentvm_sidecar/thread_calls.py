"""Blocking kernel calls from trio: on a spare thread, answered through the wake-ups.

Why: ``trio.to_thread.run_sync`` cost 111-161 us of wall time and 98-143 us of CPU per call
(a no-op, measured on this machine), more than the kernel work of most client
requests (an ``fs.exists`` is ~10 us of it): its worker thread reports back with
``run_sync_soon``, whose socket write hands the GIL to the trio thread mid-call, and
each call builds a fresh cancel scope, outcome queue and limiter statistics. Here
the call runs on a waiting thread of the pool guest processes run on
(wasm/spare_threads.py: one lock release hands it over), and its outcome goes back
through the trio thread's eventfd (thread_wakeups.py, which keeps the GIL), as guest
process exits already do.

Semantics are ``trio.to_thread.run_sync``'s default: the call is not cancellable once
started (a kernel call is short, or bounded by the kernel's own limits), the caller
waits for it, its exception is re-raised in the caller, and ``limiter`` bounds how
many run at once (taken without a scheduler round when a token is free). The call
must leave no thread-local state behind (the spare threads' rule); kernel calls made
for the client set none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import outcome
import trio

from .thread_wakeups import thread_wakeups
from .wasm.spare_threads import shared_spare_threads

__all__ = ["run_in_thread"]

T = TypeVar("T")


async def run_in_thread(fn: Callable[[], T], limiter: trio.CapacityLimiter) -> T:
    """``fn()`` on another thread, holding one of ``limiter``'s tokens; its result."""
    try:
        limiter.acquire_nowait()
    except trio.WouldBlock:
        await limiter.acquire()
    try:
        task = trio.lowlevel.current_task()
        wakeups = thread_wakeups()

        def work() -> None:
            result = outcome.capture(fn)
            try:
                wakeups.run_sync_soon(trio.lowlevel.reschedule, task, result)
            except trio.RunFinishedError:
                pass  # the run ended meanwhile: nobody waits

        shared_spare_threads().run(work)
        result: T = await trio.lowlevel.wait_task_rescheduled(lambda raise_cancel: trio.lowlevel.Abort.FAILED)
        return result
    finally:
        limiter.release()
