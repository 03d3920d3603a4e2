"""sock_*: preview1's socket calls, over the same Socket descriptions as host_net.

A fd that is not a socket gets ENOTSOCK, an unknown fd EBADF. Sockets come from
host_net (net_socket, net_accept) or are accepted here; preview1 itself cannot
create or connect one.
"""

from __future__ import annotations

from ...kernel.errors import KernelError
from ..abi import host_function
from ..context import GuestContext
from ..host.net import MAX_IO_BYTES, socket_of
from . import layouts as L

MODULE = "wasi_snapshot_preview1"
_RIFLAGS_RECV_PEEK = 1
_RIFLAGS_RECV_WAITALL = 2
_SDFLAGS_RD = 1
_SDFLAGS_WR = 2


def _interruptible(ctx: GuestContext, exc: KernelError) -> KernelError:
    if exc.errno == "EINTR":
        ctx.check_signals()
    return exc


@host_function(MODULE, "sock_accept", "iii")
def sock_accept(ctx: GuestContext, fd: int, flags: int, ret_fd: int) -> None:
    sock = socket_of(ctx, fd)
    ctx.check(ret_fd, 4)
    try:
        accepted = ctx.kernel.sockets.accept(sock, ctx.interrupted)
    except KernelError as exc:
        raise _interruptible(ctx, exc) from None
    accepted.nonblocking = bool(flags & L.FDFLAGS_NONBLOCK)
    try:
        new_fd = ctx.proc.fds.install(accepted)
    except KernelError:
        accepted.discard()
        raise
    ctx.set_u32(ret_fd, new_fd)


@host_function(MODULE, "sock_recv", "iiiiii")
def sock_recv(ctx: GuestContext, fd: int, iovs: int, iovs_len: int, flags: int, ret_n: int, ret_flags: int) -> None:
    sock = socket_of(ctx, fd)
    ctx.check(ret_n, 4)
    ctx.check(ret_flags, 2)
    vectors = ctx.iovecs(iovs, iovs_len)
    for ptr, length in vectors:
        ctx.check(ptr, length)
    total = min(sum(length for _, length in vectors), MAX_IO_BYTES)
    if flags & _RIFLAGS_RECV_PEEK:
        raise KernelError.enotsup(message="MSG_PEEK is not supported")
    try:
        data = sock.recv(total, interrupted=ctx.interrupted)
    except KernelError as exc:
        raise _interruptible(ctx, exc) from None
    offset = 0
    for ptr, length in vectors:
        if offset >= len(data):
            break
        chunk = data[offset : offset + length]
        ctx.write(ptr, chunk)
        offset += len(chunk)
    ctx.set_u32(ret_n, len(data))
    ctx.write(ret_flags, b"\0\0")


@host_function(MODULE, "sock_send", "iiiii")
def sock_send(ctx: GuestContext, fd: int, iovs: int, iovs_len: int, flags: int, ret_n: int) -> None:
    sock = socket_of(ctx, fd)
    ctx.check(ret_n, 4)
    parts: list[bytes] = []
    size = 0
    for ptr, length in ctx.iovecs(iovs, iovs_len):
        take = min(length, MAX_IO_BYTES - size)
        parts.append(ctx.read(ptr, take))
        size += take
    try:
        sent = sock.send(b"".join(parts), interrupted=ctx.interrupted)
    except KernelError as exc:
        raise _interruptible(ctx, exc) from None
    ctx.set_u32(ret_n, sent)


@host_function(MODULE, "sock_shutdown", "ii")
def sock_shutdown(ctx: GuestContext, fd: int, how: int) -> None:
    sock = socket_of(ctx, fd)
    if how & ~(_SDFLAGS_RD | _SDFLAGS_WR) or not how:
        raise KernelError.einval(message="bad shutdown direction")
    sock.connected_end().shutdown(read=bool(how & _SDFLAGS_RD), write=bool(how & _SDFLAGS_WR))
