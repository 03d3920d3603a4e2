"""Mount table behaviour through the Vfs."""

from __future__ import annotations

from _kernel_helpers import raises_errno

from agentvm_sidecar.kernel import FsAccounting, MemoryFs, Vfs
from agentvm_sidecar.kernel import OpenFlags as O


def _mounted(vfs: Vfs) -> MemoryFs:
    vfs.mkdir("/mnt/m", recursive=True)
    fs = MemoryFs(vfs.accounting)
    vfs.mount("/mnt/m", fs)
    return fs


def test_memory_mount_serves_files_under_its_mount_point(vfs: Vfs) -> None:
    fs = _mounted(vfs)
    vfs.write_file("/mnt/m/hello", b"hi")
    assert fs.lookup(fs.root(), "hello") is not None
    assert vfs.read_file("/mnt/m/hello") == b"hi"
    assert vfs.stat("/mnt/m").dev == fs.dev != vfs.stat("/mnt").dev


def test_mount_hides_existing_contents_until_unmount(vfs: Vfs) -> None:
    vfs.write_file("/mnt/m/under", b"hidden", create_dirs=True)
    _mounted(vfs)
    assert not vfs.exists("/mnt/m/under")
    vfs.unmount("/mnt/m")
    assert vfs.read_file("/mnt/m/under") == b"hidden"


def test_dotdot_from_a_mount_root_goes_to_the_mount_point_parent(vfs: Vfs) -> None:
    _mounted(vfs)
    vfs.write_file("/mnt/sibling", b"s")
    assert vfs.realpath("/mnt/m/..") == "/mnt"
    assert vfs.read_file("/mnt/m/../sibling") == b"s"
    assert vfs.realpath("..", cwd="/mnt/m") == "/mnt"
    with vfs.open("/mnt/m", O.DIRECTORY) as d:
        assert d.readdir_snapshot().entries()[1].ino == vfs.stat("/mnt").ino


def test_mount_point_must_be_an_existing_directory(vfs: Vfs) -> None:
    with raises_errno("ENOENT"):
        vfs.mount("/nope", MemoryFs())
    with raises_errno("ENOTDIR"):
        vfs.mount("/etc/passwd", MemoryFs())
    with raises_errno("EBUSY"):
        vfs.mount("/", MemoryFs())
    _mounted(vfs)
    with raises_errno("EBUSY"):
        vfs.mount("/mnt/m", MemoryFs())


def test_unmount_of_a_non_mount_point_raises_einval(vfs: Vfs) -> None:
    with raises_errno("EINVAL"):
        vfs.unmount("/tmp")
    with raises_errno("EINVAL"):
        vfs.unmount("/")


def test_unmount_with_nested_mounts_or_open_handles_raises_ebusy(vfs: Vfs) -> None:
    _mounted(vfs)
    vfs.mkdir("/mnt/m/inner")
    vfs.mount("/mnt/m/inner", MemoryFs())
    with raises_errno("EBUSY"):
        vfs.unmount("/mnt/m")
    vfs.unmount("/mnt/m/inner")
    h = vfs.open("/mnt/m/f", O.WRITE | O.CREAT)
    with raises_errno("EBUSY"):
        vfs.unmount("/mnt/m")
    h.close()
    vfs.unmount("/mnt/m")
    assert [m.path for m in vfs.mounts()] == ["/"]


def test_mount_points_cannot_be_removed_or_renamed(vfs: Vfs) -> None:
    _mounted(vfs)
    with raises_errno("EBUSY"):
        vfs.rmdir("/mnt/m")
    with raises_errno("EBUSY"):
        vfs.rename("/mnt/m", "/mnt/x")
    with raises_errno("EBUSY"):
        vfs.rename("/mnt", "/mnt2")
    with raises_errno("EBUSY"):
        vfs.remove_tree("/mnt")
    assert vfs.exists("/mnt/m")


def test_rename_and_link_across_mounts_raise_exdev(vfs: Vfs) -> None:
    _mounted(vfs)
    vfs.write_file("/mnt/m/f", b"x")
    with raises_errno("EXDEV"):
        vfs.rename("/mnt/m/f", "/tmp/f")
    with raises_errno("EXDEV"):
        vfs.link("/mnt/m/f", "/tmp/f")
    with raises_errno("EXDEV"):
        vfs.rename("/etc/passwd", "/mnt/m/passwd")


def test_read_only_mount_refuses_writes_with_erofs(vfs: Vfs) -> None:
    vfs.mkdir("/mnt/ro", recursive=True)
    fs = MemoryFs()
    fs.add_file("/f", b"data")
    vfs.mount("/mnt/ro", fs, read_only=True)
    assert vfs.read_file("/mnt/ro/f") == b"data"
    with raises_errno("EROFS"):
        vfs.write_file("/mnt/ro/f", b"x")
    with raises_errno("EROFS"):
        vfs.open("/mnt/ro/new", O.WRITE | O.CREAT)
    with raises_errno("EROFS"):
        vfs.unlink("/mnt/ro/f")
    assert vfs.mounts()[1].read_only


def test_symlink_into_a_mount_is_followed_across_it(vfs: Vfs) -> None:
    _mounted(vfs)
    vfs.write_file("/mnt/m/f", b"via")
    vfs.symlink("/mnt/m/f", "/tmp/l")
    assert vfs.read_file("/tmp/l") == b"via"


def test_one_shared_frozen_layer_can_be_mounted_in_many_vms() -> None:
    layer = MemoryFs()
    layer.add_file("/ls", b"\0asm-ls", 0o755)
    layer.freeze()
    vms = [Vfs.with_default_tree(FsAccounting()) for _ in range(3)]
    for v in vms:
        v.mount("/bin", layer, read_only=True)
        assert v.read_file("/bin/ls") == b"\0asm-ls"
    assert vms[0].usage() == vms[1].usage()
