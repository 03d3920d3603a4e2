"""host_fs.path_mode in both published signatures, linked by the one a module declares:
(fd, ptr, len, follow) in agentOS's current ABI, (ptr, len, follow) relative to the
cwd in the rg/fd/tree builds of @rivet-dev/agent-os-*."""

from __future__ import annotations

import wasmtime


def _path_mode_guest(params: str, args: str) -> bytes:
    """Exits 0 when path_mode("f") is the regular file 0o100640, else 1."""
    return wasmtime.wat2wasm(f"""(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "host_fs" "path_mode" (func $mode (param {params}) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "f")
  (func (export "_start")
    (call $exit (i32.ne (call $mode {args}) (i32.const 0x81a0)))))""")


async def test_path_mode_links_by_the_signature_the_module_declares(client, vm_id):
    await client.fs.write_file(vm_id, "/tmp/d/f", b"x", mode=0o640, create_dirs=True)
    current = _path_mode_guest("i32 i32 i32 i32", "(i32.const -1) (i32.const 16) (i32.const 1) (i32.const 1)")
    older = _path_mode_guest("i32 i32 i32", "(i32.const 16) (i32.const 1) (i32.const 1)")
    for wasm in (current, older):
        await client.fs.write_file(vm_id, "/tmp/guest.wasm", wasm, mode=0o755)
        res = await client.process.exec(vm_id, argv=["/tmp/guest.wasm"], cwd="/tmp/d", timeout_ms=60_000)
        assert res.exit_code == 0, res.stderr
