# Guest sockets: open file descriptions of kind SOCKET.
#
# A Socket sits in fd tables like a pipe end (shared by dup and spawn, closed by
# the last release), so every process of a VM — a shell's children and their
# children alike — reaches the network through the same SocketTable and the same
# policy.  Its state is one of:
#   fresh        created by socket(); may bind, listen, connect, sendto
#   listening    a stream socket with a Listener (accept queue) on a VM port
#   connected    a stream socket with an end: LoopbackEnd (guest or host peer
#                inside the VM) or OutboundEnd (a host connection made by the
#                sidecar after the policy allowed it)
#   datagram     a UDP socket, with a DatagramQueue once bound
# Everything that involves the VM as a whole (ports, counts, policy, resolution)
# lives in table.py; this module is the per-socket state machine.

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ..kernel.descriptions import Description
from ..kernel.errors import KernelError
from ..kernel.fstypes import S_IFSOCK, FileKind, Stat
from ..kernel.pipes import Interrupted, never_interrupted
from .datagrams import MAX_DATAGRAM_BYTES, DatagramQueue
from .loopback import Listener
from .outbound import OutboundEnd

if TYPE_CHECKING:
    from .table import SocketTable

__all__ = ["Socket", "StreamEnd"]

_inodes = iter(range(1 << 50, 1 << 62))


class StreamEnd(Protocol):
    local: str
    peer: str

    def recv(self, n: int, *, nonblocking: bool, deadline: float | None = None, interrupted: Interrupted = never_interrupted) -> bytes: ...
    def send(self, data: bytes | memoryview, *, nonblocking: bool, interrupted: Interrupted = never_interrupted) -> int: ...
    def shutdown(self, read: bool, write: bool) -> None: ...
    def close(self) -> None: ...
    def readable(self) -> bool: ...
    def writable(self) -> bool: ...
    def watch(self, callback: Callable[[], None]) -> None: ...
    def unwatch(self, callback: Callable[[], None]) -> None: ...


class Socket(Description):
    """A guest socket (TCP stream or UDP datagram). Thread-safe."""

    kind = FileKind.SOCKET
    readable = True
    writable = True

    def __init__(self, table: SocketTable, stream: bool, ipv6: bool = False) -> None:
        super().__init__()
        self.table = table
        self.stream = stream
        self.ipv6 = ipv6
        self.recv_timeout: float | None = None  # SO_RCVTIMEO seconds
        self.local: str | None = None  # "host:port" once bound or connected
        self.port: int | None = None  # the VM port this socket holds in the table
        self.end: StreamEnd | None = None
        self.listener: Listener | None = None
        self.datagrams: DatagramQueue | None = None
        self.default_peer: str | None = None  # connect() on a datagram socket
        self._lock = threading.Lock()
        self._watchers: set[Callable[[], None]] = set()
        self._ino = next(_inodes)

    # -- state transitions (called by the table, which owns ports and counts) -----
    def attach(self, *, end: StreamEnd | None = None, listener: Listener | None = None,
               datagrams: DatagramQueue | None = None) -> None:
        with self._lock:
            if end is not None:
                self.end = end
            if listener is not None:
                self.listener = listener
            if datagrams is not None:
                self.datagrams = datagrams
            target = end or listener or datagrams
            watchers = list(self._watchers)
        for callback in watchers:
            if target is not None:
                target.watch(callback)
            callback()

    def _close(self) -> None:
        self.table.close_socket(self)

    # -- I/O ----------------------------------------------------------------------
    def receive_deadline(self) -> float | None:
        """When a blocking receive or accept starting now gives up (SO_RCVTIMEO)."""
        return None if self.recv_timeout is None else time.monotonic() + self.recv_timeout

    def connected_end(self) -> StreamEnd:
        """Raises: ENOTCONN."""
        end = self.end
        if end is None:
            raise KernelError("ENOTCONN", "socket is not connected")
        return end

    def recv(self, n: int, *, dontwait: bool = False, interrupted: Interrupted = never_interrupted) -> bytes:
        """Receive up to ``n`` bytes (a datagram socket: one datagram, truncated).

        Raises: ENOTCONN, ECONNRESET, EAGAIN (nonblocking or SO_RCVTIMEO), EINTR.
        """
        if not self.stream:
            return self.recv_from(n, dontwait=dontwait, interrupted=interrupted)[0]
        nonblocking = self.nonblocking or dontwait
        return self.connected_end().recv(n, nonblocking=nonblocking, deadline=self.receive_deadline(), interrupted=interrupted)

    def send(self, data: bytes | memoryview, *, dontwait: bool = False, interrupted: Interrupted = never_interrupted) -> int:
        """Raises: ENOTCONN, EPIPE, ECONNRESET, EAGAIN, EINTR, EDESTADDRREQ."""
        if not self.stream:
            if self.default_peer is None:
                raise KernelError("EDESTADDRREQ", "datagram socket has no peer")
            return self.table.send_datagram(self, bytes(data), self.default_peer)
        return self.connected_end().send(data, nonblocking=self.nonblocking or dontwait, interrupted=interrupted)

    def recv_from(self, n: int, *, dontwait: bool = False, interrupted: Interrupted = never_interrupted) -> tuple[bytes, str]:
        """One datagram (truncated to ``n``) and its sender. Raises: EAGAIN, EINTR, ENOTCONN."""
        if self.stream:
            end = self.connected_end()
            return self.recv(n, dontwait=dontwait, interrupted=interrupted), end.peer
        queue = self.datagrams
        if queue is None:
            queue = self.table.autobind_datagram(self)
        data, sender = queue.receive(
            nonblocking=self.nonblocking or dontwait, deadline=self.receive_deadline(), interrupted=interrupted
        )
        return data[:n], sender

    def send_to(self, data: bytes | memoryview, address: str) -> int:
        """Raises: EMSGSIZE, EINVAL, EACCES (policy), EISCONN (a stream socket)."""
        if self.stream:
            raise KernelError("EISCONN", "sendto with an address on a stream socket")
        if len(data) > MAX_DATAGRAM_BYTES:
            raise KernelError("EMSGSIZE", "datagram too large")
        return self.table.send_datagram(self, bytes(data), address)

    # -- Description interface (fd_read / fd_write / poll) -------------------------
    def read(self, n: int, interrupted: Interrupted = never_interrupted) -> bytes:
        return self.recv(n, interrupted=interrupted)

    def write(self, data: bytes | memoryview, interrupted: Interrupted = never_interrupted) -> int:
        return self.send(data, interrupted=interrupted)

    def stat(self) -> Stat:
        return Stat(
            ino=self._ino, dev=0, mode=S_IFSOCK | 0o777, nlink=1, uid=1000, gid=1000,
            size=0, atime_ns=0, mtime_ns=0, ctime_ns=0,
        )

    def ready(self, for_write: bool) -> bool:
        if self.listener is not None:
            return not for_write and self.listener.pending() > 0
        if self.datagrams is not None or not self.stream:
            return for_write or (self.datagrams is not None and self.datagrams.readable())
        end = self.end
        if end is None:
            return for_write  # unconnected: a write fails at once (ENOTCONN)
        return end.writable() if for_write else end.readable()

    @property
    def needs_polling(self) -> bool:  # type: ignore[override]
        """Readiness comes from a host socket, which has no watchers."""
        return isinstance(self.end, OutboundEnd)

    def watch(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._watchers.add(callback)
            target = self.end or self.listener or self.datagrams
        if target is not None:
            target.watch(callback)

    def unwatch(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._watchers.discard(callback)
            target = self.end or self.listener or self.datagrams
        if target is not None:
            target.unwatch(callback)
