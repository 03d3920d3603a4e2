"""Telling the current thread's scheduler that the thread is about to block.

Guest threads run under run slots (wasm/scheduler.py): only a few run at once, so they
do not hand the GIL back and forth on every host call. A thread that blocks must give
its slot up first, or the guests queued for a slot wait behind a thread doing nothing.
The kernel knows nothing about guests or slots: each of its blocking waits calls
``before_blocking()``, which runs the hook the current thread registered (a guest
thread's scheduler seat), and nothing on threads without one (the trio thread, worker
threads). This is the part of Go's ``entersyscall`` the kernel needs.

Taking the slot back is not done here: the scheduler does it at the guest's next safe
point (the host call's return), where the thread holds no kernel lock. A thread woken
while holding a pipe's or the process table's lock finishes its host call without a
slot instead of waiting for one with that lock held.

A wait that forgets to call ``before_blocking()`` costs speed, never liveness: the
scheduler lends the slot of a holder that stops making progress (wasm/scheduler.py).

Kills: a kernel wait must notice its process's kill. A wait that can be woken early
(a pipe) offers a way to with ``wake_on_kill(kick)``; on a guest thread the seat keeps
it and a kill calls it, so the wait need not wake on a timer to look (20 readers of
empty pipes polling every 50 ms cost each grep about 3 wake-ups per poll of GIL
hand-offs, bench/README.md). Where nobody takes the kick (no seat), it polls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["before_blocking", "set_blocking_hook", "set_kick_sink", "wait", "wake_on_kill"]

_local = threading.local()


def set_blocking_hook(hook: Callable[[], None] | None) -> None:
    """Run ``hook`` (None: nothing) whenever the current thread is about to block."""
    _local.hook = hook


def set_kick_sink(sink: Callable[[Callable[[], None] | None], None] | None) -> None:
    """Hand the current thread's ``wake_on_kill`` kicks to ``sink`` (None: nobody)."""
    _local.sink = sink


def wake_on_kill(kick: Callable[[], None] | None) -> bool:
    """While the current thread waits, a kill of its process calls ``kick`` (None:
    stop). Returns whether anyone will: if not, the wait must poll for its kill."""
    sink = getattr(_local, "sink", None)
    if sink is None:
        return False
    sink(kick)
    return True


def before_blocking() -> None:
    """The current thread may block now (on a condition, a sleep, a select, trio)."""
    hook = getattr(_local, "hook", None)
    if hook is not None:
        hook()


def wait(cond: threading.Condition, timeout: float | None) -> bool:
    """``cond.wait(timeout)`` (the caller holds ``cond``) after ``before_blocking()``."""
    before_blocking()
    return cond.wait(timeout)
