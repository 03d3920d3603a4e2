"""Connections from outside the VM (the sidecar itself) to a guest listener.

``SocketTable.connect_from_host(port)`` queues a VM-loopback connection on the
listener's accept backlog exactly like a guest connect, and returns the host's end
as a :class:`HostConnection`: a small non-blocking, thread-safe API that trio code
(net.fetch, preview URLs) drives with ``watch`` callbacks instead of threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .loopback import LoopbackEnd

__all__ = ["HostConnection"]


class HostConnection:
    """The host's end of a connection to a guest listener. Sync, thread-safe,
    never blocks. Counts against the VM's ``max_sockets`` until closed."""

    def __init__(self, end: LoopbackEnd, on_close: Callable[[], None]) -> None:
        self._end = end
        self._on_close = on_close
        self._closed = False
        self._lock = threading.Lock()

    @property
    def guest_address(self) -> str:
        """The guest listener's address (``127.0.0.1:<port>``)."""
        return self._end.peer

    def send_nowait(self, data: bytes | memoryview) -> int:
        """Queue bytes for the guest to read; returns how many were taken (>0 unless
        ``data`` is empty).

        Raises: KernelError EAGAIN (the guest's receive buffer is full: wait for a
        ``watch`` callback), EPIPE (the guest closed or shut down reading, or this
        connection was closed), ECONNRESET.
        """
        if not len(data):
            return 0
        return self._end.send(data, nonblocking=True)

    def recv_nowait(self, n: int) -> bytes:
        """Up to ``n`` bytes the guest wrote; b"" at end of stream (the guest closed
        or shut down writing).

        Raises: KernelError EAGAIN (nothing buffered yet), ECONNRESET.
        """
        return self._end.recv(n, nonblocking=True)

    def shutdown_write(self) -> None:
        """The guest reads end of stream after the bytes already sent."""
        self._end.shutdown(read=False, write=True)

    def close(self) -> None:
        """Close both directions (the guest sees EOF on read, EPIPE on write).
        Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._end.close()
        self._on_close()

    def watch(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` (from any thread, possibly a guest's) after any state
        change that may affect readiness: data or room in either direction, EOF,
        close, reset. Callbacks must be quick and must not block (e.g. a
        ``trio.from_thread.run_sync(event.set, trio_token=...)``)."""
        self._end.watch(callback)

    def unwatch(self, callback: Callable[[], None]) -> None:
        """Stop calling ``callback``."""
        self._end.unwatch(callback)
