"""Classic guest attacks, each run while a second VM is probed (the ``canary``).

Filesystem escapes from a host_dir mount, writes to a read-only mount from every entry
point (shell commands, the WASI and host ABI calls they make, a plain WASI program and
the wire's fs.*), filling one VM's filesystem, CPU, fd and pipe exhaustion, and traps
and mislinked imports. Each is denied with its exact outcome, the host is unchanged,
and the other VM keeps answering.
"""

from __future__ import annotations

import pytest
import wasmtime

from agentvm import HostDirMount, RpcError, VmConfig, VmLimits
from tests.process.conftest import install_guest, sh

SECRET = b"host secret outside the mount\n"


@pytest.mark.attack("guest tries .., relative and absolute symlinks and a symlink chain out of a host_dir mount")
async def test_a_guest_cannot_leave_its_host_dir_mount(client, canary, tmp_path):
    (tmp_path / "secret.txt").write_bytes(SECRET)
    mounted = tmp_path / "mounted"
    mounted.mkdir()
    vm = (await client.vm.create(VmConfig(mounts=[HostDirMount(path="/workspace", host_path=str(mounted))]))).vm_id
    attempts = " ; ".join(
        [
            "cat /workspace/../secret.txt",
            "cd /workspace && cat ../secret.txt",
            "ln -s ../secret.txt /workspace/up && cat /workspace/up",
            f"ln -s {tmp_path}/secret.txt /workspace/abs && cat /workspace/abs",
            "ln -s /workspace/up /workspace/chain && cat /workspace/chain",
            "ln -s .. /workspace/parent && cat /workspace/parent/secret.txt",
        ]
    )
    res = await sh(client, vm, attempts)
    assert SECRET.strip() not in res.stdout + res.stderr
    # the links the guest made point where it said, inside the VM's namespace only
    assert (mounted / "up").is_symlink() and (tmp_path / "secret.txt").read_bytes() == SECRET


@pytest.mark.attack("writes to a read-only host_dir mount through the shell, a plain WASI program and the wire")
async def test_a_read_only_mount_refuses_writes_from_every_entry_point(client, canary, tmp_path):
    (tmp_path / "keep.txt").write_bytes(b"original\n")
    vm = (
        await client.vm.create(VmConfig(mounts=[HostDirMount(path="/ro", host_path=str(tmp_path), read_only=True)]))
    ).vm_id
    # shell redirections and commands: WASI path_open/unlink/rename/mkdir and the host ABI's spawn actions
    for command in (
        "echo x > /ro/keep.txt",
        "echo x >> /ro/keep.txt",
        "echo x > /ro/new.txt",
        "rm /ro/keep.txt",
        "mv /ro/keep.txt /ro/moved.txt",
        "mkdir /ro/dir",
        "touch /ro/keep.txt",
        "chmod 777 /ro/keep.txt",
        "ln -s x /ro/link",
        "cat /ro/keep.txt | tee /ro/keep.txt",
    ):
        assert (await sh(client, vm, command)).exit_code != 0, command
    # a plain wasi-libc program writing through its preopen
    cat = await install_guest(client, vm, "plain_cat")
    await client.fs.write_file(vm, "/tmp/in.txt", b"overwrite\n")
    assert (await sh(client, vm, f"{cat} /tmp/in.txt > /ro/keep.txt")).exit_code != 0
    # the wire
    for call in (
        client.fs.write_file(vm, "/ro/keep.txt", b"x"),
        client.fs.write_file(vm, "/ro/keep.txt", b"x", append=True),
        client.fs.delete(vm, "/ro/keep.txt"),
        client.fs.mkdir(vm, "/ro/dir"),
        client.fs.move(vm, "/ro/keep.txt", "/ro/moved.txt"),
        client.fs.chmod(vm, "/ro/keep.txt", 0o777),
        client.fs.symlink(vm, "x", "/ro/link"),
    ):
        with pytest.raises(RpcError) as err:
            await call
        assert err.value.errno == "EROFS"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
    assert (tmp_path / "keep.txt").read_bytes() == b"original\n"


@pytest.mark.attack("a guest fills its VM's filesystem")
async def test_filling_one_vm_is_enospc_there_and_nowhere_else(client, canary):
    small = (await client.vm.create(VmConfig(limits=VmLimits(fs_max_bytes=2 * 1024 * 1024)))).vm_id
    res = await sh(client, small, "yes abcdefghij > /tmp/fill")
    assert res.exit_code != 0
    assert (await client.vm.info(small)).info.usage.fs_bytes <= 2 * 1024 * 1024
    with pytest.raises(RpcError) as err:
        await client.fs.write_file(small, "/tmp/more", b"x" * 1024 * 1024)
    assert err.value.errno == "ENOSPC"
    # the canary's VM, in the same sidecar, still writes
    await client.fs.write_file(canary.vm_id, "/tmp/still-room", b"y" * 1024 * 1024)


@pytest.mark.attack("CPU bomb: several guests spinning under a CPU time limit")
async def test_spinning_guests_end_with_124_at_their_cpu_limit(client, canary):
    vm = (await client.vm.create(VmConfig(limits=VmLimits(cpu_time_ms_per_process=500)))).vm_id
    spin = await install_guest(client, vm, "spin")
    res = await sh(client, vm, f"{spin} & {spin} & {spin} & wait; {spin}")
    assert res.exit_code == 124


@pytest.mark.attack("fd and pipe exhaustion: open files and pipes until refused")
async def test_fd_and_pipe_exhaustion_is_refused(client, canary):
    vm = (await client.vm.create(VmConfig(limits=VmLimits(max_fds_per_vm=64, max_pipes=8)))).vm_id
    fds = await install_guest(client, vm, "fds")
    files = await client.process.exec(vm, argv=[fds], timeout_ms=60_000)
    assert files.stdout.endswith((b" error=ENFILE\n", b" error=EMFILE\n")), files.stdout
    pipes = await client.process.exec(vm, argv=[fds, "pipes"], timeout_ms=60_000)
    assert pipes.stdout.endswith(b" error=ENFILE\n"), pipes.stdout
    # nothing leaked: the same VM opens files again
    assert (await sh(client, vm, "echo ok > /tmp/f && cat /tmp/f")).stdout == b"ok\n"


@pytest.mark.attack("a trapping module, a stack overflow and a module mislinking a host import")
async def test_traps_and_mislinked_imports_end_only_their_process(client, canary):
    vm = (await client.vm.create()).vm_id

    async def run(body: str, extra: str = ""):
        wasm = wasmtime.wat2wasm(f"""(module
          (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
          {extra}
          (memory (export "memory") 1)
          (func (export "_start") {body}))""")
        await client.fs.write_file(vm, "/tmp/bad.wasm", wasm, mode=0o755)
        return await client.process.exec(vm, argv=["/tmp/bad.wasm"], timeout_ms=60_000)

    assert (await run("unreachable")).exit_code == 1
    assert (await run("(call $r)", "(func $r (call $r))")).exit_code == 1
    assert (await run("(call $exit (i32.const 0))", '(import "host_process" "proc_getpid" (func (param i64)))')).exit_code == 1
    assert (await sh(client, vm, "echo alive")).stdout == b"alive\n"
