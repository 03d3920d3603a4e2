"""Async byte I/O over a :class:`HostConnection` (the sidecar's end of a VM-internal
connection) for trio code: the connection's ``watch`` callback (called on any
thread) wakes the waiting task through the trio token.

XX: net/host_stream.py (net.fetch / previews) is the shared adapter once it lands;
this module should then give way to it.
"""

from __future__ import annotations

import trio

from ..kernel.errors import KernelError
from ..net import HostConnection

__all__ = ["GuestStream"]


class GuestStream:
    """``receive_some`` / ``send_all`` / ``aclose`` over one HostConnection."""

    def __init__(self, conn: HostConnection) -> None:
        self._conn = conn
        self._token = trio.lowlevel.current_trio_token()
        self._changed = trio.Event()
        conn.watch(self._on_change)

    def _on_change(self) -> None:
        try:
            self._token.run_sync_soon(self._wake)
        except trio.RunFinishedError:
            pass

    def _wake(self) -> None:
        self._changed.set()

    async def receive_some(self, max_bytes: int = 65536) -> bytes:
        """Bytes the guest sent; b"" at end of stream. Raises: BrokenResourceError."""
        while True:
            changed = self._changed = trio.Event()
            try:
                data = self._conn.recv_nowait(max_bytes)
            except KernelError as exc:
                if exc.errno != "EAGAIN":
                    raise trio.BrokenResourceError(exc.errno) from None
                await changed.wait()
                continue
            await trio.lowlevel.checkpoint()
            return data

    async def send_all(self, data: bytes) -> None:
        """Raises: BrokenResourceError (the guest closed)."""
        view = memoryview(data)
        while view:
            changed = self._changed = trio.Event()
            try:
                view = view[self._conn.send_nowait(view):]
            except KernelError as exc:
                if exc.errno != "EAGAIN":
                    raise trio.BrokenResourceError(exc.errno) from None
                await changed.wait()
        await trio.lowlevel.checkpoint()

    def close(self) -> None:
        self._conn.unwatch(self._on_change)
        self._conn.close()
