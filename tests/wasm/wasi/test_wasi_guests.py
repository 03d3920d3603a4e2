"""The C guests tests/guests/wasi_*.c run in-process over this WASI (no runtime, no
wire): a Linker with the registered host functions, stdout on a kernel pipe, `_start`
called on this thread. Their expected output is the comment at the top of each .c
file. Skipped when the guests are not built (`make setup` builds .build/guests)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import wasmtime

from agentvm_sidecar.kernel.descriptions import FileDescription
from agentvm_sidecar.kernel.fstypes import OpenFlags
from agentvm_sidecar.wasm.abi import HOST_FUNCTIONS, define_host_functions
from agentvm_sidecar.wasm.context import GuestExit, set_current_context
from agentvm_sidecar.wasm.plain_preopens import install_plain_preopens

from .conftest import Guest

ROOT = Path(__file__).resolve().parents[3]
GUESTS = ROOT / "tests" / "guests"
BUILD = ROOT / ".build" / "guests"


def expected_output(name: str) -> str:
    header = (GUESTS / f"{name}.c").read_text().split("*/", 1)[0]
    block = header.split("Expected stdout (exactly):", 1)[1]
    return "".join(re.sub(r"^\s*\*   ?", "", line) + "\n" for line in block.strip().splitlines())


def run(guest: Guest, name: str) -> tuple[int, str]:
    wasm = BUILD / f"{name}.wasm"
    if not wasm.exists():
        pytest.skip(f"{wasm} not built (make setup)")
    engine = wasmtime.Engine()
    linker = wasmtime.Linker(engine)
    linker.allow_shadowing = True
    define_host_functions(linker)
    if ("host_process", "fd_pipe") not in HOST_FUNCTIONS:  # until host_process.py lands

        def fd_pipe(read_ptr: int, write_ptr: int) -> int:
            r, w = guest.kernel.make_pipe()
            guest.ctx.set_u32(read_ptr, guest.proc.fds.install(r))
            guest.ctx.set_u32(write_ptr, guest.proc.fds.install(w))
            return 0

        i32 = wasmtime.ValType.i32()
        linker.define_func("host_process", "fd_pipe", wasmtime.FuncType([i32, i32], [i32]), fd_pipe)
    store = wasmtime.Store(engine)
    instance = linker.instantiate(store, wasmtime.Module.from_file(engine, str(wasm)))
    memory = instance.exports(store)["memory"]
    assert isinstance(memory, wasmtime.Memory)
    guest.ctx.store = store
    guest.ctx.memory = memory
    fds = guest.proc.fds
    fds.install(FileDescription(guest.kernel.vfs.open("/dev/null", OpenFlags.READ)))
    reader, writer = guest.kernel.make_pipe()
    fds.install(writer)
    fds.dup(1)
    # What the runtime does for plain wasi-libc programs: ordinary directory fds from 3.
    guest.ctx.plain_wasi = True
    install_plain_preopens(guest.ctx)
    set_current_context(guest.ctx)
    try:
        start = instance.exports(store)["_start"]
        assert isinstance(start, wasmtime.Func)
        start(store)
        status = 0
    except (GuestExit, wasmtime.WasmtimeError):
        assert guest.ctx.exit_status is not None, "guest trapped"
        status = guest.ctx.exit_status.exit_code
    finally:
        set_current_context(None)
    fds.close_all()
    out = b""
    while chunk := reader.read(65536):
        out += chunk
    return status, out.decode()


@pytest.mark.parametrize("name", ["wasi_fs", "wasi_poll"])
def test_c_guest(kernel, name):
    guest = Guest(kernel, cwd="/home/user")
    status, out = run(guest, name)
    assert out == expected_output(name)
    assert status == 0
