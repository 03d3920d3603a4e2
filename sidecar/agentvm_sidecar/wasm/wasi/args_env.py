"""args_* and environ_*: the process's argv and environment.

Both use the preview1 shape: ``*_sizes_get(ret_count, ret_buf_size)`` then
``*_get(ptr_array, buf)`` where ``buf`` receives every entry NUL-terminated and
``ptr_array[i]`` points at entry ``i``. Entries are UTF-8 (surrogateescape keeps
bytes that came in undecodable); environment entries are ``KEY=VALUE``.
"""

from __future__ import annotations

import struct

from ..abi import host_function
from ..context import GuestContext

MODULE = "wasi_snapshot_preview1"


def _encode(entries: list[str]) -> list[bytes]:
    return [e.encode("utf-8", "surrogateescape") + b"\0" for e in entries]


def _argv(ctx: GuestContext) -> list[bytes]:
    return _encode(list(ctx.proc.argv))


def _environ(ctx: GuestContext) -> list[bytes]:
    return _encode([f"{k}={v}" for k, v in ctx.proc.env.items()])


def _sizes(ctx: GuestContext, entries: list[bytes], count_ptr: int, size_ptr: int) -> None:
    ctx.check(count_ptr, 4)
    ctx.check(size_ptr, 4)
    ctx.set_u32(count_ptr, len(entries))
    ctx.set_u32(size_ptr, sum(len(e) for e in entries))


def _get(ctx: GuestContext, entries: list[bytes], array_ptr: int, buf_ptr: int) -> None:
    array_ptr &= 0xFFFFFFFF
    buf_ptr &= 0xFFFFFFFF
    blob = b"".join(entries)
    ctx.check(array_ptr, 4 * len(entries))
    ctx.check(buf_ptr, len(blob))
    pointers = []
    offset = buf_ptr
    for entry in entries:
        pointers.append(offset)
        offset += len(entry)
    ctx.write(buf_ptr, blob)
    ctx.write(array_ptr, struct.pack(f"<{len(pointers)}I", *pointers))


@host_function(MODULE, "args_sizes_get", "ii")
def args_sizes_get(ctx: GuestContext, argc_ptr: int, buf_size_ptr: int) -> None:
    _sizes(ctx, _argv(ctx), argc_ptr, buf_size_ptr)


@host_function(MODULE, "args_get", "ii")
def args_get(ctx: GuestContext, argv_ptr: int, buf_ptr: int) -> None:
    _get(ctx, _argv(ctx), argv_ptr, buf_ptr)


@host_function(MODULE, "environ_sizes_get", "ii")
def environ_sizes_get(ctx: GuestContext, count_ptr: int, buf_size_ptr: int) -> None:
    _sizes(ctx, _environ(ctx), count_ptr, buf_size_ptr)


@host_function(MODULE, "environ_get", "ii")
def environ_get(ctx: GuestContext, environ_ptr: int, buf_ptr: int) -> None:
    _get(ctx, _environ(ctx), environ_ptr, buf_ptr)
