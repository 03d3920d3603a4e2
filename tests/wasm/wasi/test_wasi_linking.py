"""Every preview1 import links with its exact witx signature, and calls from real wasm
code go through the linker wrapper (errno results, proc_exit unwinding)."""

from __future__ import annotations

import pytest
import wasmtime

from agentvm_sidecar.kernel.process import ExitStatus
from agentvm_sidecar.wasm.abi import HOST_FUNCTIONS, define_host_functions
from agentvm_sidecar.wasm.context import GuestContext, GuestExit, set_current_context

from .conftest import Guest

# name -> (params, results) from WASI's legacy/preview1/witx/wasi_snapshot_preview1.witx
PREVIEW1 = {
    "args_get": ("i32 i32", "i32"), "args_sizes_get": ("i32 i32", "i32"),
    "environ_get": ("i32 i32", "i32"), "environ_sizes_get": ("i32 i32", "i32"),
    "clock_res_get": ("i32 i32", "i32"), "clock_time_get": ("i32 i64 i32", "i32"),
    "fd_advise": ("i32 i64 i64 i32", "i32"), "fd_allocate": ("i32 i64 i64", "i32"),
    "fd_close": ("i32", "i32"), "fd_datasync": ("i32", "i32"),
    "fd_fdstat_get": ("i32 i32", "i32"), "fd_fdstat_set_flags": ("i32 i32", "i32"),
    "fd_fdstat_set_rights": ("i32 i64 i64", "i32"), "fd_filestat_get": ("i32 i32", "i32"),
    "fd_filestat_set_size": ("i32 i64", "i32"), "fd_filestat_set_times": ("i32 i64 i64 i32", "i32"),
    "fd_pread": ("i32 i32 i32 i64 i32", "i32"), "fd_prestat_get": ("i32 i32", "i32"),
    "fd_prestat_dir_name": ("i32 i32 i32", "i32"), "fd_pwrite": ("i32 i32 i32 i64 i32", "i32"),
    "fd_read": ("i32 i32 i32 i32", "i32"), "fd_readdir": ("i32 i32 i32 i64 i32", "i32"),
    "fd_renumber": ("i32 i32", "i32"), "fd_seek": ("i32 i64 i32 i32", "i32"),
    "fd_sync": ("i32", "i32"), "fd_tell": ("i32 i32", "i32"), "fd_write": ("i32 i32 i32 i32", "i32"),
    "path_create_directory": ("i32 i32 i32", "i32"),
    "path_filestat_get": ("i32 i32 i32 i32 i32", "i32"),
    "path_filestat_set_times": ("i32 i32 i32 i32 i64 i64 i32", "i32"),
    "path_link": ("i32 i32 i32 i32 i32 i32 i32", "i32"),
    "path_open": ("i32 i32 i32 i32 i32 i64 i64 i32 i32", "i32"),
    "path_readlink": ("i32 i32 i32 i32 i32 i32", "i32"),
    "path_remove_directory": ("i32 i32 i32", "i32"), "path_rename": ("i32 i32 i32 i32 i32 i32", "i32"),
    "path_symlink": ("i32 i32 i32 i32 i32", "i32"), "path_unlink_file": ("i32 i32 i32", "i32"),
    "poll_oneoff": ("i32 i32 i32 i32", "i32"), "proc_exit": ("i32", ""), "proc_raise": ("i32", "i32"),
    "sched_yield": ("", "i32"), "random_get": ("i32 i32", "i32"),
    "sock_accept": ("i32 i32 i32", "i32"), "sock_recv": ("i32 i32 i32 i32 i32 i32", "i32"),
    "sock_send": ("i32 i32 i32 i32 i32", "i32"), "sock_shutdown": ("i32 i32", "i32"),
}

PROGRAM = """
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hi from wasm\\n")
  (func (export "write") (param $fd i32) (result i32)
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 13))
    (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
  (func (export "exit") (param i32) (call $proc_exit (local.get 0)) unreachable))
"""


def test_all_of_preview1_is_registered_with_exact_types():
    registered = {n for m, n in HOST_FUNCTIONS if m == "wasi_snapshot_preview1"}
    assert registered == set(PREVIEW1)
    engine = wasmtime.Engine()
    linker = wasmtime.Linker(engine)
    define_host_functions(linker)
    imports = "\n".join(
        f'(import "wasi_snapshot_preview1" "{name}" (func (param {p}) {f"(result {r})" if r else ""}))'
        for name, (p, r) in PREVIEW1.items()
    )
    module = wasmtime.Module(engine, wasmtime.wat2wasm(f"(module {imports})"))
    linker.instantiate(wasmtime.Store(engine), module)


@pytest.fixture
def linked(guest: Guest):
    engine = wasmtime.Engine()
    linker = wasmtime.Linker(engine)
    define_host_functions(linker)
    store = wasmtime.Store(engine)
    instance = linker.instantiate(store, wasmtime.Module(engine, wasmtime.wat2wasm(PROGRAM)))
    ctx = GuestContext(guest.kernel, guest.proc, store)
    memory = instance.exports(store)["memory"]
    assert isinstance(memory, wasmtime.Memory)
    ctx.memory = memory
    set_current_context(ctx)
    yield guest, ctx, store, instance.exports(store)
    set_current_context(None)


def test_fd_write_from_wasm(linked):
    guest, ctx, store, exports = linked
    r, w = guest.kernel.make_pipe()
    fd = guest.proc.fds.install(w)
    rfd = guest.proc.fds.install(r)
    assert exports["write"](store, fd) == 0
    assert ctx.u32(8) == 13
    assert guest.proc.fds.get(rfd).read(100) == b"hi from wasm\n"
    assert exports["write"](store, 99) == 8  # EBADF as the i32 result


def test_proc_exit_from_wasm_unwinds(linked):
    _guest, ctx, store, exports = linked
    # wasmtime-py re-raises the host exception that trapped (the runtime relies on
    # ctx.exit_status, not on which exception surfaces).
    with pytest.raises((GuestExit, wasmtime.WasmtimeError)):
        exports["exit"](store, 7)
    assert ctx.exit_status == ExitStatus(7)
