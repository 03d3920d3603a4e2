# Connections the sidecar makes to the host network for a guest.
#
# Guests never touch host sockets: an allowed connect is performed here, on the
# guest's own thread, with a non-blocking host socket and short select() slices
# that poll `interrupted` (kill) and a deadline, so a connect or a read never
# blocks the trio loop and never outlives a killed guest.  TLS (`start_tls`) is
# done with Python's ssl against the system trust store plus the CA certificates
# of the VM's policy; the guest only ever sees plaintext.
#
# Errno choices: refused -> ECONNREFUSED, connect timeout -> ETIMEDOUT, a peer
# certificate that does not verify -> EACCES (a trust decision, distinct from a
# broken handshake -> EPROTO).
#
# A request filter (table.py) sees the guest's plaintext before TLS and returns
# what to send instead; its output waits in `_pending` (bounded by what one guest
# send can expand to) and is flushed before any new data, on recv and on poll.  A
# filter that refuses (KernelError) closes the connection: the guest gets that
# errno once, then EPIPE / end of stream.
#
# XX: host sockets have no watchers; poll callers re-check them every few ms
# (HOST_POLL_SLICE) instead of being woken.

from __future__ import annotations

import select
import socket
import ssl
import time
from collections.abc import Callable
from typing import Protocol

from ..kernel.blocking import before_blocking
from ..kernel.errors import KernelError
from ..kernel.pipes import Interrupted, never_interrupted

__all__ = ["CONNECT_TIMEOUT_S", "HOST_POLL_SLICE", "OutboundEnd", "StreamFilter", "open_connection", "tls_context"]

CONNECT_TIMEOUT_S = 30.0
TLS_HANDSHAKE_TIMEOUT_S = 30.0
HOST_POLL_SLICE = 0.005
_WAIT_SLICE = 0.05


def _wait_io(sock: socket.socket, for_write: bool, deadline: float | None, interrupted: Interrupted, expired: str) -> None:
    """Wait (in slices) until ``sock`` may be ready. Raises: EINTR, ``expired`` at the deadline."""
    if interrupted():
        raise KernelError("EINTR", "interrupted by a signal")
    timeout = _WAIT_SLICE
    if deadline is not None:
        timeout = min(timeout, deadline - time.monotonic())
        if timeout <= 0:
            raise KernelError(expired, "timed out")
    before_blocking()
    if for_write:
        select.select([], [sock], [], timeout)
    else:
        select.select([sock], [], [], timeout)


def open_connection(
    addresses: list[tuple[str, int]], interrupted: Interrupted, timeout: float = CONNECT_TIMEOUT_S
) -> socket.socket:
    """A connected non-blocking host socket to the first address that answers.

    Raises: ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH/ENETUNREACH, EINTR.
    """
    deadline = time.monotonic() + timeout
    last = KernelError("ECONNREFUSED", "connection refused")
    for ip, port in addresses:
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            err = sock.connect_ex((ip, port))
            while err in (115, 11, 36):  # EINPROGRESS, EAGAIN, EINPROGRESS (BSD)
                _wait_io(sock, True, deadline, interrupted, "ETIMEDOUT")
                if select.select([], [sock], [], 0)[1]:
                    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err == 0:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return sock
            last = KernelError.from_oserror(OSError(err, "connect failed"))
        except KernelError as exc:
            sock.close()
            if exc.errno == "EINTR":
                raise
            last = exc
            continue
        except OSError as exc:
            last = KernelError.from_oserror(exc)
        sock.close()
    raise last


def tls_context(ca_certificates: tuple[str, ...], verify: bool) -> ssl.SSLContext:
    """A client context: system trust store plus ``ca_certificates`` (PEM)."""
    ctx = ssl.create_default_context()
    for pem in ca_certificates:
        ctx.load_verify_locations(cadata=pem)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class StreamFilter(Protocol):
    """Sees one outbound connection's plaintext (see the module comment)."""

    def outgoing(self, data: bytes) -> bytes:
        """What to send instead of the guest's ``data``. Raises: KernelError (refused)."""
        ...

    def incoming(self, data: bytes) -> None:
        """Bytes the peer sent (observed, never changed)."""
        ...

    def closed(self) -> None:
        """The connection is closed."""
        ...


class OutboundEnd:
    """A guest socket's connection to the host network (plaintext or TLS)."""

    def __init__(
        self, sock: socket.socket, local: str, peer: str, request_filter: StreamFilter | None = None
    ) -> None:
        self._sock: socket.socket = sock
        self.local = local
        self.peer = peer
        self.tls = False
        self._filter = request_filter
        self._pending = bytearray()
        self._refused = False

    def start_tls(self, context: ssl.SSLContext, server_name: str | None, interrupted: Interrupted) -> None:
        """Upgrade to TLS (handshake included). Raises: EACCES (certificate), EPROTO, EISCONN, EINTR."""
        if self.tls:
            raise KernelError("EISCONN", "already TLS")
        wrapped = context.wrap_socket(
            self._sock, server_hostname=server_name or None, do_handshake_on_connect=False
        )
        deadline = time.monotonic() + TLS_HANDSHAKE_TIMEOUT_S
        while True:
            try:
                wrapped.do_handshake()
                break
            except ssl.SSLWantReadError:
                _wait_io(wrapped, False, deadline, interrupted, "ETIMEDOUT")
            except ssl.SSLWantWriteError:
                _wait_io(wrapped, True, deadline, interrupted, "ETIMEDOUT")
            except ssl.SSLCertVerificationError as exc:
                raise KernelError.eacces(message=f"TLS certificate rejected: {exc.verify_message}") from None
            except (ssl.SSLError, OSError) as exc:
                raise KernelError("EPROTO", f"TLS handshake failed: {exc}") from None
        self._sock = wrapped
        self.tls = True

    def recv(self, n: int, *, nonblocking: bool, deadline: float | None = None, interrupted: Interrupted = never_interrupted) -> bytes:
        """Raises: ECONNRESET, EAGAIN, EINTR."""
        if self._refused:
            return b""
        self._flush(nonblocking=nonblocking, interrupted=interrupted)
        data = self._recv(n, nonblocking=nonblocking, deadline=deadline, interrupted=interrupted)
        if self._filter is not None and data:
            self._filter.incoming(data)
        return data

    def _recv(self, n: int, *, nonblocking: bool, deadline: float | None, interrupted: Interrupted) -> bytes:
        while True:
            try:
                return self._sock.recv(n)
            except (BlockingIOError, ssl.SSLWantReadError):
                if nonblocking:
                    raise KernelError.eagain() from None
                _wait_io(self._sock, False, deadline, interrupted, "EAGAIN")
            except ssl.SSLWantWriteError:
                _wait_io(self._sock, True, deadline, interrupted, "EAGAIN")
            except ssl.SSLZeroReturnError:
                return b""
            except (ssl.SSLError, OSError) as exc:
                raise _oserror(exc) from None

    def send(self, data: bytes | memoryview, *, nonblocking: bool, interrupted: Interrupted = never_interrupted) -> int:
        """Raises: EPIPE, ECONNRESET, EAGAIN, EINTR, and what the request filter
        raises (EACCES: a request it refuses)."""
        if self._filter is None:
            return self._send_raw(data, nonblocking=nonblocking, interrupted=interrupted)
        if self._refused:
            raise KernelError.epipe()
        if not self._flush(nonblocking=nonblocking, interrupted=interrupted):
            raise KernelError.eagain()
        try:
            self._pending += self._filter.outgoing(bytes(data))
        except KernelError:
            self._refused = True
            self._pending.clear()
            self.shutdown(read=True, write=True)
            raise
        self._flush(nonblocking=nonblocking, interrupted=interrupted)
        return len(data)

    def _flush(self, *, nonblocking: bool, interrupted: Interrupted) -> bool:
        """Send what the filter produced; True when nothing is left pending."""
        while self._pending:
            try:
                sent = self._send_raw(bytes(self._pending), nonblocking=nonblocking, interrupted=interrupted)
            except KernelError as exc:
                if exc.errno == "EAGAIN":
                    return False
                raise
            del self._pending[:sent]
        return True

    def _try_flush(self) -> bool:
        """A non-blocking flush for poll; False when it failed (the next send or
        recv reports the error)."""
        try:
            self._flush(nonblocking=True, interrupted=never_interrupted)
        except KernelError:
            return False
        return True

    def _send_raw(self, data: bytes | memoryview, *, nonblocking: bool, interrupted: Interrupted) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            try:
                done += self._sock.send(view[done:])
                if nonblocking:
                    break
            except (BlockingIOError, ssl.SSLWantWriteError):
                if nonblocking:
                    if done:
                        break
                    raise KernelError.eagain() from None
                _wait_io(self._sock, True, None, interrupted, "EAGAIN")
            except ssl.SSLWantReadError:
                _wait_io(self._sock, False, None, interrupted, "EAGAIN")
            except (ssl.SSLError, OSError) as exc:
                if done:
                    break
                raise _oserror(exc) from None
        return done

    def shutdown(self, read: bool, write: bool) -> None:
        how = socket.SHUT_RDWR if read and write else socket.SHUT_RD if read else socket.SHUT_WR
        try:
            self._sock.shutdown(how)
        except OSError:
            pass  # already disconnected

    def close(self) -> None:
        self._sock.close()
        if self._filter is not None:
            self._filter.closed()

    def readable(self) -> bool:
        if self._sock.fileno() < 0 or self._refused:
            return True
        if self._pending and not self._try_flush():
            return True
        if self.tls and self._sock.pending():  # type: ignore[attr-defined]
            return True
        return bool(select.select([self._sock], [], [], 0)[0])

    def writable(self) -> bool:
        if self._sock.fileno() < 0 or self._refused:
            return True
        if self._pending and not self._try_flush():
            return not self._pending
        return bool(select.select([], [self._sock], [], 0)[1])

    def watch(self, callback: Callable[[], None]) -> None:
        """No wake-ups from host sockets (see the module comment)."""

    def unwatch(self, callback: Callable[[], None]) -> None:
        """No wake-ups from host sockets."""


def _oserror(exc: BaseException) -> KernelError:
    if isinstance(exc, OSError) and exc.errno is not None:
        return KernelError.from_oserror(exc)
    return KernelError("ECONNRESET", str(exc))
