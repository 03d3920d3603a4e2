"""Each limit fires quickly with its exact outcome, and only the offending process ends."""

from __future__ import annotations

import pytest
import trio
import wasmtime

from agentvm import RpcError, VmConfig, VmLimits
from tests.process.conftest import install_guest, running_pids


async def test_cpu_time_limit_ends_a_spinning_guest_with_124(client):
    vm = (await client.vm.create(VmConfig(limits=VmLimits(cpu_time_ms_per_process=300)))).vm_id
    spin = await install_guest(client, vm, "spin")
    with trio.fail_after(30):
        res = await client.process.exec(vm, argv=[spin])
    assert res.exit_code == 124
    assert res.stdout == b"spinning\n"
    assert b"CPU time limit" in res.stderr


async def test_memory_limit_makes_malloc_fail_cleanly(client):
    # zig's wasm32-wasi startup reserves ~16.5 MiB of initial memory (stack and data)
    vm = (await client.vm.create(VmConfig(limits=VmLimits(memory_bytes_per_process=48 * 1024 * 1024)))).vm_id
    alloc = await install_guest(client, vm, "alloc")
    res = await client.process.exec(vm, argv=[alloc], timeout_ms=60_000)
    assert res.exit_code == 3
    got = int(res.stdout.split()[1])
    assert 5 <= got < 48, res.stdout


async def test_a_module_needing_more_memory_than_the_limit_fails_to_start_clearly(client):
    vm = (await client.vm.create(VmConfig(limits=VmLimits(memory_bytes_per_process=4 * 1024 * 1024)))).vm_id
    alloc = await install_guest(client, vm, "alloc")
    res = await client.process.exec(vm, argv=[alloc], timeout_ms=60_000)
    assert res.exit_code == 1
    assert b"exceeds memory limits" in res.stderr


async def test_fd_limit_per_process_is_emfile(client):
    vm = (await client.vm.create(VmConfig(limits=VmLimits(max_fds_per_process=20)))).vm_id
    fds = await install_guest(client, vm, "fds")
    res = await client.process.exec(vm, argv=[fds], cwd="/", timeout_ms=60_000)
    # 20 fds: 0-2 are stdio and 3 is the preopened root of a plain WASI program
    # (its only preopen when the cwd is /: plain_preopens.py)
    assert res.stdout == b"files=16 error=EMFILE\n"


async def test_fd_limit_per_vm_is_enfile(client):
    vm = (await client.vm.create(VmConfig(limits=VmLimits(max_fds_per_process=200, max_fds_per_vm=40)))).vm_id
    fds = await install_guest(client, vm, "fds")
    res = await client.process.exec(vm, argv=[fds], timeout_ms=60_000)
    assert res.stdout.startswith(b"files=") and res.stdout.endswith(b" error=ENFILE\n")


async def test_pipe_limit_is_enfile(client):
    vm = (await client.vm.create(VmConfig(limits=VmLimits(max_pipes=8)))).vm_id
    fds = await install_guest(client, vm, "fds")
    res = await client.process.exec(vm, argv=[fds, "pipes"], timeout_ms=60_000)
    # an exec's stdio are no pipes (kernel/exec_stdio.py): all eight are the guest's
    assert res.stdout == b"pipes=8 error=ENFILE\n"


async def test_a_killed_spinning_guest_leaves_others_running(client, vm_id):
    spin = await install_guest(client, vm_id, "spin")
    pid = (await client.process.spawn(vm_id, argv=[spin])).pid
    res = await client.process.exec(vm_id, "echo still fine")
    assert res.stdout == b"still fine\n"
    await client.process.kill(vm_id, pid, "SIGKILL")
    assert (await client.process.wait(vm_id, pid)).signal == "SIGKILL"


async def test_a_trap_or_a_bad_import_ends_only_that_process(client, vm_id):
    spin = await install_guest(client, vm_id, "spin")
    bystander = (await client.process.spawn(vm_id, argv=[spin])).pid
    trap = await run_wat(client, vm_id, _wat_guest("unreachable"))
    assert trap.exit_code == 1 and b"unreachable" in trap.stderr
    deep = _wat_guest("(call $recurse)", "(func $recurse (call $recurse))")
    overflow = await run_wat(client, vm_id, deep)
    assert overflow.exit_code == 1 and b"stack" in overflow.stderr.lower()
    # an import the sidecar defines, with the wrong signature: cannot link
    bad = _wat_guest("(call $exit (i32.const 0))", '(import "host_process" "proc_getpid" (func (param i64)))')
    assert (await run_wat(client, vm_id, bad)).exit_code == 1
    assert bystander in await running_pids(client, vm_id)
    assert (await client.process.exec(vm_id, "echo alive")).stdout == b"alive\n"
    await client.process.kill(vm_id, bystander, "SIGKILL")


async def test_hello_guest_sees_argv_and_exit_code(client, vm_id):
    hello = await install_guest(client, vm_id, "hello")
    res = await client.process.exec(vm_id, argv=[hello, "a b", "c"])
    assert res.stdout == f"hello from wasi\nargv[0]={hello}\nargv[1]=a b\nargv[2]=c\n".encode()
    assert res.exit_code == 3


def _wat_guest(body: str, extra: str = "") -> bytes:
    return wasmtime.wat2wasm(f"""(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  {extra}
  (memory (export "memory") 1)
  (func (export "_start") {body}))""")


async def run_wat(client, vm_id, wasm: bytes):
    await client.fs.write_file(vm_id, "/tmp/guest.wasm", wasm, mode=0o755)
    return await client.process.exec(vm_id, argv=["/tmp/guest.wasm"], timeout_ms=60_000)


async def test_a_module_with_extra_memories_cannot_multiply_the_memory_limit(client, vm_id):
    # multi-memory is off in the engine: such a module is not a valid program here
    # (found when the process compiles it, so the process cannot execute it: 126)
    res = await run_wat(client, vm_id, _wat_guest("(call $exit (i32.const 0))", "(memory $second 0)"))
    assert res.exit_code == 126


async def test_table_growth_is_bounded(client, vm_id):
    grow = "(call $exit (i32.add (i32.const 100) (table.grow $t (ref.null func) (i32.const {n}))))"
    small = await run_wat(client, vm_id, _wat_guest(grow.format(n=1000), "(table $t 0 funcref)"))
    assert small.exit_code == 100  # the old size, 0
    huge = await run_wat(client, vm_id, _wat_guest(grow.format(n=200_000_000), "(table $t 0 funcref)"))
    assert huge.exit_code == 99  # table.grow failed: -1
    declared = await run_wat(client, vm_id, _wat_guest("(call $exit (i32.const 0))", "(table $t 100000000 funcref)"))
    assert declared.exit_code == 1


async def test_the_cpu_budget_is_not_refilled_by_exec(client):
    vm = (await client.vm.create(VmConfig(limits=VmLimits(cpu_time_ms_per_process=1000)))).vm_id
    script = b'x=0; while [ $x -lt 500 ]; do x=$((x+1)); done; echo >> /tmp/rounds; exec /bin/sh /tmp/burn.sh\n'
    await client.fs.write_file(vm, "/tmp/burn.sh", script)
    res = await client.process.exec(vm, argv=["/bin/sh", "/tmp/burn.sh"], timeout_ms=60_000)
    assert (res.exit_code, res.timed_out) == (124, False), res.stderr
    rounds = (await client.fs.read_file(vm, "/tmp/rounds")).data.count(b"\n")
    assert 1 <= rounds < 20


async def test_a_program_over_the_size_limit_is_efbig_before_it_is_read(client):
    vm = (await client.vm.create(VmConfig(limits=VmLimits(max_program_bytes=64 * 1024)))).vm_id
    hello = await install_guest(client, vm, "hello")
    big = b"\0asm\x01\0\0\0" + b"\0" * (128 * 1024)
    await client.fs.write_file(vm, "/tmp/big.wasm", big, mode=0o755)
    with pytest.raises(RpcError) as err:
        await client.process.exec(vm, argv=["/tmp/big.wasm"])
    assert (err.value.kind, err.value.errno) == ("limit_exceeded", "EFBIG")
    res = await client.process.exec(vm, "/tmp/big.wasm; echo $?")
    assert res.stdout.strip() != b"0"
    assert (await client.process.exec(vm, argv=[hello])).stdout.startswith(b"hello from wasi")  # small ones run


async def test_unknown_imports_are_enosys_stubs_private_to_each_module(client, vm_id):
    # Two programs import the same unknown name with different signatures; both
    # run and see ENOSYS (52), and neither breaks the other or the shared linker.
    one = _wat_guest(
        "(call $exit (call $future (i32.const 1)))",
        '(import "host_fs" "future_fn" (func $future (param i32) (result i32)))',
    )
    two = _wat_guest(
        "(call $exit (call $future (i64.const 1) (i64.const 2)))",
        '(import "host_fs" "future_fn" (func $future (param i64 i64) (result i32)))',
    )
    assert (await run_wat(client, vm_id, one)).exit_code == 52
    assert (await run_wat(client, vm_id, two)).exit_code == 52
    assert (await run_wat(client, vm_id, one)).exit_code == 52
    assert (await client.process.exec(vm_id, "echo ok")).stdout == b"ok\n"


async def test_host_calls_see_memory_the_guest_grew_after_its_first_host_call(client, vm_id):
    # Host functions cache the memory's length; a range past it must be re-checked
    # against the grown memory, not refused (and never read from stale memory).
    wasm = wasmtime.wat2wasm("""(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "before\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 7))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (drop (memory.grow (i32.const 2)))
    (i64.store (i32.const 131072) (i64.const 0x0a2172657466)) ;; "fter!\\n"
    (i32.store (i32.const 131080) (i32.const 131072)) (i32.store (i32.const 131084) (i32.const 6))
    (call $exit (call $write (i32.const 1) (i32.const 131080) (i32.const 1) (i32.const 131088)))))""")
    res = await run_wat(client, vm_id, wasm)
    assert (res.exit_code, res.stdout) == (0, b"before\nfter!\n")


async def test_the_vm_memory_budget_makes_malloc_fail_cleanly(client):
    # per process 128 MiB would allow ~111 MiB of blocks; the VM budget allows less
    limits = VmLimits(memory_bytes_per_process=128 * 1024 * 1024, memory_bytes_per_vm=48 * 1024 * 1024)
    vm = (await client.vm.create(VmConfig(limits=limits))).vm_id
    alloc = await install_guest(client, vm, "alloc")
    res = await client.process.exec(vm, argv=[alloc], timeout_ms=60_000)
    assert res.exit_code == 3
    got = int(res.stdout.split()[1])
    assert 5 <= got < 48, res.stdout
    assert (await client.vm.info(vm)).info.usage.memory_bytes == 0  # given back at exit


async def test_a_process_the_vm_memory_budget_cannot_hold_does_not_start(client):
    # a zig guest starts with ~16.5 MiB of linear memory: one fits in 24 MiB, two do not
    vm = (await client.vm.create(VmConfig(limits=VmLimits(memory_bytes_per_vm=24 * 1024 * 1024)))).vm_id
    spin = await install_guest(client, vm, "spin")
    first = (await client.process.spawn(vm, argv=[spin])).pid
    with trio.fail_after(30):
        while not (await client.vm.info(vm)).info.usage.memory_bytes:
            await trio.sleep(0.05)
    with pytest.raises(RpcError) as err:
        await client.process.spawn(vm, argv=[spin])
    assert (err.value.kind, err.value.errno) == ("limit_exceeded", "EAGAIN")
    await client.process.kill(vm, first, "SIGKILL")
    await client.process.wait(vm, first)
    second = (await client.process.spawn(vm, argv=[spin])).pid  # the budget came back
    await client.process.kill(vm, second, "SIGKILL")
