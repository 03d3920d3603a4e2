"""host_dir mounts: a guest can never reach a host file outside the mounted dir.

Layout on the host (tmp_path):
    secret.txt            "TOP SECRET"          <- must never be read
    outside/secret2.txt   "OUTSIDE SECRET"      <- must never be read
    outside/file.txt      "OUTSIDE SECRET"
    share/                                      <- mounted at /mnt/host
        hello.txt         "hello"
        sub/file.txt      "inside"
"""

from __future__ import annotations

import os
import random
import stat
import sys
import threading
import time
from pathlib import Path

import pytest
from _kernel_helpers import raises_errno

from agentvm_sidecar.kernel import (
    USER,
    FileKind,
    FsAccounting,
    HostFs,
    KernelError,
    Vfs,
)
from agentvm_sidecar.kernel import (
    OpenFlags as O,
)
from agentvm_sidecar.kernel.rootfs import PASSWD

SECRETS = (b"TOP SECRET", b"OUTSIDE SECRET")


@pytest.fixture
def host(tmp_path: Path) -> Path:
    (tmp_path / "secret.txt").write_bytes(b"TOP SECRET")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret2.txt").write_bytes(b"OUTSIDE SECRET")
    (tmp_path / "outside" / "file.txt").write_bytes(b"OUTSIDE SECRET")
    share = tmp_path / "share"
    (share / "sub").mkdir(parents=True)
    (share / "hello.txt").write_bytes(b"hello")
    (share / "sub" / "file.txt").write_bytes(b"inside")
    return tmp_path


@pytest.fixture
def vm(host: Path) -> Vfs:
    vfs = Vfs.with_default_tree(FsAccounting())
    vfs.mkdir("/mnt/host", recursive=True)
    vfs.mount("/mnt/host", HostFs(host / "share"))
    return vfs


def _assert_no_secret(read) -> None:  # type: ignore[no-untyped-def]
    try:
        data = read()
    except KernelError:
        return
    assert data not in SECRETS and b"SECRET" not in data


def _snapshot(root: Path) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[str(p)] = ("link", os.readlink(p), st.st_mode)
            elif stat.S_ISREG(st.st_mode):
                out[str(p)] = ("file", p.read_bytes(), st.st_mode, st.st_mtime_ns)
            else:
                out[str(p)] = ("other", st.st_mode, st.st_mtime_ns)
    return out


# -- escapes by path ---------------------------------------------------------------


def test_dotdot_out_of_the_mount_lands_in_the_vm_not_the_host(vm: Vfs) -> None:
    with raises_errno("ENOENT"):
        vm.read_file("/mnt/host/../secret.txt")
    vm.write_file("/mnt/secret.txt", b"vm file")
    assert vm.read_file("/mnt/host/../secret.txt") == b"vm file"
    assert vm.realpath("/mnt/host/..") == "/mnt"


def test_dotdot_from_cwd_inside_the_mount_never_reaches_the_host(
    vm: Vfs, host: Path
) -> None:
    for path in (
        "../secret.txt",
        "/../../secret.txt",
        "../../../../../../secret.txt",
        "../" * 64 + str(host / "secret.txt").lstrip("/"),
    ):
        _assert_no_secret(lambda path=path: vm.read_file(path, cwd="/mnt/host/sub"))
    with raises_errno("ENOENT"):
        vm.read_file("/mnt/host/" + "../" * 50 + str(host / "secret.txt").lstrip("/"))


def test_host_absolute_path_is_meaningless_in_the_vm(vm: Vfs, host: Path) -> None:
    with raises_errno("ENOENT"):
        vm.read_file(str(host / "secret.txt"))


# -- escapes by symlink ----------------------------------------------------------------


def test_absolute_host_symlink_is_interpreted_in_the_vm_namespace(
    vm: Vfs, host: Path
) -> None:
    os.symlink(host / "secret.txt", host / "share" / "abs")
    os.symlink("/etc/passwd", host / "share" / "passwd")
    with raises_errno("ENOENT"):
        vm.read_file("/mnt/host/abs")
    assert vm.read_file("/mnt/host/passwd") == PASSWD  # the VM's, not the host's
    assert vm.lstat("/mnt/host/abs").kind is FileKind.SYMLINK
    assert vm.readlink("/mnt/host/abs") == str(host / "secret.txt")


def test_relative_symlink_climbing_out_stops_at_the_vm_parent(
    vm: Vfs, host: Path
) -> None:
    os.symlink("../secret.txt", host / "share" / "rel")
    os.symlink("../../../../../../../../secret.txt", host / "share" / "sub" / "deep")
    os.symlink("../../etc/passwd", host / "share" / "up")
    with raises_errno("ENOENT"):
        vm.read_file("/mnt/host/rel")
    with raises_errno("ENOENT"):
        vm.read_file("/mnt/host/sub/deep")
    assert vm.read_file("/mnt/host/up") == PASSWD


def test_symlink_chain_cannot_escape(vm: Vfs, host: Path) -> None:
    share = host / "share"
    os.symlink("c2", share / "c1")
    os.symlink("sub/c3", share / "c2")
    os.symlink("../../outside/secret2.txt", share / "sub" / "c3")
    os.symlink(str(host / "outside" / "secret2.txt"), share / "sub" / "c4")
    os.symlink("c4", share / "c5")
    for p in ("/mnt/host/c1", "/mnt/host/c5"):
        _assert_no_secret(lambda p=p: vm.read_file(p))
        with raises_errno("ENOENT"):
            vm.read_file(p)


def test_symlink_to_a_directory_outside_does_not_list_it(vm: Vfs, host: Path) -> None:
    os.symlink(host / "outside", host / "share" / "outdir")
    os.symlink("../outside", host / "share" / "outdir_rel")
    for p in ("/mnt/host/outdir", "/mnt/host/outdir_rel"):
        with raises_errno("ENOENT"):
            vm.readdir(p)
        with raises_errno("ENOENT"):
            vm.read_file(p + "/secret2.txt")
    listing = vm.readdir_recursive("/mnt/host")
    assert all("secret2" not in rel for rel, _ in listing)


def test_guest_created_symlinks_are_also_vm_relative(vm: Vfs, host: Path) -> None:
    vm.symlink(str(host / "secret.txt"), "/mnt/host/mine")
    assert os.readlink(host / "share" / "mine") == str(host / "secret.txt")
    with raises_errno("ENOENT"):
        vm.read_file("/mnt/host/mine")


# -- escapes by race --------------------------------------------------------------------


def test_directory_swapped_for_a_symlink_after_lookup_is_not_followed(
    vm: Vfs, host: Path
) -> None:
    share = host / "share"
    d = vm.open("/mnt/host/sub", O.DIRECTORY)
    fs = HostFs(share)
    sub_node = fs.lookup(fs.root(), "sub")
    assert sub_node is not None and sub_node.kind is FileKind.DIRECTORY
    os.rename(share / "sub", share / "sub.real")
    os.symlink(host / "outside", share / "sub")
    # Operations on nodes resolved before the swap refuse the symlink.
    with pytest.raises(KernelError) as exc:
        d.readdir_snapshot()
    assert exc.value.errno in ("ENOTDIR", "ELOOP")
    for op in (
        lambda: fs.lookup(sub_node, "secret2.txt"),
        lambda: fs.readdir(sub_node),
        lambda: fs.create(sub_node, "planted", 0o644, 0, 0),
    ):
        with pytest.raises(KernelError) as exc:
            op()
        assert exc.value.errno in ("ENOTDIR", "ELOOP")
    # A fresh resolution sees the symlink and interprets it in the VM.
    with raises_errno("ENOENT"):
        vm.read_file("/mnt/host/sub/secret2.txt")
    assert not (host / "outside" / "planted").exists()
    d.close()
    fs.close()


def test_flipping_a_directory_and_a_symlink_never_exposes_the_secret(
    vm: Vfs, host: Path
) -> None:
    share = host / "share"
    stop = threading.Event()
    flips = 0

    def flipper() -> None:
        nonlocal flips
        rng = random.Random(1)
        while not stop.is_set():
            os.rename(share / "sub", share / "sub.real")
            target = str(host / "outside") if rng.random() < 0.5 else "../outside"
            os.symlink(target, share / "sub")
            os.unlink(share / "sub")
            os.rename(share / "sub.real", share / "sub")
            flips += 1

    t = threading.Thread(target=flipper)
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # interleave the two threads finely
    t.start()
    seen_ok = errors = 0
    fs = HostFs(share)
    try:
        for _ in range(500):
            time.sleep(0.0001)  # let the flipper run between reads
            try:
                data = vm.read_file("/mnt/host/sub/file.txt")
                assert data == b"inside"
                seen_ok += 1
            except KernelError:
                errors += 1
            # Also hammer the node-level path used by open handles.
            node = fs.lookup(fs.root(), "sub")
            if node is not None and node.kind is FileKind.DIRECTORY:
                try:
                    child = fs.lookup(node, "file.txt")
                    if child is not None:
                        f = fs.open(child, True, False)
                        try:
                            assert f.pread(100, 0) == b"inside"
                        finally:
                            f.close()
                except KernelError:
                    pass
    finally:
        stop.set()
        t.join()
        sys.setswitchinterval(old_interval)
        fs.close()
    assert seen_ok + errors == 500
    assert flips > 50


# -- escapes by link / rename -----------------------------------------------------------------


def test_hard_links_and_renames_across_the_mount_raise_exdev(
    vm: Vfs, host: Path
) -> None:
    with raises_errno("EXDEV"):
        vm.link("/mnt/host/hello.txt", "/tmp/h")
    with raises_errno("EXDEV"):
        vm.link("/etc/passwd", "/mnt/host/passwd")
    with raises_errno("EXDEV"):
        vm.rename("/mnt/host/hello.txt", "/tmp/h")
    with raises_errno("EXDEV"):
        vm.rename("/tmp", "/mnt/host/tmp")
    assert (host / "share" / "hello.txt").read_bytes() == b"hello"
    assert not (host / "share" / "passwd").exists()


def test_links_and_renames_inside_the_mount_work_on_the_host(
    vm: Vfs, host: Path
) -> None:
    vm.link("/mnt/host/hello.txt", "/mnt/host/sub/hello2")
    assert os.stat(host / "share" / "sub" / "hello2").st_nlink == 2
    vm.rename("/mnt/host/sub", "/mnt/host/moved")
    assert (host / "share" / "moved" / "file.txt").read_bytes() == b"inside"
    with raises_errno("EINVAL"):
        vm.rename("/mnt/host/moved", "/mnt/host/moved/deeper")


# -- read-only ---------------------------------------------------------------------------------


def test_read_only_host_mount_refuses_every_mutation_and_leaves_host_unchanged(
    host: Path,
) -> None:
    os.symlink("hello.txt", host / "share" / "ln")
    vm = Vfs.with_default_tree(FsAccounting())
    vm.mkdir("/mnt/ro", recursive=True)
    vm.mount("/mnt/ro", HostFs(host / "share", read_only=True))
    before = _snapshot(host)
    h = vm.open("/mnt/ro/hello.txt")
    d = vm.open("/mnt/ro/sub", O.DIRECTORY)
    mutations = [
        lambda: vm.write_file("/mnt/ro/hello.txt", b"x"),
        lambda: vm.write_file("/mnt/ro/new.txt", b"x"),
        lambda: vm.open("/mnt/ro/hello.txt", O.WRITE),
        lambda: vm.open("/mnt/ro/hello.txt", O.APPEND),
        lambda: vm.open("/mnt/ro/hello.txt", O.READ | O.TRUNC),
        lambda: vm.open("/mnt/ro/new.txt", O.READ | O.CREAT),
        lambda: vm.mkdir("/mnt/ro/d"),
        lambda: vm.mkdir("/mnt/ro/sub/a/b", recursive=True),
        lambda: vm.rmdir("/mnt/ro/sub"),
        lambda: vm.unlink("/mnt/ro/hello.txt"),
        lambda: vm.unlink("/mnt/ro/ln"),
        lambda: vm.rename("/mnt/ro/hello.txt", "/mnt/ro/bye.txt"),
        lambda: vm.symlink("x", "/mnt/ro/s"),
        lambda: vm.link("/mnt/ro/hello.txt", "/mnt/ro/h2"),
        lambda: vm.chmod("/mnt/ro/hello.txt", 0o777),
        lambda: vm.utimes("/mnt/ro/hello.txt", 1, 1),
        lambda: vm.utimes("/mnt/ro/sub", None, None),
        lambda: vm.truncate("/mnt/ro/hello.txt", 0),
        lambda: vm.remove_tree("/mnt/ro/sub"),
        lambda: h.set_times(1, 1),
        lambda: h.chmod(0o600),
        lambda: d.chmod(0o700),
    ]
    for i, op in enumerate(mutations):
        with pytest.raises(KernelError) as exc:
            op()
        assert exc.value.errno == "EROFS", (i, exc.value)
    with raises_errno("EBADF"):
        h.write(b"x")
    assert h.read() == b"hello"
    h.close()
    d.close()
    assert _snapshot(host) == before


def test_read_only_hostfs_refuses_mutation_even_through_a_writable_mount(
    host: Path,
) -> None:
    vm = Vfs.with_default_tree(FsAccounting())
    fs = HostFs(host / "share", read_only=True)
    vm.mount("/tmp", fs, read_only=False)
    with raises_errno("EROFS"):
        vm.write_file("/tmp/x", b"")
    with raises_errno("EROFS"):
        fs.unlink(fs.root(), "hello.txt")
    assert (host / "share" / "hello.txt").exists()


# -- special files and node hygiene -----------------------------------------------------------------


def test_host_fifo_is_listed_but_refused_with_eacces(vm: Vfs, host: Path) -> None:
    os.mkfifo(host / "share" / "fifo")
    assert vm.lstat("/mnt/host/fifo").kind is FileKind.FIFO
    assert ("fifo", FileKind.FIFO) in [
        (e.name, e.kind) for e in vm.readdir("/mnt/host")
    ]
    with raises_errno("EACCES"):
        vm.open("/mnt/host/fifo")
    with raises_errno("EACCES"):
        vm.open("/mnt/host/fifo", O.WRITE)
    with raises_errno("EACCES"):
        vm.read_file("/mnt/host/fifo")


def test_hostfs_rejects_multi_component_and_dot_names(host: Path) -> None:
    fs = HostFs(host / "share")
    for bad in ("..", ".", "", "sub/file.txt", "../secret.txt", "a\0b"):
        with raises_errno("EINVAL"):
            fs.lookup(fs.root(), bad)
    with raises_errno("EINVAL"):
        fs.create(fs.root(), "../planted", 0o644, 0, 0)
    assert not (host / "planted").exists()
    fs.close()
    with raises_errno("EIO"):
        fs.lookup(fs.root(), "hello.txt")


def test_unmount_closes_the_host_root(vm: Vfs) -> None:
    vm.unmount("/mnt/host")
    assert vm.readdir("/mnt/host") == []


# -- one view, both directions ---------------------------------------------------------------------


def test_vfs_writes_land_in_the_host_directory(vm: Vfs, host: Path) -> None:
    share = host / "share"
    vm.write_file("/mnt/host/new/deep.txt", b"from vm", create_dirs=True)
    assert (share / "new" / "deep.txt").read_bytes() == b"from vm"
    with vm.open("/mnt/host/hello.txt", O.APPEND) as h:
        h.write(b" world")
    assert (share / "hello.txt").read_bytes() == b"hello world"
    vm.symlink("hello.txt", "/mnt/host/ln")
    assert os.readlink(share / "ln") == "hello.txt"
    assert vm.read_file("/mnt/host/ln") == b"hello world"
    vm.chmod("/mnt/host/hello.txt", 0o600)
    assert stat.S_IMODE(os.stat(share / "hello.txt").st_mode) == 0o600
    vm.utimes("/mnt/host/hello.txt", 1_000_000_000, 2_000_000_000)
    assert os.stat(share / "hello.txt").st_mtime_ns == 2_000_000_000
    vm.truncate("/mnt/host/hello.txt", 2)
    assert (share / "hello.txt").read_bytes() == b"he"
    vm.unlink("/mnt/host/ln")
    vm.remove_tree("/mnt/host/new")
    assert not (share / "new").exists() and not (share / "ln").exists()


def test_host_side_changes_are_visible_in_the_vm(vm: Vfs, host: Path) -> None:
    share = host / "share"
    (share / "made-on-host").mkdir()
    (share / "made-on-host" / "f").write_bytes(b"host data")
    assert vm.read_file("/mnt/host/made-on-host/f") == b"host data"
    assert {e.name for e in vm.readdir("/mnt/host")} >= {
        "hello.txt",
        "sub",
        "made-on-host",
    }
    st = vm.stat("/mnt/host/made-on-host/f")
    assert st.size == 9 and st.ino == os.stat(share / "made-on-host" / "f").st_ino
    (share / "made-on-host" / "f").unlink()
    assert not vm.exists("/mnt/host/made-on-host/f")


def test_guest_user_owns_the_host_mount(vm: Vfs, host: Path) -> None:
    st = vm.stat("/mnt/host/hello.txt")
    assert (st.uid, st.gid) == (1000, 1000)
    vm.write_file("/mnt/host/by-user", b"u", cred=USER)
    assert (host / "share" / "by-user").read_bytes() == b"u"


def test_unlinked_open_host_file_stays_readable(vm: Vfs, host: Path) -> None:
    h = vm.open("/mnt/host/hello.txt", O.READ | O.WRITE)
    vm.unlink("/mnt/host/hello.txt")
    assert not (host / "share" / "hello.txt").exists()
    assert h.read() == b"hello"
    h.pwrite(b"J", 0)
    assert h.pread(5, 0) == b"Jello"
    h.close()


def test_host_directory_handle_lists_with_dot_entries(vm: Vfs, host: Path) -> None:
    with vm.open("/mnt/host", O.DIRECTORY) as d:
        names = [e.name for e in d.readdir_snapshot().entries()]
        assert names[:2] == [".", ".."]
        assert set(names[2:]) == {"hello.txt", "sub"}
        assert d.readdir_snapshot().entries()[1].ino == vm.stat("/mnt").ino


# -- the mount root, other filesystems, host modes ------------------------------------
def test_a_mount_root_reached_through_a_symlink_is_refused(host: Path) -> None:
    # A guest of an earlier VM could have planted this link in a directory it could write.
    (host / "share" / "planted").symlink_to(host / "outside")
    with raises_errno("ELOOP"):
        HostFs(host / "share" / "planted")
    with raises_errno("ELOOP"):
        HostFs(host / "share" / "planted" / "deeper")
    assert HostFs(host / "share" / "sub").readdir(HostFs(host / "share" / "sub").root())


@pytest.mark.parametrize("walk", ["openat2", "per-component"])
def test_another_filesystem_mounted_below_the_root_cannot_be_entered(monkeypatch, walk: str) -> None:
    if walk == "per-component":
        monkeypatch.setattr("agentvm_sidecar.kernel.openat2.available", lambda: False)
    vfs = Vfs.with_default_tree(FsAccounting())
    vfs.mkdir("/hostroot", recursive=True)
    vfs.mount("/hostroot", HostFs("/", read_only=True))
    assert vfs.exists("/hostroot/etc")
    with raises_errno("EXDEV"):
        vfs.read_file("/hostroot/proc/self/environ")
    with raises_errno("EXDEV"):
        vfs.readdir("/hostroot/proc")


def test_guests_cannot_set_setuid_setgid_or_sticky_bits_on_the_host(vm: Vfs, host: Path) -> None:
    vm.write_file("/mnt/host/tool", b"x", mode=0o6755)
    assert stat.S_IMODE((host / "share" / "tool").stat().st_mode) & 0o7000 == 0
    vm.chmod("/mnt/host/tool", 0o4777)
    assert stat.S_IMODE((host / "share" / "tool").stat().st_mode) == 0o777
    vm.mkdir("/mnt/host/d", 0o3777)
    assert stat.S_IMODE((host / "share" / "d").stat().st_mode) & 0o7000 == 0


def test_a_deep_directory_chain_costs_one_host_open_per_component(vm: Vfs, host: Path, monkeypatch) -> None:
    # Each lookup used to re-open the chain from the root one openat per level:
    # O(depth^2) host calls under the VM lock. openat2 resolves a chain in one.
    from agentvm_sidecar.kernel import openat2

    if not openat2.available():
        pytest.skip("this kernel has no openat2")
    depth = 300
    deep = "/".join(["d"] * depth)
    (host / "share" / deep).mkdir(parents=True)
    (host / "share" / deep / "leaf").write_bytes(b"leaf")
    calls = []
    real = openat2.openat2
    monkeypatch.setattr(openat2, "openat2", lambda *a, **k: calls.append(a) or real(*a, **k))
    assert vm.read_file(f"/mnt/host/{deep}/leaf") == b"leaf"
    assert depth <= len(calls) <= 2 * depth + 5
