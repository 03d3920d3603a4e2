"""fs.* through the Python client against a real sidecar: memory root, mounts, errors."""

from __future__ import annotations

import os

import pytest
import trio

from agentvm import FsFileToWrite, HostDirMount, MemoryMount, RpcError, VmConfig, VmLimits


async def test_write_then_read_round_trips_bytes(client, vm_id):
    payload = bytes(range(256)) * 10
    await client.fs.write_file(vm_id, "/tmp/blob", payload)
    assert (await client.fs.read_file(vm_id, "/tmp/blob")).data == payload


async def test_concurrent_writes_bigger_than_the_pipe_arrive_whole(client, vm_id):
    """Request lines larger than the sidecar's stdin pipe, sent together: each line is
    written whole before the next one starts, however the pipe takes them."""
    payloads = {f"/tmp/c{i}": bytes([97 + i]) * (90_000 + 6_007 * i) for i in range(12)}
    async with trio.open_nursery() as nursery:
        for path, data in payloads.items():
            nursery.start_soon(client.fs.write_file, vm_id, path, data)
    for path, data in payloads.items():
        assert (await client.fs.read_file(vm_id, path)).data == data


async def test_write_file_with_create_dirs_makes_parents(client, vm_id):
    await client.fs.write_file(vm_id, "/a/b/c/file.txt", b"x", create_dirs=True)
    assert (await client.fs.stat(vm_id, "/a/b/c")).stat.kind == "directory"


async def test_missing_parent_without_create_dirs_is_enoent(client, vm_id):
    with pytest.raises(RpcError) as err:
        await client.fs.write_file(vm_id, "/nope/file", b"x")
    assert (err.value.kind, err.value.errno) == ("not_found", "ENOENT")


async def test_batch_read_and_write_report_each_file_on_its_own(client, vm_id):
    res = await client.fs.write_files(
        vm_id, [FsFileToWrite(path="/tmp/1", data=b"one"), FsFileToWrite(path="/missing/2", data=b"two")]
    )
    assert [o.error.errno if o.error else None for o in res.results] == [None, "ENOENT"]
    read = await client.fs.read_files(vm_id, ["/tmp/1", "/tmp/none"])
    assert read.files[0].data == b"one"
    assert read.files[1].error.kind == "not_found"


async def test_mkdir_readdir_and_recursive_listing(client, vm_id):
    await client.fs.mkdir(vm_id, "/w/x/y", recursive=True)
    await client.fs.write_file(vm_id, "/w/x/f", b"1")
    await client.fs.symlink(vm_id, "x/f", "/w/link")
    names = {(e.name, e.kind) for e in (await client.fs.readdir(vm_id, "/w")).entries}
    assert names == {("x", "directory"), ("link", "symlink")}
    tree = {(e.path, e.kind) for e in (await client.fs.readdir_recursive(vm_id, "/w")).entries}
    assert tree == {("x", "directory"), ("x/y", "directory"), ("x/f", "file"), ("link", "symlink")}
    with pytest.raises(RpcError) as err:
        await client.fs.mkdir(vm_id, "/w/x")
    assert err.value.errno == "EEXIST"


async def test_stat_lstat_readlink_and_exists(client, vm_id):
    await client.fs.write_file(vm_id, "/tmp/t", b"12345")
    await client.fs.symlink(vm_id, "/tmp/t", "/tmp/l")
    assert (await client.fs.stat(vm_id, "/tmp/l")).stat.size == 5
    assert (await client.fs.lstat(vm_id, "/tmp/l")).stat.kind == "symlink"
    assert (await client.fs.readlink(vm_id, "/tmp/l")).target == "/tmp/t"
    assert (await client.fs.exists(vm_id, "/tmp/l")).exists
    await client.fs.delete(vm_id, "/tmp/t")
    assert not (await client.fs.exists(vm_id, "/tmp/l")).exists


async def test_move_chmod_and_recursive_delete(client, vm_id):
    await client.fs.write_file(vm_id, "/d/e/f", b"x", create_dirs=True)
    await client.fs.move(vm_id, "/d", "/moved")
    await client.fs.chmod(vm_id, "/moved/e/f", 0o600)
    assert (await client.fs.stat(vm_id, "/moved/e/f")).stat.mode & 0o7777 == 0o600
    with pytest.raises(RpcError) as err:
        await client.fs.delete(vm_id, "/moved")
    assert err.value.errno == "ENOTEMPTY"
    await client.fs.delete(vm_id, "/moved", recursive=True)
    assert not (await client.fs.exists(vm_id, "/moved")).exists


async def test_unknown_vm_is_not_found(client):
    with pytest.raises(RpcError) as err:
        await client.fs.read_file("vm-unknown", "/etc/passwd")
    assert err.value.kind == "not_found"


async def test_host_dir_mount_is_one_view_both_ways(client, tmp_path):
    (tmp_path / "from_host.txt").write_bytes(b"host says hi")
    vm = (await client.vm.create(VmConfig(mounts=[HostDirMount(path="/mnt/h", host_path=str(tmp_path))]))).vm_id
    assert (await client.fs.read_file(vm, "/mnt/h/from_host.txt")).data == b"host says hi"
    await client.fs.write_file(vm, "/mnt/h/sub/from_vm.txt", b"vm says hi", create_dirs=True)
    assert (tmp_path / "sub" / "from_vm.txt").read_bytes() == b"vm says hi"


async def test_read_only_host_dir_refuses_writes_with_erofs(client, tmp_path):
    (tmp_path / "keep.txt").write_bytes(b"unchanged")
    vm = (
        await client.vm.create(VmConfig(mounts=[HostDirMount(path="/ro", host_path=str(tmp_path), read_only=True)]))
    ).vm_id
    for attempt in (
        client.fs.write_file(vm, "/ro/keep.txt", b"changed"),
        client.fs.write_file(vm, "/ro/new.txt", b"x"),
        client.fs.delete(vm, "/ro/keep.txt"),
        client.fs.mkdir(vm, "/ro/dir"),
        client.fs.chmod(vm, "/ro/keep.txt", 0o777),
    ):
        with pytest.raises(RpcError) as err:
            await attempt
        assert (err.value.kind, err.value.errno) == ("permission_denied", "EROFS")
    assert sorted(os.listdir(tmp_path)) == ["keep.txt"]
    assert (tmp_path / "keep.txt").read_bytes() == b"unchanged"


async def test_host_dir_symlink_escape_is_resolved_inside_the_vm(client, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"TOP SECRET")
    shared = tmp_path / "shared"
    shared.mkdir()
    os.symlink(str(secret), shared / "abs_escape")
    os.symlink("../secret.txt", shared / "rel_escape")
    vm = (await client.vm.create(VmConfig(mounts=[HostDirMount(path="/mnt/s", host_path=str(shared))]))).vm_id
    for path in ("/mnt/s/abs_escape", "/mnt/s/rel_escape", "/mnt/s/../secret.txt", "/mnt/s/../../../secret.txt"):
        with pytest.raises(RpcError) as err:
            await client.fs.read_file(vm, path)
        assert err.value.errno == "ENOENT", path


async def test_mount_and_unmount_at_runtime(client, vm_id, tmp_path):
    await client.fs.mount(vm_id, MemoryMount(path="/scratch"))
    await client.fs.write_file(vm_id, "/scratch/f", b"1")
    await client.fs.mount(vm_id, HostDirMount(path="/host", host_path=str(tmp_path)))
    info = (await client.vm.info(vm_id)).info
    assert {(m.path, m.type) for m in info.mounts} >= {("/", "memory"), ("/scratch", "memory"), ("/host", "host_dir")}
    await client.fs.unmount(vm_id, "/scratch")
    assert not (await client.fs.exists(vm_id, "/scratch/f")).exists
    with pytest.raises(RpcError) as err:
        await client.fs.unmount(vm_id, "/tmp")
    assert err.value.errno == "EINVAL"


async def test_filesystem_limit_fires_with_enospc_and_usage_is_reported(client):
    vm = (await client.vm.create(VmConfig(limits=VmLimits(fs_max_bytes=64 * 1024)))).vm_id
    await client.fs.write_file(vm, "/tmp/ok", b"x" * 1000)
    with pytest.raises(RpcError) as err:
        await client.fs.write_file(vm, "/tmp/big", b"x" * 100_000)
    assert (err.value.kind, err.value.errno) == ("limit_exceeded", "ENOSPC")
    usage = (await client.vm.info(vm)).info.usage
    assert 1000 <= usage.fs_bytes < 64 * 1024


async def test_inode_limit_fires_with_enospc(client):
    vm = (await client.vm.create(VmConfig(limits=VmLimits(fs_max_inodes=40)))).vm_id
    with pytest.raises(RpcError) as err:
        for i in range(100):
            await client.fs.write_file(vm, f"/tmp/f{i}", b"")
    assert err.value.errno == "ENOSPC"


async def test_vm_lifecycle_list_info_dispose(client):
    a = (await client.vm.create()).vm_id
    b = (await client.vm.create()).vm_id
    assert {v.vm_id for v in (await client.vm.list()).vms} == {a, b}
    await client.vm.dispose(a)
    assert [v.vm_id for v in (await client.vm.list()).vms] == [b]
    with pytest.raises(RpcError) as err:
        await client.vm.info(a)
    assert err.value.kind == "not_found"


async def test_many_vms_are_isolated_from_each_other(client):
    vms = [(await client.vm.create()).vm_id for _ in range(5)]
    for i, vm in enumerate(vms):
        await client.fs.write_file(vm, "/tmp/id", str(i).encode())
    assert [(await client.fs.read_file(vm, "/tmp/id")).data for vm in vms] == [b"0", b"1", b"2", b"3", b"4"]


async def test_a_host_dir_mount_of_a_missing_host_path_names_both_paths(client, tmp_path):
    missing = str(tmp_path / "missing")
    with pytest.raises(RpcError) as err:
        await client.vm.create(VmConfig(mounts=[HostDirMount(path="/work", host_path=missing)]))
    assert (err.value.kind, err.value.errno, err.value.path) == ("not_found", "ENOENT", "/work")
    assert missing in err.value.message
    (tmp_path / "file").write_text("x")
    vm = (await client.vm.create()).vm_id
    with pytest.raises(RpcError) as err:
        await client.fs.mount(vm, HostDirMount(path="/mnt/f", host_path=str(tmp_path / "file")))
    assert (err.value.errno, err.value.path) == ("ENOTDIR", "/mnt/f")
