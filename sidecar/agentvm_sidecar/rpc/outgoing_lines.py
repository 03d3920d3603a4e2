"""The connection's output: whole lines, in order, written by one owner at a time.

Why a direct write: a line handed to a writer task waits for two scheduler rounds
(the writer's wake-up, then ``send_all``'s own checkpoint) before its ``write``; on
this machine that was ~25 us of a ~140 us ``vm.list`` round trip. So a line is
written at once, by the task that made it, when the output is a pipe (an
``FdStream``, non-blocking) and nothing is queued or being written before it. Only
what the pipe does not take now (all of it, or the rest of a partial write) goes to
the writer task, whose bounded queue is the back-pressure on a client that stops
reading. Any later line queues behind it, so lines are never reordered or torn.

Another thread may write a line too (``write_whole``: an answer sent early from a
guest thread, rpc/early_answers.py), only when the pipe takes all of it at once
and nothing is queued; one lock covers every direct write and the count of what
is queued, so a thread's line never lands inside a line written in parts.
"""

from __future__ import annotations

import os
import select
import stat
import threading
from collections.abc import Callable

import trio

from ..logs import get_logger

__all__ = ["OutgoingLines"]

log = get_logger("rpc")


class OutgoingLines:
    """Lines for the stream ``write_loop`` writes to (queued until it runs)."""

    def __init__(self, capacity: int) -> None:
        self._queue_send, self._queue_recv = trio.open_memory_channel[bytes](capacity)
        self._backlog = 0  # lines queued or being written by the writer task
        self._fd: int | None = None  # set while a pipe may be written to directly
        self._lock = threading.Lock()  # direct writes and _backlog (write_whole's thread)
        self._fifo = False  # the output is a pipe: a write up to PIPE_BUF is all or nothing
        self._on_closed: Callable[[], object] = _nothing

    async def send(self, line: bytes) -> None:
        """Write ``line`` now, or queue it (waiting while the queue is full)."""
        rest = self._write_now(line)
        if rest is None:
            return
        try:
            try:
                # Handed over at once when the queue has room, as nearly always: an
                # awaited send would cost the sender a scheduler round of its own.
                self._queue_send.send_nowait(rest)
            except trio.WouldBlock:
                await self._queue_send.send(rest)
        except BaseException as exc:
            self._unqueued()
            if not isinstance(exc, (trio.BrokenResourceError, trio.ClosedResourceError)):
                raise
            log.debug("dropped_line_after_close")

    def send_nowait(self, line: bytes) -> None:
        """Write or queue ``line`` without waiting; dropped (and logged) when the
        queue is full or closed (used by requests cancelled at close)."""
        rest = self._write_now(line)
        if rest is None:
            return
        try:
            self._queue_send.send_nowait(rest)
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            self._unqueued()
            log.info("dropped_line_at_close")

    def write_whole(self, line: bytes) -> bool:
        """From any thread: write ``line`` if the pipe takes all of it at once (a
        line up to PIPE_BUF is written whole or not at all) and nothing is queued;
        whether it did. Nothing is queued for later: the caller sends it otherwise."""
        if len(line) > select.PIPE_BUF or not self._fifo:
            return False
        with self._lock:
            return self._fd is not None and not self._backlog and self._try_write(line) == len(line)

    def _write_now(self, line: bytes) -> bytes | None:
        """Write what the pipe takes now when nothing is ahead of ``line``; the
        part left for the writer task, already counted as queued (no other line
        may be written ahead of or into it until the writer task wrote it), or
        None when nothing is left."""
        with self._lock:
            written = self._try_write(line) if self._fd is not None and not self._backlog else 0
            if written < 0:
                self._fd = None
            elif written < len(line):
                self._backlog += 1
        if written < 0:
            self._closed()
            return None
        return line[written:] if written < len(line) else None

    def _try_write(self, line: bytes) -> int:
        """Bytes of ``line`` the pipe took now; -1 when the output is broken. Under the lock."""
        assert self._fd is not None
        try:
            return os.write(self._fd, line)
        except BlockingIOError:
            return 0
        except OSError:
            return -1

    def _unqueued(self) -> None:
        """A line counted as queued was not (dropped), or the writer task wrote it."""
        with self._lock:
            self._backlog -= 1

    async def aclose(self) -> None:
        """No more lines: the writer task ends once it has written what is queued."""
        await self._queue_send.aclose()

    async def write_loop(self, send: trio.abc.SendStream, on_closed: Callable[[], object]) -> None:
        """Write lines to ``send`` in order until ``aclose``; when the output
        breaks, call ``on_closed`` (the connection's: end it) and stop."""
        self._on_closed = on_closed
        # A pipe may be written to directly; other streams (tests' memory streams)
        # only through this task.
        if isinstance(send, trio.lowlevel.FdStream):
            self._fifo = stat.S_ISFIFO(os.fstat(send.fileno()).st_mode)
            self._fd = send.fileno()
        async with self._queue_recv:
            async for line in self._queue_recv:
                try:
                    await send.send_all(line)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    self._closed()
                    return
                self._unqueued()

    def _closed(self) -> None:
        """The output broke: said once, whichever write saw it first."""
        with self._lock:
            self._fd = None  # later lines queue, for nobody: the connection is ending
        on_closed, self._on_closed = self._on_closed, _nothing
        if on_closed is not _nothing:
            log.info("output_closed")
            on_closed()


def _nothing() -> None:
    pass
