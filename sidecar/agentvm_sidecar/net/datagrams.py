# Datagram queues for VM-loopback UDP.
#
# A bound UDP port owns one queue of (payload, sender address).  Delivery never
# blocks the sender: like UDP, a datagram that does not fit (count or bytes) is
# dropped.  So a guest that never reads costs at most the queue's bounds.

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from ..kernel.errors import KernelError
from ..kernel.pipes import Interrupted, never_interrupted
from ..kernel.watchers import Watchable

__all__ = ["MAX_DATAGRAM_BYTES", "DatagramQueue"]

MAX_DATAGRAM_BYTES = 65507  # the largest UDP payload over IPv4
MAX_QUEUED_DATAGRAMS = 1024


class DatagramQueue(Watchable):
    """Received datagrams of one bound UDP socket. Thread-safe."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._queue: deque[tuple[bytes, str]] = deque()
        self._bytes = 0
        self._closed = False
        self._cond = threading.Condition(threading.Lock())
        self._watchers: set[Callable[[], None]] = set()

    def deliver(self, data: bytes, sender: str) -> None:
        """Queue a datagram, or drop it silently when the queue is full or closed."""
        with self._cond:
            if self._closed or len(self._queue) >= MAX_QUEUED_DATAGRAMS or self._bytes + len(data) > self.max_bytes:
                return
            self._queue.append((data, sender))
            self._bytes += len(data)
            self._cond.notify_all()
        self._notify()

    def receive(
        self, *, nonblocking: bool, deadline: float | None = None, interrupted: Interrupted = never_interrupted
    ) -> tuple[bytes, str]:
        """The oldest datagram and its sender. Raises: EAGAIN, EINTR."""
        with self._cond:
            while not self._queue:
                if nonblocking:
                    raise KernelError.eagain()
                self._wait_slice(interrupted, deadline, "receive")
            data, sender = self._queue.popleft()
            self._bytes -= len(data)
        self._notify()
        return data, sender

    def readable(self) -> bool:
        with self._cond:
            return bool(self._queue)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._bytes = 0
        self._notify()
