"""host_fs against a real kernel: the §4.0 path rule, modes, sizes, rdev, chmod,
chown, ftruncate, the open-mode latch, statfs and remount."""

from __future__ import annotations

import pytest

from agentvm_sidecar.kernel.descriptions import FileDescription
from agentvm_sidecar.kernel.fstypes import ROOT, OpenFlags
from agentvm_sidecar.kernel.fstypes import USER as USER_CRED

from .conftest import BAD_PTR, PRE0, PRE1, E, Guest

NO_DIRFD = 0xFFFFFFFF


@pytest.fixture
def files(kernel) -> None:
    vfs = kernel.vfs
    vfs.write_file("/tmp/f", b"hello", mode=0o640, cred=USER_CRED)
    vfs.mkdir("/tmp/d", 0o750, cred=USER_CRED)
    vfs.write_file("/tmp/d/inner", b"123456789", mode=0o600, cred=USER_CRED)
    vfs.symlink("f", "/tmp/link", cred=USER_CRED)


def open_fd(g: Guest, path: str, flags: OpenFlags = OpenFlags.READ) -> int:
    handle = g.kernel.vfs.open(path, flags, cwd=g.proc.cwd, cred=g.proc.cred)
    return g.proc.fds.install(FileDescription(handle))


def mode(g: Guest, fd: int, path: str, follow: int = 1) -> int:
    p, n = g.put(path)
    return g.f("path_mode", fd, p, n, follow) & 0xFFFFFFFF


# -- resolution rule ---------------------------------------------------------------------------
def test_resolution_rule(guest: Guest, files) -> None:
    assert mode(guest, 12345, "/tmp/f") == 0o100640  # absolute: fd ignored
    assert mode(guest, PRE0, "f") == 0o100640  # preopen #0 = cwd /tmp
    assert mode(guest, PRE1, "tmp/f") == 0o100640  # preopen #1 = /
    assert mode(guest, 0x40000005, "f") == 0  # no preopen #2
    assert mode(guest, NO_DIRFD, "f") == 0o100640  # -1: cwd
    assert mode(guest, 3, "f") == 0o100640  # legacy fd 3 (not open): cwd
    d = open_fd(guest, "/tmp/d")
    assert d == 0
    assert mode(guest, d, "inner") == 0o100600  # open directory fd
    assert mode(guest, 7, "f") == 0  # not open, not 3: unknown
    f = open_fd(guest, "/tmp/f")
    assert mode(guest, f, "f") == 0  # a regular file is no base directory


def test_fd3_open_directory_is_that_directory(guest: Guest, files) -> None:
    for _ in range(3):
        open_fd(guest, "/etc")
    assert open_fd(guest, "/tmp/d") == 3
    assert mode(guest, 3, "inner") == 0o100600
    assert mode(guest, 3, "f") == 0


def test_modes(guest: Guest, files, kernel) -> None:
    assert mode(guest, PRE0, "d") == 0o040750
    assert mode(guest, PRE0, "link", 0) & 0o170000 == 0o120000
    assert mode(guest, PRE0, "link", 1) == 0o100640
    assert mode(guest, PRE0, "missing") == 0
    assert mode(guest, PRE0, "/dev/null") == 0o020666
    assert guest.f("path_mode", PRE0, BAD_PTR, 100, 1) == 0
    r, w = kernel.make_pipe()
    rfd = guest.proc.fds.install(r)
    guest.proc.fds.install(w)
    assert guest.f("fd_mode", rfd) == 0o010600
    assert guest.f("fd_mode", open_fd(guest, "/tmp/f")) == 0o100640
    assert guest.f("fd_mode", 99) == 0
    assert guest.f("fd_mode", PRE0) == 0o041777  # the preopen itself: /tmp


def test_sizes(guest: Guest, files, kernel) -> None:
    p, n = guest.put("d/inner")
    assert guest.f("path_size", PRE0, p, n, 1) == 9
    p, n = guest.put("nope")
    assert guest.f("path_size", PRE0, p, n, 1) == -1
    fd = open_fd(guest, "/tmp/f")
    assert guest.f("fd_size", fd) == 5
    r, w = kernel.make_pipe()
    rfd = guest.proc.fds.install(r)
    guest.proc.fds.install(w)
    assert guest.f("fd_size", rfd) == -1
    assert guest.f("fd_size", 77) == -1


def test_rdev(guest: Guest, files) -> None:
    def rdev(fd: int, path: str) -> int:
        p, n = guest.put(path)
        return guest.f("path_rdev", fd, p, n, 1)

    assert rdev(3, "/dev/null") == 0x103
    assert rdev(PRE1, "dev/urandom") == 0x109
    assert rdev(3, "f") == 0
    assert rdev(3, "/nope") == 0


# -- chmod -------------------------------------------------------------------------------------
def test_chmod(guest: Guest, files, kernel) -> None:
    p, n = guest.put("link")
    assert guest.f("chmod", 3, p, n, 0o104700) == 0  # follows the symlink; type bits ignored
    assert kernel.vfs.stat("/tmp/f").mode == 0o104700
    p, n = guest.put("/etc/passwd")
    assert guest.f("chmod", 3, p, n, 0o777) == E["EPERM"]
    p, n = guest.put("missing")
    assert guest.f("chmod", 3, p, n, 0o777) == E["ENOENT"]
    assert guest.f("chmod", 9, p, n, 0o777) == E["EBADF"]
    root = Guest(kernel, cred=ROOT)
    p, n = root.put("/etc/passwd")
    assert root.f("chmod", 3, p, n, 0o600) == 0
    assert kernel.vfs.stat("/etc/passwd").perm == 0o600


# -- ftruncate -----------------------------------------------------------------------------------
def test_ftruncate(guest: Guest, files, kernel) -> None:
    fd = open_fd(guest, "/tmp/f", OpenFlags.READ | OpenFlags.WRITE)
    desc = guest.proc.fds.get(fd)
    desc.seek(3, 0)
    assert guest.f("ftruncate", fd, 10) == 0
    assert kernel.vfs.read_file("/tmp/f") == b"hello" + bytes(5)
    assert guest.f("ftruncate", fd, 2) == 0
    assert kernel.vfs.read_file("/tmp/f") == b"he"
    assert desc.tell() == 3  # the offset does not move
    assert guest.f("ftruncate", fd, -1) == E["EINVAL"]
    ro = open_fd(guest, "/tmp/f")
    assert guest.f("ftruncate", ro, 0) == E["EINVAL"]
    assert guest.f("ftruncate", 55, 0) == E["EBADF"]
    r, _ = kernel.make_pipe()
    assert guest.f("ftruncate", guest.proc.fds.install(r), 0) == E["EINVAL"]


def test_set_open_mode_latches(guest: Guest) -> None:
    assert guest.proc.pending_open_mode is None
    assert guest.f("set_open_mode", 0o100644) == 0
    assert guest.proc.pending_open_mode == 0o644


# -- owners --------------------------------------------------------------------------------------
def test_path_owner(guest: Guest, files) -> None:
    uid, gid = guest.out(2)
    p, n = guest.put("/etc/passwd")
    assert guest.f("path_owner", NO_DIRFD, p, n, 1, uid, gid) == 0
    assert (guest.u32(uid), guest.u32(gid)) == (0, 0)
    p, n = guest.put("f")
    assert guest.f("path_owner", -1, p, n, 1, uid, gid) == 0  # -1 sign-extended is "no dirfd"
    assert (guest.u32(uid), guest.u32(gid)) == (1000, 1000)
    p, n = guest.put("nope")
    assert guest.f("path_owner", NO_DIRFD, p, n, 1, uid, gid) == E["ENOENT"]
    p, n = guest.put("f")
    assert guest.f("path_owner", NO_DIRFD, p, n, 1, uid, BAD_PTR) == E["EFAULT"]


def test_path_chown(guest: Guest, files, kernel) -> None:
    def chown(g: Guest, path: str, uid: int, gid: int) -> int:
        p, n = g.put(path)
        return g.f("path_chown", NO_DIRFD, p, n, uid, gid, 1)

    assert chown(guest, "f", 0xFFFFFFFF, 0xFFFFFFFF) == 0
    assert chown(guest, "f", 1000, 1000) == 0  # no change: allowed
    assert chown(guest, "f", 0, 0xFFFFFFFF) == E["EPERM"]  # giving a file away
    assert chown(guest, "f", 0xFFFFFFFF, 0) == E["EPERM"]  # a group we are not in
    assert chown(guest, "/etc/passwd", 0xFFFFFFFF, 0xFFFFFFFF) == E["EPERM"]  # not the owner
    assert chown(guest, "nope", 1, 1) == E["ENOENT"]
    root = Guest(kernel, cred=ROOT)
    assert chown(root, "/tmp/f", 1000, 1000) == 0
    assert chown(root, "/tmp/f", 1, 2) == E["ENOSYS"]  # XX: no filesystem stores owners yet


# -- statfs, remount -------------------------------------------------------------------------------
def test_statfs(guest: Guest, kernel) -> None:
    outs = [guest.alloc(8, b"\xee" * 8) for _ in range(5)]
    p, n = guest.put("/tmp")
    assert guest.f("path_statfs", 3, p, n, *outs) == 0
    total, used, avail, inodes, free = (guest.u64(o) for o in outs)
    usage = kernel.accounting.usage()
    assert total == kernel.limits.fs_max_bytes and used == usage.bytes_used > 0
    assert avail == total - used
    assert inodes == kernel.limits.fs_max_inodes and free == inodes - usage.inodes_used
    before = [guest.u64(o) for o in outs]
    assert guest.f("path_statfs", 3, p, n, *outs[:4], BAD_PTR) == E["EFAULT"]
    p, n = guest.put("/nope")
    assert guest.f("path_statfs", 3, p, n, *outs) == E["ENOENT"]
    assert [guest.u64(o) for o in outs] == before


def test_remount_is_eperm(guest: Guest) -> None:
    p, n = guest.put("/")
    o, m = guest.put("ro")
    assert guest.f("remount", p, n, o, m) == E["EPERM"]
