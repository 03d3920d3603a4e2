# A trio stream over a host-side connection to a guest socket.
#
# The kernel's socket table (net-core) gives the host a HostConnection: a plain,
# thread-safe object whose `_nowait` calls never block (EAGAIN instead) and whose
# `watch(callback)` reports, from whatever thread made it, any change that may affect
# readiness.  HostStream wraps it the way trio's `_sync.py` wraps its sync cores:
# each async method checks for cancellation, tries the `_nowait` call, and when that
# would block parks on a trio.Event that the watch callback sets through the trio
# token; otherwise it takes a cancel-shielded checkpoint.  So every method
# checkpoints exactly once on the fast path, and no thread is parked per wait.
#
# Wake-ups are coalesced: a guest writing many small chunks calls the watcher once
# per chunk, but at most one `run_sync_soon` is queued at a time.  Skipping a wake
# while one is queued loses nothing: the queued one runs after the change that
# triggered the skipped one, and the woken task retries against the current state.
#
# Errors become trio's: EPIPE / ECONNRESET -> BrokenResourceError; using the stream
# after aclose() -> ClosedResourceError.  Anything else (a kernel bug) propagates.

from __future__ import annotations

from typing import Protocol

import trio

from ..kernel.errors import KernelError

__all__ = ["HostConnection", "HostStream"]

RECEIVE_SIZE = 65536
_BROKEN = frozenset({"EPIPE", "ECONNRESET", "ENOTCONN"})


class HostConnection(Protocol):
    """The host end of a connection to a guest socket (kernel.sockets.connect_from_host)."""

    def send_nowait(self, data: bytes | memoryview) -> int: ...
    def recv_nowait(self, n: int) -> bytes: ...
    def shutdown_write(self) -> None: ...
    def close(self) -> None: ...
    def watch(self, callback) -> None: ...
    def unwatch(self, callback) -> None: ...


class _OneTaskAtATime:
    """Raises trio.BusyResourceError when two tasks use one direction at once (trio's
    stream contract; its own detector is private)."""

    def __init__(self, message: str) -> None:
        self._message = message
        self._held = False

    def __enter__(self) -> None:
        if self._held:
            raise trio.BusyResourceError(self._message)
        self._held = True

    def __exit__(self, *exc_info: object) -> None:
        self._held = False


class HostStream(trio.abc.HalfCloseableStream):
    """A HalfCloseableStream over a HostConnection. Create it inside trio (it keeps
    the current trio token to be woken from other threads)."""

    def __init__(self, conn: HostConnection) -> None:
        self._conn = conn
        self._token = trio.lowlevel.current_trio_token()
        self._changed = trio.Event()
        self._wake_queued = False
        self._closed = False
        self._send_conflict = _OneTaskAtATime("another task is sending on this stream")
        self._receive_conflict = _OneTaskAtATime("another task is receiving from this stream")
        conn.watch(self._on_change)

    # -- readiness (watch callback runs on any thread) ---------------------------
    def _on_change(self) -> None:
        if self._wake_queued:
            return
        self._wake_queued = True
        try:
            self._token.run_sync_soon(self._wake)
        except trio.RunFinishedError:
            pass

    def _wake(self) -> None:
        self._wake_queued = False
        self._changed.set()
        self._changed = trio.Event()

    def _check_open(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("the stream is closed")

    # -- ReceiveStream -----------------------------------------------------------
    def receive_some_nowait(self, max_bytes: int | None = None) -> bytes:
        """Up to ``max_bytes`` buffered bytes; b"" at end of stream.

        Raises: trio.WouldBlock (nothing buffered), BrokenResourceError (reset),
        ClosedResourceError."""
        self._check_open()
        try:
            return self._conn.recv_nowait(max_bytes or RECEIVE_SIZE)
        except KernelError as exc:
            if exc.errno == "EAGAIN":
                raise trio.WouldBlock from None
            if exc.errno in _BROKEN:
                raise trio.BrokenResourceError(exc.errno) from exc
            raise

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Wait for data; return up to ``max_bytes`` of it, or b"" at end of stream."""
        if max_bytes is not None and max_bytes < 1:
            raise ValueError("max_bytes must be >= 1")
        with self._receive_conflict:
            await trio.lowlevel.checkpoint_if_cancelled()
            while True:
                changed = self._changed
                try:
                    data = self.receive_some_nowait(max_bytes)
                except trio.WouldBlock:
                    await changed.wait()
                    continue
                await trio.lowlevel.cancel_shielded_checkpoint()
                return data

    # -- SendStream ----------------------------------------------------------------
    def send_some_nowait(self, data: bytes | memoryview) -> int:
        """Bytes of ``data`` the connection accepted (>0).

        Raises: trio.WouldBlock (full), BrokenResourceError (the guest stopped
        reading), ClosedResourceError."""
        self._check_open()
        try:
            return self._conn.send_nowait(data)
        except KernelError as exc:
            if exc.errno == "EAGAIN":
                raise trio.WouldBlock from None
            if exc.errno in _BROKEN:
                raise trio.BrokenResourceError(exc.errno) from exc
            raise

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Send all of ``data``, waiting while the connection's buffer is full."""
        with self._send_conflict:
            await trio.lowlevel.checkpoint_if_cancelled()
            view = memoryview(data).cast("B")
            while view:
                changed = self._changed
                try:
                    view = view[self.send_some_nowait(view) :]
                except trio.WouldBlock:
                    await changed.wait()
            self._check_open()
            await trio.lowlevel.cancel_shielded_checkpoint()

    async def wait_send_all_might_not_block(self) -> None:
        # XX: HostConnection reports no writability, and trio allows this to return
        # early; send_all parks properly when the buffer is full.
        with self._send_conflict:
            self._check_open()
            await trio.lowlevel.checkpoint()

    async def send_eof(self) -> None:
        """The guest reads end of file after what was sent."""
        with self._send_conflict:
            await trio.lowlevel.checkpoint_if_cancelled()
            self._check_open()
            self._conn.shutdown_write()
            await trio.lowlevel.cancel_shielded_checkpoint()

    # -- AsyncResource ---------------------------------------------------------------
    def close(self) -> None:
        """Close at once (sync; idempotent). A task parked on the stream is woken and
        gets ClosedResourceError."""
        if self._closed:
            return
        self._closed = True
        self._conn.unwatch(self._on_change)
        self._conn.close()
        self._wake()

    async def aclose(self) -> None:
        self.close()
        await trio.lowlevel.checkpoint()
