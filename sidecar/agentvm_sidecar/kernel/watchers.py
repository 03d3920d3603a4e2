# Readiness callbacks and the blocking wait step, shared by every kernel object a
# guest can wait on (pipes, socket streams, datagram queues, listeners).
#
# poll_oneoff and the trio adapters register a callback with `watch`; the object
# calls every callback after each state change that may affect readiness. They run
# outside the object's lock, on whichever thread changed the state, so a callback
# may take other locks.

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from . import blocking
from .errors import KernelError

__all__ = ["WAIT_SLICE", "Watchable"]

# Longest a blocked guest sleeps before it looks at kill and deadlines again.
WAIT_SLICE = 0.05


class Watchable:
    """Mixin for an object guarded by ``self._cond`` that keeps its callbacks in
    ``self._watchers`` (a set its ``__init__`` creates)."""

    _cond: threading.Condition
    _watchers: set[Callable[[], None]]

    def watch(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after state changes that may affect readiness."""
        with self._cond:
            self._watchers.add(callback)

    def unwatch(self, callback: Callable[[], None]) -> None:
        """Stop calling ``callback``."""
        with self._cond:
            self._watchers.discard(callback)

    def _notify(self) -> None:
        if not self._watchers:
            # Read without the lock (one atomic step under the GIL): a watcher
            # registers first and checks readiness after, so it never misses a
            # change that happened before it was in the set.
            return
        with self._cond:
            watchers = list(self._watchers)
        for callback in watchers:
            callback()

    def _wait_slice(self, interrupted: Callable[[], bool], deadline: float | None, what: str) -> None:
        """One bounded wait on ``self._cond`` (held by the caller) for a blocking call.

        Raises: EINTR (the process must end), EAGAIN ``"<what> timeout"`` when the
        monotonic ``deadline`` (SO_RCVTIMEO) has passed.
        """
        if interrupted():
            raise KernelError("EINTR", "interrupted by a signal")
        timeout = WAIT_SLICE
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise KernelError.eagain(f"{what} timeout")
            timeout = min(timeout, left)
        blocking.wait(self._cond, timeout)
