# Readiness callbacks, shared by every kernel object a guest can wait on (pipes,
# socket streams, datagram queues, listeners).
#
# poll_oneoff and the trio adapters register a callback with `watch`; the object
# calls every callback after each state change that may affect readiness. They run
# outside the object's lock, on whichever thread changed the state, so a callback
# may take other locks.

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["Watchable"]


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
        with self._cond:
            watchers = list(self._watchers)
        for callback in watchers:
            callback()
