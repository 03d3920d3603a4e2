"""``host_net``: the agentOS socket ABI over the VM's SocketTable (net/).

Signatures follow agentOS's wasi-ext crate and libc patch (all i32, WASI errno
results, results through out-pointers):

    net_socket(domain, type, protocol, *ret_fd)
    net_connect(fd, addr_ptr, addr_len)              addr: "host:port" / "[v6]:port" / "v6:port"
    net_bind(fd, addr_ptr, addr_len)
    net_listen(fd, backlog)
    net_accept(fd, *ret_fd, ret_addr, *ret_addr_len)
    net_send(fd, buf, len, flags, *ret_sent)         also the libc's write() probe
    net_recv(fd, buf, len, flags, *ret_received)     also the libc's read() probe
    net_sendto(fd, buf, len, flags, addr_ptr, addr_len, *ret_sent)
    net_recvfrom(fd, buf, len, flags, *ret_received, ret_addr, *ret_addr_len)
    net_close(fd)
    net_getaddrinfo(host, host_len, port, port_len, [family,] ret_buf, *ret_len)
                                                     6 args (libc patch) or 7 (wasi-ext)
    net_tls_connect(fd, sni_ptr, sni_len, [insecure]) 3 args (Codex CLI) or 4 (curl)
    net_setsockopt(fd, level, optname, optval_ptr, optval_len)
    net_getsockopt(fd, level, optname, optval_ptr, *optlen)
    net_getsockname(fd, ret_addr, *ret_addr_len) / net_getpeername(...)
    net_poll(fds_ptr, nfds, timeout_ms, *ret_ready)  pollfd = {i32 fd, i16 events, i16 revents}
    net_set_nonblock(fd, nonblock)

``*ret_len`` arguments are in/out: the buffer's capacity in, the bytes written out.
Addresses come back as "ip:port" with bare IPv6, as the libc parses them; getaddrinfo
answers the JSON the libc parses: ``[{"addr":"198.18.0.1","family":4}, ...]``.

Fast path: the agentOS libc calls net_send/net_recv before EVERY write()/read() and
falls back to fd_write/fd_read only on exactly EBADF, so for any fd that is not a
socket those two answer EBADF after one dict lookup, allocating nothing.

Constants: guests are built against wasi-libc headers, whose socket constants
differ from Linux's (AF_INET 1 vs 2, SOCK_STREAM 6 vs 1, SOL_SOCKET 0x7fffffff vs 1,
SO_RCVTIMEO 66 vs 20); both sets are accepted. Poll bits are wasi-libc's (POLLIN 1,
POLLOUT 2, POLLERR 0x1000, POLLHUP 0x2000, POLLNVAL 0x4000), plus Linux's POLLOUT 4.
"""

from __future__ import annotations

import json
import struct
import threading
import time

from ...kernel.blocking import before_blocking
from ...kernel.descriptions import Description
from ...kernel.errors import KernelError
from ...net.addresses import MAX_ADDRESS_BYTES, parse_address
from ...net.outbound import HOST_POLL_SLICE
from ...net.sockets import Socket
from ..abi import WASI_ERRNO, host_function
from ..context import GuestContext

__all__ = ["MAX_IO_BYTES", "MAX_POLL_FDS", "socket_of"]

M = "host_net"

_EBADF = WASI_ERRNO["EBADF"]
MAX_IO_BYTES = 1 << 20  # per send/recv call: short transfers are legal and bound the copy
MAX_POLL_FDS = 1024  # Linux's default RLIMIT_NOFILE; more entries get EINVAL
MAX_GETADDRINFO_BYTES = 64 * 1024
_POLL_SLICE = 0.05

_STREAM_TYPES = {1, 6}  # SOCK_STREAM: Linux, wasi-libc
_DGRAM_TYPES = {2, 5}  # SOCK_DGRAM
_TYPE_FLAGS = 0o4000 | 0o2000000 | 0x4000 | 0x2000  # SOCK_NONBLOCK / SOCK_CLOEXEC, both sets
_NONBLOCK_FLAGS = 0o4000 | 0x4000
_CLOEXEC_FLAGS = 0o2000000 | 0x2000
_INET_DOMAINS = {1, 2, 10}  # AF_INET (wasi 1, Linux 2), AF_INET6 (wasi 2, Linux 10)
_SOL_SOCKET = {1, 0x7FFFFFFF}
_SO_RCVTIMEO = {20, 66}
_SO_ERROR = 4
_SO_TYPE = 3
_IGNORED_OPTIONS = {2, 5, 6, 7, 8, 9, 13, 15, 21, 67}  # REUSEADDR, DONTROUTE, BROADCAST, SNDBUF, RCVBUF, KEEPALIVE, LINGER, REUSEPORT, SNDTIMEO
_IPPROTO_TCP = 6
_MSG_DONTWAIT = 0x40

POLLIN = 0x1
POLLOUT = 0x2
POLLOUT_LINUX = 0x4
POLLERR = 0x1000
POLLHUP = 0x2000
POLLNVAL = 0x4000
_POLLFD = struct.Struct("<ihh")


def socket_of(ctx: GuestContext, fd: int) -> Socket:
    """The socket of guest fd ``fd``. Raises: EBADF, ENOTSOCK."""
    desc = ctx.proc.fds.lookup(fd & 0xFFFFFFFF)
    if desc is None:
        raise KernelError.ebadf(fd)
    if not isinstance(desc, Socket):
        raise KernelError("ENOTSOCK", "not a socket")
    return desc


def _address_arg(ctx: GuestContext, ptr: int, length: int) -> str:
    length &= 0xFFFFFFFF
    if length > MAX_ADDRESS_BYTES:
        raise KernelError.einval(message="address string too long")
    return ctx.string(ptr, length)


def _put_string(ctx: GuestContext, ptr: int, len_ptr: int, text: str, *, truncate: bool = False) -> None:
    """Write ``text`` to a (buffer, in/out length) pair.

    Raises: EINVAL (does not fit), unless ``truncate``: after an accept or a receive
    has happened, failing would lose the connection or datagram, so the address is
    cut to the buffer as POSIX accept()/recvfrom() do.
    """
    data = text.encode()
    capacity = ctx.u32(len_ptr)
    if len(data) > capacity:
        if not truncate:
            raise KernelError.einval(message="result buffer too small")
        data = data[:capacity]
    ctx.write(ptr, data)
    ctx.set_u32(len_ptr, len(data))


def _install(ctx: GuestContext, sock: Socket, cloexec: bool = False) -> int:
    try:
        return ctx.proc.fds.install(sock, cloexec=cloexec)
    except KernelError:
        sock.discard()
        raise


def _blocking_error(ctx: GuestContext, exc: KernelError) -> KernelError:
    if exc.errno == "EINTR":
        ctx.check_signals()
    return exc


# -- sockets -----------------------------------------------------------------------------------
@host_function(M, "net_socket", "iiii")
def net_socket(ctx: GuestContext, domain: int, type_: int, protocol: int, ret_fd: int) -> None:
    ctx.check(ret_fd, 4)
    if domain not in _INET_DOMAINS:
        raise KernelError("EAFNOSUPPORT", "only AF_INET and AF_INET6 sockets")
    kind = type_ & ~_TYPE_FLAGS
    if kind not in _STREAM_TYPES | _DGRAM_TYPES:
        raise KernelError("EPROTONOSUPPORT", "only stream and datagram sockets")
    sock = ctx.kernel.sockets.new_socket(stream=kind in _STREAM_TYPES, ipv6=domain == 10)
    sock.nonblocking = bool(type_ & _NONBLOCK_FLAGS)
    ctx.set_u32(ret_fd, _install(ctx, sock, cloexec=bool(type_ & _CLOEXEC_FLAGS)))


@host_function(M, "net_connect", "iii")
def net_connect(ctx: GuestContext, fd: int, addr_ptr: int, addr_len: int) -> None:
    sock = socket_of(ctx, fd)
    address = _address_arg(ctx, addr_ptr, addr_len)
    try:
        ctx.kernel.sockets.connect(sock, address, ctx.interrupted)
    except KernelError as exc:
        raise _blocking_error(ctx, exc) from None


@host_function(M, "net_bind", "iii")
def net_bind(ctx: GuestContext, fd: int, addr_ptr: int, addr_len: int) -> None:
    sock = socket_of(ctx, fd)
    ctx.kernel.sockets.bind(sock, _address_arg(ctx, addr_ptr, addr_len))


@host_function(M, "net_listen", "ii")
def net_listen(ctx: GuestContext, fd: int, backlog: int) -> None:
    ctx.kernel.sockets.listen(socket_of(ctx, fd), backlog & 0x7FFFFFFF)


@host_function(M, "net_accept", "iiii")
def net_accept(ctx: GuestContext, fd: int, ret_fd: int, ret_addr: int, ret_addr_len: int) -> None:
    sock = socket_of(ctx, fd)
    ctx.check(ret_fd, 4)
    ctx.check(ret_addr_len, 4)
    ctx.check(ret_addr, ctx.u32(ret_addr_len))
    try:
        accepted = ctx.kernel.sockets.accept(sock, ctx.interrupted)
    except KernelError as exc:
        raise _blocking_error(ctx, exc) from None
    new_fd = _install(ctx, accepted)
    assert accepted.end is not None
    ctx.set_u32(ret_fd, new_fd)
    _put_string(ctx, ret_addr, ret_addr_len, accepted.end.peer, truncate=True)


@host_function(M, "net_close", "i")
def net_close(ctx: GuestContext, fd: int) -> None:
    socket_of(ctx, fd)
    ctx.proc.fds.close(fd & 0xFFFFFFFF)


@host_function(M, "net_set_nonblock", "ii")
def net_set_nonblock(ctx: GuestContext, fd: int, nonblock: int) -> None:
    socket_of(ctx, fd).nonblocking = bool(nonblock)


# -- data ----------------------------------------------------------------------------------------
@host_function(M, "net_send", "iiiii")
def net_send(ctx: GuestContext, fd: int, buf_ptr: int, buf_len: int, flags: int, ret_sent: int) -> int:
    desc = ctx.proc.fds.lookup(fd)
    if desc.__class__ is not Socket:
        return _EBADF  # not a socket: the libc falls back to fd_write
    assert isinstance(desc, Socket)
    ctx.check(ret_sent, 4)
    data = ctx.read(buf_ptr, min(buf_len & 0xFFFFFFFF, MAX_IO_BYTES))
    try:
        sent = desc.send(data, dontwait=bool(flags & _MSG_DONTWAIT), interrupted=ctx.interrupted)
    except KernelError as exc:
        raise _blocking_error(ctx, exc) from None
    ctx.set_u32(ret_sent, sent)
    return 0


@host_function(M, "net_recv", "iiiii")
def net_recv(ctx: GuestContext, fd: int, buf_ptr: int, buf_len: int, flags: int, ret_received: int) -> int:
    desc = ctx.proc.fds.lookup(fd)
    if desc.__class__ is not Socket:
        return _EBADF  # not a socket: the libc falls back to fd_read
    assert isinstance(desc, Socket)
    n = min(buf_len & 0xFFFFFFFF, MAX_IO_BYTES)
    ctx.check(ret_received, 4)
    ctx.check(buf_ptr, n)  # before receiving: a bad buffer must not consume data
    try:
        data = desc.recv(n, dontwait=bool(flags & _MSG_DONTWAIT), interrupted=ctx.interrupted)
    except KernelError as exc:
        raise _blocking_error(ctx, exc) from None
    ctx.write(buf_ptr, data)
    ctx.set_u32(ret_received, len(data))
    return 0


@host_function(M, "net_sendto", "iiiiiii")
def net_sendto(
    ctx: GuestContext, fd: int, buf_ptr: int, buf_len: int, flags: int, addr_ptr: int, addr_len: int, ret_sent: int
) -> None:
    sock = socket_of(ctx, fd)
    ctx.check(ret_sent, 4)
    address = _address_arg(ctx, addr_ptr, addr_len)
    buf_len &= 0xFFFFFFFF
    if buf_len > MAX_IO_BYTES:
        raise KernelError("EMSGSIZE", "message too long")
    ctx.set_u32(ret_sent, sock.send_to(ctx.read(buf_ptr, buf_len), address))


@host_function(M, "net_recvfrom", "iiiiiii")
def net_recvfrom(
    ctx: GuestContext, fd: int, buf_ptr: int, buf_len: int, flags: int, ret_received: int, ret_addr: int,
    ret_addr_len: int,
) -> None:
    sock = socket_of(ctx, fd)
    n = min(buf_len & 0xFFFFFFFF, MAX_IO_BYTES)
    ctx.check(buf_ptr, n)
    ctx.check(ret_received, 4)
    ctx.check(ret_addr_len, 4)
    ctx.check(ret_addr, ctx.u32(ret_addr_len))
    try:
        data, sender = sock.recv_from(n, dontwait=bool(flags & _MSG_DONTWAIT), interrupted=ctx.interrupted)
    except KernelError as exc:
        raise _blocking_error(ctx, exc) from None
    ctx.write(buf_ptr, data)
    ctx.set_u32(ret_received, len(data))
    _put_string(ctx, ret_addr, ret_addr_len, sender, truncate=True)


# -- names and TLS ----------------------------------------------------------------------------------
def _getaddrinfo(ctx: GuestContext, host_ptr: int, host_len: int, port_ptr: int, port_len: int, family: int,
                 ret_buf: int, ret_len: int) -> None:
    host = _address_arg(ctx, host_ptr, host_len)
    port_text = _address_arg(ctx, port_ptr, port_len)
    capacity = ctx.u32(ret_len)
    ctx.check(ret_buf, capacity)
    if port_text and not port_text.isdigit():
        raise KernelError.einval(message="service names are not supported")
    port = int(port_text) if port_text else None
    if port is not None and port > 65535:
        raise KernelError.einval(message="port outside 0-65535")
    wanted = {0: 0, 4: 4, 6: 6, 1: 4, 2: 6, 10: 6}.get(family)  # 4/6, or an AF_* number
    if wanted is None:
        raise KernelError("EAFNOSUPPORT", "unknown address family")
    found = ctx.kernel.sockets.getaddrinfo(host, port, wanted)
    # whole entries only, as many as the guest's buffer holds
    while True:
        data = json.dumps([{"addr": a, "family": f} for a, f in found], separators=(",", ":")).encode()
        if len(data) <= min(capacity, MAX_GETADDRINFO_BYTES) or len(found) <= 1:
            break
        found = found[:-1]
    if len(data) > capacity:
        raise KernelError.einval(message="result buffer too small")
    ctx.write(ret_buf, data)
    ctx.set_u32(ret_len, len(data))


@host_function(M, "net_getaddrinfo", "iiiiii")
def net_getaddrinfo(ctx: GuestContext, host_ptr: int, host_len: int, port_ptr: int, port_len: int, ret_buf: int,
                    ret_len: int) -> None:
    _getaddrinfo(ctx, host_ptr, host_len, port_ptr, port_len, 0, ret_buf, ret_len)


@host_function(M, "net_getaddrinfo", "iiiiiii")
def net_getaddrinfo_family(ctx: GuestContext, host_ptr: int, host_len: int, port_ptr: int, port_len: int,
                           family: int, ret_buf: int, ret_len: int) -> None:
    _getaddrinfo(ctx, host_ptr, host_len, port_ptr, port_len, family, ret_buf, ret_len)


def _tls_connect(ctx: GuestContext, fd: int, sni_ptr: int, sni_len: int, insecure: bool) -> None:
    sock = socket_of(ctx, fd)
    name = _address_arg(ctx, sni_ptr, sni_len)
    if name:
        parse_address(f"{name}:1")  # a host name or IP literal (EINVAL otherwise)
    try:
        ctx.kernel.sockets.start_tls(sock, name, verify=not insecure, interrupted=ctx.interrupted)
    except KernelError as exc:
        raise _blocking_error(ctx, exc) from None


@host_function(M, "net_tls_connect", "iii")
def net_tls_connect(ctx: GuestContext, fd: int, sni_ptr: int, sni_len: int) -> None:
    _tls_connect(ctx, fd, sni_ptr, sni_len, insecure=False)


@host_function(M, "net_tls_connect", "iiii")
def net_tls_connect_insecure(ctx: GuestContext, fd: int, sni_ptr: int, sni_len: int, insecure: int) -> None:
    _tls_connect(ctx, fd, sni_ptr, sni_len, insecure=bool(insecure))


# -- options and addresses ------------------------------------------------------------------------
@host_function(M, "net_setsockopt", "iiiii")
def net_setsockopt(ctx: GuestContext, fd: int, level: int, optname: int, optval_ptr: int, optval_len: int) -> None:
    sock = socket_of(ctx, fd)
    optval_len &= 0xFFFFFFFF
    if level in _SOL_SOCKET and optname in _SO_RCVTIMEO:
        if optval_len < 12:
            raise KernelError.einval(message="SO_RCVTIMEO takes a struct timeval")
        raw = ctx.read(optval_ptr, 12)
        seconds, micros = struct.unpack("<qi", raw)  # i64 tv_sec, then tv_usec's low 32 bits
        if seconds < 0 or not 0 <= micros < 1_000_000:
            raise KernelError("EDOM", "timeout out of range")
        timeout = seconds + micros / 1e6
        sock.recv_timeout = timeout or None  # zero means "block"
        return
    if (level in _SOL_SOCKET and optname in _IGNORED_OPTIONS) or level == _IPPROTO_TCP:
        ctx.check(optval_ptr, optval_len)
        return  # meaningful for a real network stack only
    raise KernelError("ENOPROTOOPT", "unsupported socket option")


@host_function(M, "net_getsockopt", "iiiii")
def net_getsockopt(ctx: GuestContext, fd: int, level: int, optname: int, optval_ptr: int, optlen_ptr: int) -> None:
    sock = socket_of(ctx, fd)
    capacity = ctx.u32(optlen_ptr)
    if level in _SOL_SOCKET and optname in _SO_RCVTIMEO:
        timeout = sock.recv_timeout or 0.0
        value = struct.pack("<qq", int(timeout), round((timeout % 1) * 1e6))
    elif level in _SOL_SOCKET and optname == _SO_ERROR:
        value = struct.pack("<i", 0)
    elif level in _SOL_SOCKET and optname == _SO_TYPE:
        value = struct.pack("<i", 6 if sock.stream else 5)
    else:
        raise KernelError("ENOPROTOOPT", "unsupported socket option")
    value = value[:capacity]
    ctx.write(optval_ptr, value)
    ctx.set_u32(optlen_ptr, len(value))


@host_function(M, "net_getsockname", "iii")
def net_getsockname(ctx: GuestContext, fd: int, ret_addr: int, ret_addr_len: int) -> None:
    sock = socket_of(ctx, fd)
    _put_string(ctx, ret_addr, ret_addr_len, sock.local or ("::" if sock.ipv6 else "0.0.0.0") + ":0")


@host_function(M, "net_getpeername", "iii")
def net_getpeername(ctx: GuestContext, fd: int, ret_addr: int, ret_addr_len: int) -> None:
    sock = socket_of(ctx, fd)
    peer = sock.end.peer if sock.end is not None else sock.default_peer
    if peer is None:
        raise KernelError("ENOTCONN", "socket is not connected")
    _put_string(ctx, ret_addr, ret_addr_len, peer)


# -- poll --------------------------------------------------------------------------------------------
def _revents(desc: Description | None, events: int) -> int:
    if desc is None:
        return POLLNVAL
    revents = 0
    if events & POLLIN and desc.ready(False):
        revents |= POLLIN
    if events & (POLLOUT | POLLOUT_LINUX) and desc.ready(True):
        revents |= events & (POLLOUT | POLLOUT_LINUX)
    pipe = getattr(desc, "pipe", None)
    if pipe is not None and pipe.hung_up(for_write=desc.writable):
        revents |= POLLHUP
    return revents


@host_function(M, "net_poll", "iiii")
def net_poll(ctx: GuestContext, fds_ptr: int, nfds: int, timeout_ms: int, ret_ready: int) -> None:
    """poll(2) over every kind of fd (the libc routes all poll() calls here)."""
    nfds &= 0xFFFFFFFF
    if nfds > MAX_POLL_FDS:
        raise KernelError.einval(message=f"more than {MAX_POLL_FDS} poll entries")
    ctx.check(ret_ready, 4)
    raw = bytearray(ctx.read(fds_ptr, _POLLFD.size * nfds))
    entries: list[tuple[int, int, Description | None]] = []
    for i in range(nfds):
        fd, events, _ = _POLLFD.unpack_from(raw, i * _POLLFD.size)
        entries.append((fd, events & 0xFFFF, None if fd < 0 else ctx.proc.fds.lookup(fd)))
    deadline = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000
    watched = {id(d): d for fd, _, d in entries if d is not None}
    slice_s = HOST_POLL_SLICE if any(d.needs_polling for d in watched.values()) else _POLL_SLICE
    wake = threading.Event()
    for desc in watched.values():
        desc.watch(wake.set)
    try:
        while True:
            wake.clear()
            ready = 0
            for i, (fd, events, desc) in enumerate(entries):
                revents = 0 if fd < 0 else _revents(desc, events)
                struct.pack_into("<h", raw, i * _POLLFD.size + 6, revents - 0x10000 if revents & 0x8000 else revents)
                ready += revents != 0
            if ready or (deadline is not None and time.monotonic() >= deadline):
                ctx.write(fds_ptr, raw)
                ctx.set_u32(ret_ready, ready)
                return
            ctx.check_signals()
            wait = slice_s if deadline is None else min(slice_s, max(0.0, deadline - time.monotonic()))
            before_blocking()
            wake.wait(wait)
    finally:
        for desc in watched.values():
            desc.unwatch(wake.set)
