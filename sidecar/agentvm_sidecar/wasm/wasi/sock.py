"""sock_*: preview1's socket calls. The agentOS guests do not import them (their
sockets go through host_net), so they only answer for completeness: a fd that is
not a socket gets ENOTSOCK, a bad fd EBADF, sockets ENOTSUP until host_net's
socket descriptions implement them."""

from __future__ import annotations

from ...kernel.errors import KernelError
from ...kernel.fstypes import FileKind
from ..abi import host_function
from ..context import GuestContext
from .common import description

MODULE = "wasi_snapshot_preview1"


def _socket(ctx: GuestContext, fd: int) -> None:
    if description(ctx, fd).kind is not FileKind.SOCKET:
        raise KernelError("ENOTSOCK", "not a socket")
    raise KernelError.enotsup(message="preview1 sockets are not supported")


@host_function(MODULE, "sock_accept", "iii")
def sock_accept(ctx: GuestContext, fd: int, flags: int, ret_fd: int) -> None:
    _socket(ctx, fd)


@host_function(MODULE, "sock_recv", "iiiiii")
def sock_recv(ctx: GuestContext, fd: int, iovs: int, iovs_len: int, flags: int, ret_n: int, ret_flags: int) -> None:
    _socket(ctx, fd)


@host_function(MODULE, "sock_send", "iiiii")
def sock_send(ctx: GuestContext, fd: int, iovs: int, iovs_len: int, flags: int, ret_n: int) -> None:
    _socket(ctx, fd)


@host_function(MODULE, "sock_shutdown", "ii")
def sock_shutdown(ctx: GuestContext, fd: int, how: int) -> None:
    _socket(ctx, fd)
