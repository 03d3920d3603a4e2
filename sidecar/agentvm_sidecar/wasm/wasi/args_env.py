"""args_* and environ_*: the process's argv and environment.

Both use the preview1 shape: ``*_sizes_get(ret_count, ret_buf_size)`` then
``*_get(ptr_array, buf)`` where ``buf`` receives every entry NUL-terminated and
``ptr_array[i]`` points at entry ``i``. Entries are UTF-8 (surrogateescape keeps
bytes that came in undecodable); environment entries are ``KEY=VALUE``. The native
library answers all four from the same entries (GuestContext publishes them with
the memory); these run when it cannot (a bad pointer: EFAULT, an entry with a NUL
of its own).
"""

from __future__ import annotations

import struct

from ..abi import host_function
from ..context import GuestContext

MODULE = "wasi_snapshot_preview1"


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
    _sizes(ctx, ctx.argv_entries, argc_ptr, buf_size_ptr)


@host_function(MODULE, "args_get", "ii")
def args_get(ctx: GuestContext, argv_ptr: int, buf_ptr: int) -> None:
    _get(ctx, ctx.argv_entries, argv_ptr, buf_ptr)


@host_function(MODULE, "environ_sizes_get", "ii")
def environ_sizes_get(ctx: GuestContext, count_ptr: int, buf_size_ptr: int) -> None:
    _sizes(ctx, ctx.environ_entries, count_ptr, buf_size_ptr)


@host_function(MODULE, "environ_get", "ii")
def environ_get(ctx: GuestContext, environ_ptr: int, buf_ptr: int) -> None:
    _get(ctx, ctx.environ_entries, environ_ptr, buf_ptr)
