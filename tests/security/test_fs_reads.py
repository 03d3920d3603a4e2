"""Client reads of guest-shaped files: every read that returns data is sized before it
reads, so a device, a sparse terabyte, a batch of hard links or a deep directory chain
costs at most one frame; names that are not UTF-8 are listed, never ``internal``."""

from __future__ import annotations

import os

import pytest

from agentvm import HostDirMount, RpcError, VmConfig
from agentvm_sidecar.kernel.vfs import Vfs
from tests.process.conftest import install_guest

from .raw_wire import open_raw_sidecar

MiB = 1 << 20


@pytest.mark.attack("guest `ln -s /dev/zero ~/result.txt`, client fs.readFile of it")
async def test_reading_a_device_is_refused_unless_a_length_bounds_it(client, canary):
    vm_id = (await client.vm.create()).vm_id
    assert (await client.process.exec(vm_id, "ln -s /dev/zero /home/user/result.txt")).exit_code == 0
    with pytest.raises(RpcError) as err:
        await client.fs.read_file(vm_id, "/home/user/result.txt")
    assert (err.value.kind, err.value.errno) == ("limit_exceeded", "EFBIG")
    piece = await client.fs.read_file(vm_id, "/home/user/result.txt", length=10)
    assert (piece.data, piece.size) == (b"\0" * 10, 0)
    (entry,) = (await client.fs.read_files(vm_id, ["/home/user/result.txt"])).files
    assert entry.error is not None and entry.error.errno == "EFBIG"


@pytest.mark.attack("a sparse 1 TiB file on a host_dir mount, client fs.readFile of it")
async def test_a_sparse_terabyte_is_refused_by_its_size_and_read_in_pieces(client, canary, tmp_path):
    with open(tmp_path / "huge", "wb") as f:
        f.truncate(1 << 40)
        f.seek((1 << 40) - 3)
        f.write(b"end")
    vm_id = (await client.vm.create(VmConfig(mounts=[HostDirMount(path="/mnt/h", host_path=str(tmp_path))]))).vm_id
    canary.reset_memory()
    with pytest.raises(RpcError) as err:
        await client.fs.read_file(vm_id, "/mnt/h/huge")
    assert err.value.kind == "limit_exceeded"
    tail = await client.fs.read_file(vm_id, "/mnt/h/huge", offset=(1 << 40) - 5, length=100)
    assert (tail.data, tail.size) == (b"\0\0end", 1 << 40)
    with pytest.raises(RpcError) as err:
        await client.fs.read_file(vm_id, "/mnt/h/huge", length=1 << 40)
    assert err.value.kind == "limit_exceeded"
    assert canary.growth < 64 * MiB


@pytest.mark.attack("one 20 MiB file plus 40 hard links, client fs.readFiles of all 41")
async def test_a_batch_is_refused_by_its_total_before_any_file_is_read(client, canary, tmp_path):
    (tmp_path / "big").write_bytes(b"x" * 20 * MiB)
    for i in range(40):
        os.link(tmp_path / "big", tmp_path / f"link{i}")
    vm_id = (await client.vm.create(VmConfig(mounts=[HostDirMount(path="/mnt/h", host_path=str(tmp_path))]))).vm_id
    canary.reset_memory()
    paths = ["/mnt/h/big"] + [f"/mnt/h/link{i}" for i in range(40)]
    with pytest.raises(RpcError) as err:
        await client.fs.read_files(vm_id, paths)
    assert err.value.kind == "limit_exceeded"
    assert canary.growth < 100 * MiB  # 820 MiB were read before the check
    assert [len(f.data) for f in (await client.fs.read_files(vm_id, paths[:2])).files] == [20 * MiB] * 2


async def test_a_file_is_read_and_written_in_pieces_with_offset_length_and_append(client, vm_id):
    assert (await client.fs.write_file(vm_id, "/tmp/f", b"abc")).size == 3
    assert (await client.fs.write_file(vm_id, "/tmp/f", b"def", append=True)).size == 6
    assert (await client.fs.write_file(vm_id, "/tmp/f", b"XY", offset=1)).size == 6
    assert (await client.fs.write_file(vm_id, "/tmp/f", b"!", offset=8)).size == 9
    pieces, offset = [], 0
    while True:
        piece = await client.fs.read_file(vm_id, "/tmp/f", offset=offset, length=4)
        pieces.append(piece.data)
        offset += len(piece.data)
        if offset >= piece.size:
            break
    assert b"".join(pieces) == b"aXYdef\0\0!"
    assert (await client.fs.read_file(vm_id, "/tmp/f", offset=100)).data == b""
    with pytest.raises(RpcError) as err:
        await client.fs.write_file(vm_id, "/tmp/f", b"", offset=0, append=True)
    assert err.value.kind == "invalid_params"


def deep_chain(vfs: Vfs, depth: int) -> None:
    """/w/c/c/c/... ``depth`` levels, built by renames so that no path is long."""
    vfs.mkdir("/w")
    vfs.mkdir("/w/c")
    for _ in range(depth - 1):
        vfs.mkdir("/w/n")
        vfs.rename("/w/c", "/w/n/c")
        vfs.rename("/w/n", "/w/c")


def test_a_deep_chain_is_listed_up_to_the_byte_bound_in_linear_work():
    vfs = Vfs.with_default_tree()
    deep_chain(vfs, 45_000)
    listing = vfs.readdir_recursive("/w", max_bytes=32 * MiB)
    assert listing.truncated
    assert sum(len(path) for path, _ in listing) <= 32 * MiB
    assert len(listing) < 45_000


@pytest.mark.attack("a guest makes a 45,000-deep directory chain by renames, client fs.readdirRecursive of it")
async def test_a_guest_made_deep_chain_costs_one_frame_to_list(client, canary):
    vm_id = (await client.vm.create()).vm_id
    guest = await install_guest(client, vm_id, "deepchain")
    made = await client.process.exec(vm_id, argv=[guest, "/tmp/w", "45000"], timeout_ms=600_000)
    assert (made.exit_code, made.stdout) == (0, b"ok\n")
    canary.reset_memory()
    listing = await client.fs.readdir_recursive(vm_id, "/tmp/w")
    assert listing.truncated and 0 < len(listing.entries) < 45_000
    # paths cost O(depth^2): 45,000 levels are 2 GB of paths, 6 GiB of sidecar before the fix
    assert canary.growth < 128 * MiB, canary.growth


async def test_a_recursive_listing_over_the_frame_says_truncated_on_the_wire():
    async with open_raw_sidecar("--max-frame-bytes", str(256 * 1024)) as raw:
        vm_id = (await raw.result("vm.create", {"config": {"software": False}}))["vmId"]
        await raw.result("fs.mkdir", {"vmId": vm_id, "path": "/w/c", "recursive": True})
        for _ in range(600):
            await raw.result("fs.mkdir", {"vmId": vm_id, "path": "/w/n"})
            await raw.result("fs.move", {"vmId": vm_id, "source": "/w/c", "destination": "/w/n/c"})
            await raw.result("fs.move", {"vmId": vm_id, "source": "/w/n", "destination": "/w/c"})
        listing = await raw.result("fs.readdirRecursive", {"vmId": vm_id, "path": "/w"})
        assert listing["truncated"] is True and 0 < len(listing["entries"]) < 601
        small = await raw.result("fs.readdirRecursive", {"vmId": vm_id, "path": "/w", "maxDepth": 3})
        assert [e["path"] for e in small["entries"]] == ["c", "c/c", "c/c/c"] and "truncated" not in small
        big = await raw.call("fs.readFile", {"vmId": vm_id, "path": "/w", "length": 1 << 30})
        assert big["error"]["data"]["errno"] == "EISDIR"


@pytest.mark.attack("guest file names that are not UTF-8, then fs.readdir, readdirRecursive of /, readlink, stat")
async def test_names_that_are_not_utf8_are_listed_with_their_bytes(client, vm_id, canary):
    guest = await install_guest(client, vm_id, "badnames")
    made = await client.process.exec(vm_id, argv=[guest])
    assert (made.exit_code, made.stdout) == (0, b"ok\n")
    entries = {e.name_bytes or e.name.encode(): e for e in (await client.fs.readdir(vm_id, "/tmp/u")).entries}
    assert set(entries) == {b"bad\xffname", b"dir\xfe", b"link"}
    assert entries[b"bad\xffname"].name == "bad\ufffdname" and entries[b"link"].name_bytes is None
    tree = (await client.fs.readdir_recursive(vm_id, "/")).entries
    assert {e.path_bytes for e in tree if e.path_bytes} == {b"tmp/u/bad\xffname", b"tmp/u/dir\xfe", b"tmp/u/dir\xfe/inner"}
    link = await client.fs.readlink(vm_id, "/tmp/u/link")
    assert (link.target, link.target_bytes) == ("to\ufffd", b"to\xff")
    assert (await client.fs.stat(vm_id, "/tmp/u")).stat.kind == "directory"
    with pytest.raises(RpcError) as err:
        await client.fs.stat(vm_id, "/tmp/u/link")  # dangling: its target is not UTF-8
    assert err.value.kind == "not_found"
    await client.fs.delete(vm_id, "/tmp/u", recursive=True)
    assert not (await client.fs.exists(vm_id, "/tmp/u")).exists


async def test_names_that_are_not_utf8_are_addressed_by_their_bytes(client, vm_id):
    guest = await install_guest(client, vm_id, "badnames")
    assert (await client.process.exec(vm_id, argv=[guest])).exit_code == 0
    listed = {e.name_bytes for e in (await client.fs.readdir(vm_id, "/tmp/u")).entries if e.name_bytes}
    assert listed == {b"bad\xffname", b"dir\xfe"}
    bad = b"/tmp/u/bad\xffname"  # what a client passes back: the directory plus name_bytes
    assert (await client.fs.stat(vm_id, bad)).stat.kind == "file"
    await client.fs.write_file(vm_id, bad, b"written by the client")
    assert (await client.fs.read_file(vm_id, bad)).data == b"written by the client"
    (inner,) = (await client.fs.readdir(vm_id, b"/tmp/u/dir\xfe")).entries
    assert inner.name == "inner" and (await client.fs.lstat(vm_id, b"/tmp/u/dir\xfe/inner")).stat.kind == "file"
    # the display form alone names a different, missing file
    with pytest.raises(RpcError) as err:
        await client.fs.stat(vm_id, "/tmp/u/bad\ufffdname")
    assert err.value.errno == "ENOENT"
    await client.fs.delete(vm_id, bad)
    assert not (await client.fs.exists(vm_id, bad)).exists
    with pytest.raises(RpcError) as err:
        await client.fs.read_file(vm_id, bad)
    assert err.value.errno == "ENOENT"
    await client.fs.move(vm_id, b"/tmp/u/dir\xfe", "/tmp/u/fixed")
    assert [e.name for e in (await client.fs.readdir(vm_id, "/tmp/u/fixed")).entries] == ["inner"]
    # the guest sees what the client did
    seen = await client.process.exec(vm_id, "ls /tmp/u")
    assert seen.stdout.split() == [b"fixed", b"link"]


async def test_exact_path_bytes_must_match_their_display_form(client, vm_id):
    await client.fs.write_file(vm_id, "/tmp/plain", b"x")
    with pytest.raises(RpcError) as err:
        await client.call_raw("fs.stat", {"vmId": vm_id, "path": "/tmp/plain", "pathBytes": "L3RtcC9iYWT/bmFtZQ=="})
    assert err.value.kind == "invalid_params"
    with pytest.raises(RpcError) as err:  # a NUL byte is never part of a path
        await client.call_raw("fs.stat", {"vmId": vm_id, "path": "/tmp/\x00", "pathBytes": "L3RtcC8A"})
    assert err.value.kind == "invalid_params"
    # valid UTF-8 bytes name the same file as the string
    assert (await client.call_raw("fs.readFile", {"vmId": vm_id, "path": "/tmp/plain", "pathBytes": "L3RtcC9wbGFpbg=="}))["data"] == "eA=="
