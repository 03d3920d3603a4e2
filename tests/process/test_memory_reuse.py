"""A freed linear memory is kept for the next process (wasm/memory_budget.py,
"spare memories"): whatever runs next, in any VM, must see only zeros."""

from __future__ import annotations

import wasmtime

from agentvm_sidecar.wasm.memory_budget import KEEP_RESIDENT_BYTES

# Past KEEP_RESIDENT_BYTES, so both ways of zeroing (memset, MADV_DONTNEED) are used.
_PAGES = 2 * KEEP_RESIDENT_BYTES // 65536

_PROLOGUE = f"""(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (local $i i32) (local $end i32)
    (drop (memory.grow (i32.const {_PAGES - 1})))
    (local.set $end (i32.mul (memory.size) (i32.const 65536)))"""

# Fills every byte it has with 0xa5.
DIRTY = wasmtime.wat2wasm(_PROLOGUE + """
    (memory.fill (i32.const 0) (i32.const 0xa5) (local.get $end))
    (call $exit (i32.const 0))))""")

# Exits 1 at the first byte that is not zero, 0 when there is none.
SCAN = wasmtime.wat2wasm(_PROLOGUE + """
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (if (i64.ne (i64.load (local.get $i)) (i64.const 0)) (then (call $exit (i32.const 1))))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br $next)))
    (call $exit (i32.const 0))))""")


async def _after_dirty_memory(client, dirty_vm: str, vm: str, program: bytes) -> list:
    """Three times: DIRTY in ``dirty_vm``, then ``program`` in ``vm`` (which gets
    the memory DIRTY left, as a spare); the results of ``program``."""
    await client.fs.write_file(dirty_vm, "/tmp/dirty", DIRTY, mode=0o755)
    await client.fs.write_file(vm, "/tmp/next", program, mode=0o755)
    results = []
    for _ in range(3):
        dirty = await client.process.exec(dirty_vm, argv=["/tmp/dirty"], timeout_ms=60_000)
        assert dirty.exit_code == 0, dirty.stderr
        results.append(await client.process.exec(vm, argv=["/tmp/next"], timeout_ms=60_000))
    return results


async def test_a_process_never_sees_what_an_earlier_process_of_another_vm_left_in_memory(client):
    dirty_vm, scan_vm = (await client.vm.create()).vm_id, (await client.vm.create()).vm_id
    for scan in await _after_dirty_memory(client, dirty_vm, scan_vm, SCAN):
        assert scan.exit_code == 0, scan.stderr
    assert (await client.vm.info(dirty_vm)).info.usage.memory_bytes == 0  # charged only while used


# One page, then a load 2 MiB in: past its size, so it must trap.
OUT_OF_BOUNDS = wasmtime.wat2wasm("""(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (i64.load (i32.const 0x200000)))
    (call $exit (i32.const 0))))""")


async def test_a_reused_memory_is_accessible_only_up_to_the_new_process_size(client):
    # A spare keeps its read-write prefix (memory_budget._accessible): after a
    # process that grew to 2 x KEEP_RESIDENT_BYTES, a one-page process reusing
    # that memory must still trap past its first page, as in a fresh mapping.
    vm = (await client.vm.create()).vm_id
    for oob in await _after_dirty_memory(client, vm, vm, OUT_OF_BOUNDS):
        assert oob.exit_code != 0 and b"out of bounds" in oob.stderr, (oob.exit_code, oob.stderr)
