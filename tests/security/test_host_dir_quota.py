"""host_dir writes are charged: a mount's own quota (maxBytes, maxInodes) bounds what
a guest can add to the host directory, however it writes."""

from __future__ import annotations

import pytest

from agentvm import HostDirMount, RpcError, VmConfig

MiB = 1 << 20


def quota_mount(host_path, **quota) -> VmConfig:
    return VmConfig(mounts=[HostDirMount(path="/mnt/h", host_path=str(host_path), **quota)])


def host_bytes(root) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


@pytest.mark.attack("200 MB and 20k files written to a host_dir with a 1 MiB / 100-inode quota")
async def test_a_host_dir_quota_stops_bytes_and_inodes_with_enospc(client, canary, tmp_path):
    (tmp_path / "before.bin").write_bytes(b"p" * (2 * MiB))  # present before: not charged
    vm_id = (await client.vm.create(quota_mount(tmp_path, max_bytes=MiB, max_inodes=100))).vm_id
    big = await client.process.exec(vm_id, "head -c 200000000 /dev/zero > /mnt/h/big")
    assert big.exit_code != 0
    assert host_bytes(tmp_path) <= 3 * MiB
    many = await client.process.exec(vm_id, "cd /mnt/h && for i in $(seq 1 20000); do : > f$i || exit 7; done")
    assert many.exit_code == 7
    assert len(list(tmp_path.iterdir())) <= 2 + 100
    with pytest.raises(RpcError) as err:
        await client.fs.write_file(vm_id, "/mnt/h/sparse", b"x", offset=1 << 40)
    assert err.value.errno == "ENOSPC"
    assert not (tmp_path / "sparse").exists() or (tmp_path / "sparse").stat().st_size == 0


async def test_deleting_gives_back_what_was_charged_but_deleting_old_content_earns_nothing(client, tmp_path):
    (tmp_path / "old.bin").write_bytes(b"p" * (3 * MiB))
    vm_id = (await client.vm.create(quota_mount(tmp_path, max_bytes=MiB, max_inodes=10))).vm_id
    await client.fs.write_file(vm_id, "/mnt/h/a", b"a" * (MiB - 100))
    with pytest.raises(RpcError) as err:
        await client.fs.write_file(vm_id, "/mnt/h/b", b"b" * 200)
    assert err.value.errno == "ENOSPC"
    await client.fs.delete(vm_id, "/mnt/h/old.bin")
    with pytest.raises(RpcError) as err:
        await client.fs.write_file(vm_id, "/mnt/h/b", b"b" * 200)
    assert err.value.errno == "ENOSPC"
    await client.fs.delete(vm_id, "/mnt/h/a")
    await client.fs.write_file(vm_id, "/mnt/h/b", b"b" * (MiB - 100))
    assert (tmp_path / "b").stat().st_size == MiB - 100


async def test_a_host_dir_without_a_quota_is_bounded_by_the_vm_fs_limits(client, tmp_path):
    from agentvm import VmLimits

    config = quota_mount(tmp_path)
    config.limits = VmLimits(fs_max_bytes=MiB)
    vm_id = (await client.vm.create(config)).vm_id
    with pytest.raises(RpcError) as err:
        await client.fs.write_file(vm_id, "/mnt/h/big", b"x" * (2 * MiB))
    assert err.value.errno == "ENOSPC"
