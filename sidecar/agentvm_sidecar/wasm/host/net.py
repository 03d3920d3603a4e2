"""``host_net``: only ``net_send``/``net_recv`` are imported (host_abi.md §7, fact #3).

The guests' patched libc ``read()``/``write()`` call these FIRST on every fd and
fall back to WASI ``fd_read``/``fd_write`` only when the answer is exactly EBADF
(8); any other value would be taken as the result. These packages import no
``net_socket``/``net_connect``, so no guest fd can ever be a socket: the complete
implementation is "not a socket" (EBADF) without touching guest memory.
"""

from __future__ import annotations

from ..abi import WASI_ERRNO, host_function
from ..context import GuestContext

__all__: list[str] = []

M = "host_net"

_NOT_A_SOCKET = WASI_ERRNO["EBADF"]


@host_function(M, "net_send", "iiiii")
def net_send(ctx: GuestContext, fd: int, buf_ptr: int, buf_len: int, flags: int, ret_sent: int) -> int:
    return _NOT_A_SOCKET


@host_function(M, "net_recv", "iiiii")
def net_recv(ctx: GuestContext, fd: int, buf_ptr: int, buf_len: int, flags: int, ret_received: int) -> int:
    return _NOT_A_SOCKET
