"""Credit-based flow control for output streamed to the client as events.

All of a connection's events share one stdout, so a client that is slow to consume
one process's output must not be throttled by stopping to read that stdout: every
other request would stall behind it (head-of-line blocking). Instead each spawned
process has a window of ``OUTPUT_WINDOW_BYTES``, as HTTP/2 streams do: the sidecar
takes credit before sending an output event, the client returns it with
``process.ackOutput`` once the event was handed to its consumers. With no credit
left the pump stops reading the process's pipe, the pipe fills and the guest blocks
in ``write``, exactly as if a slow reader sat at the other end of a real pipe.
"""

from __future__ import annotations

import trio

__all__ = ["OutputWindow"]


class OutputWindow:
    """Bytes a stream may have in flight. ``take`` may wait; ``give`` never does."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._credit = size
        self._changed = trio.Event()

    async def take(self, wanted: int) -> int:
        """Wait until some credit is available; take up to ``wanted`` bytes of it."""
        await trio.lowlevel.checkpoint_if_cancelled()
        while self._credit <= 0:
            await self._changed.wait()
        n = min(wanted, self._credit)
        self._credit -= n
        await trio.lowlevel.cancel_shielded_checkpoint()
        return n

    def give(self, n: int) -> None:
        """Return ``n`` bytes of credit (never beyond the window: a confused or
        hostile client cannot unbound the buffer by acknowledging too much)."""
        if n <= 0:
            return
        self._credit = min(self.size, self._credit + n)
        self._changed.set()
        self._changed = trio.Event()
