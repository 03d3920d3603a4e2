# VM loopback: connections between two endpoints inside one VM (guest <-> guest,
# or the host's connect_from_host <-> guest), never touching the host network.
#
# A connection is two ByteStreams; each end reads one and writes the other.  A
# Listener is a bound port's accept queue: connect() makes a connection and queues
# the server's end (with the client's address) until accept() takes it.  The queue
# is bounded by the listen backlog: a connect to a full queue is refused
# (ECONNREFUSED) at once rather than parked, so a connect storm never hangs.

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from ..kernel.errors import KernelError
from ..kernel.pipes import Interrupted, never_interrupted
from ..kernel.watchers import Watchable
from .stream import ByteStream

__all__ = ["Listener", "LoopbackEnd", "loopback_pair"]



class LoopbackEnd:
    """One end of a VM-loopback stream connection. Thread-safe."""

    def __init__(self, inbound: ByteStream, outbound: ByteStream, local: str, peer: str) -> None:
        self._in = inbound
        self._out = outbound
        self.local = local
        self.peer = peer

    def recv(self, n: int, *, nonblocking: bool, deadline: float | None = None, interrupted: Interrupted = never_interrupted) -> bytes:
        """Raises: ECONNRESET, EAGAIN, EINTR."""
        return self._in.read(n, nonblocking=nonblocking, deadline=deadline, interrupted=interrupted)

    def send(self, data: bytes | memoryview, *, nonblocking: bool, interrupted: Interrupted = never_interrupted) -> int:
        """Raises: EPIPE, ECONNRESET, EAGAIN, EINTR."""
        return self._out.write(data, nonblocking=nonblocking, interrupted=interrupted)

    def shutdown(self, read: bool, write: bool) -> None:
        if read:
            self._in.close_read()
        if write:
            self._out.close_write()

    def close(self) -> None:
        self.shutdown(read=True, write=True)

    def reset(self) -> None:
        self._in.reset_connection()
        self._out.reset_connection()

    def readable(self) -> bool:
        return self._in.readable()

    def writable(self) -> bool:
        return self._out.writable()

    def buffered(self) -> int:
        return self._in.buffered()

    def watch(self, callback: Callable[[], None]) -> None:
        self._in.watch(callback)
        self._out.watch(callback)

    def unwatch(self, callback: Callable[[], None]) -> None:
        self._in.unwatch(callback)
        self._out.unwatch(callback)


def loopback_pair(capacity: int, client_addr: str, server_addr: str) -> tuple[LoopbackEnd, LoopbackEnd]:
    """(client end, server end) of a new connection with ``capacity`` bytes per direction."""
    up, down = ByteStream(capacity), ByteStream(capacity)
    return LoopbackEnd(down, up, client_addr, server_addr), LoopbackEnd(up, down, server_addr, client_addr)


class Listener(Watchable):
    """The accept queue of a listening port. Thread-safe."""

    def __init__(self, backlog: int, on_discard: Callable[[], None]) -> None:
        self.backlog = backlog
        self._queue: deque[LoopbackEnd] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._closed = False
        self._watchers: set[Callable[[], None]] = set()
        self._on_discard = on_discard  # a queued connection dropped unaccepted

    def enqueue(self, end: LoopbackEnd) -> None:
        """Queue the server end of a new connection.

        Raises: ECONNREFUSED (closed, or the backlog is full).
        """
        with self._cond:
            if self._closed or len(self._queue) >= self.backlog:
                raise KernelError("ECONNREFUSED", "connection refused")
            self._queue.append(end)
            self._cond.notify_all()
        self._notify()

    def accept(self, *, nonblocking: bool, deadline: float | None = None, interrupted: Interrupted = never_interrupted) -> LoopbackEnd:
        """The oldest queued connection. Raises: EAGAIN, EINTR, EINVAL (closed)."""
        with self._cond:
            while not self._queue:
                if self._closed:
                    raise KernelError.einval(message="socket is not listening")
                if nonblocking:
                    raise KernelError.eagain()
                self._wait_slice(interrupted, deadline, "accept")
            end = self._queue.popleft()
        self._notify()
        return end

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def close(self) -> None:
        """Stop accepting; queued connections are reset (their clients see ECONNRESET)."""
        with self._cond:
            self._closed = True
            dropped = list(self._queue)
            self._queue.clear()
            self._cond.notify_all()
        for end in dropped:
            end.reset()
            self._on_discard()
        self._notify()
