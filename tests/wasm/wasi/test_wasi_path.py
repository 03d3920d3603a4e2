"""path_*: resolution from tagged preopens and directory fds, creation modes, errors."""

from __future__ import annotations

import struct

from agentvm_sidecar.kernel.fstypes import USER

from .conftest import PRE0, PRE1, E, Guest

RO, WO, RW = 0x3FBFFEBE, 0x3FFFBFFD, 0x3FFFFFFF
CREAT, DIRECTORY, EXCL, TRUNC = 1, 2, 4, 8
FOLLOW = 1


def pcall(g: Guest, name: str, dirfd: int, path: str, *rest: int) -> int:
    p, n = g.put(path)
    return g.call(name, dirfd, p, n, *rest)


def pstat(g: Guest, dirfd: int, path: str, follow: bool = True) -> tuple[int, int, int] | int:
    p, n = g.put(path)
    ret = g.alloc(64)
    err = g.call("path_filestat_get", dirfd, FOLLOW if follow else 0, p, n, ret)
    if err:
        return err
    _dev, ino, ft, _nlink, size = struct.unpack("<QQB7xQQ", g.read(ret, 40))
    return ino, ft, size


def test_open_relative_to_each_preopen(guest: Guest):
    guest.kernel.vfs.write_file("/tmp/a", b"in tmp", cred=USER)
    fd1 = guest.open("a", rights=RO)
    fd2 = guest.open("tmp/a", rights=RO, dirfd=PRE1)
    fd3 = guest.open("../tmp/./a", rights=RO)
    for fd in (fd1, fd2, fd3):
        assert guest.read_fd(fd, 100) == (0, b"in tmp")
    assert guest.open_errno("a", dirfd=0x40000042) == E["EBADF"]
    assert guest.open_errno("a", dirfd=7) == E["EBADF"]
    assert guest.open_errno("", rights=RO) == E["ENOENT"]
    assert guest.open_errno("missing", rights=RO) == E["ENOENT"]


def test_open_relative_to_directory_fd(guest: Guest):
    vfs = guest.kernel.vfs
    vfs.mkdir("/tmp/d", cred=USER)
    vfs.write_file("/tmp/d/in", b"inner", cred=USER)
    dfd = guest.open("d", oflags=DIRECTORY, rights=RO)
    fd = guest.open("in", rights=RO, dirfd=dfd)
    assert guest.read_fd(fd, 10) == (0, b"inner")
    assert guest.open_errno("in", rights=RO, dirfd=fd) == E["ENOTDIR"]  # not a directory fd
    assert pcall(guest, "path_create_directory", dfd, "made") == 0
    assert vfs.stat("/tmp/d/made").is_dir


def test_creation_mode_latch_and_umask(guest: Guest):
    vfs = guest.kernel.vfs
    guest.open("plain", oflags=CREAT, rights=WO)
    assert vfs.stat("/tmp/plain").perm == 0o644  # 0o666 & ~0o022
    guest.proc.pending_open_mode = 0o700
    guest.open("secret", oflags=CREAT, rights=WO)
    assert vfs.stat("/tmp/secret").perm == 0o700
    assert guest.proc.pending_open_mode is None
    # The latch is consumed even by an open that does not create.
    guest.proc.pending_open_mode = 0o600
    guest.open("plain", rights=RO)
    assert guest.proc.pending_open_mode is None
    guest.proc.umask = 0o077
    guest.open("private", oflags=CREAT, rights=WO)
    assert vfs.stat("/tmp/private").perm == 0o600
    assert pcall(guest, "path_create_directory", PRE0, "dir") == 0
    assert vfs.stat("/tmp/dir").perm == 0o700
    assert vfs.stat("/tmp/dir").uid == USER.uid


def test_excl_trunc_directory_flags(guest: Guest):
    fd = guest.open("f", oflags=CREAT | EXCL, rights=RW)
    guest.write(fd, b"content")
    assert guest.open_errno("f", oflags=CREAT | EXCL, rights=RW) == E["EEXIST"]
    assert guest.open_errno("f", oflags=DIRECTORY, rights=RO) == E["ENOTDIR"]
    guest.open("f", oflags=TRUNC, rights=WO)
    assert guest.kernel.vfs.read_file("/tmp/f") == b""
    assert guest.open_errno("f", oflags=0x10, rights=RO) == E["EINVAL"]


def test_permissions_are_checked_with_process_cred(guest: Guest):
    guest.kernel.vfs.write_file("/etc/rootonly", b"x", mode=0o600)
    assert guest.open_errno("etc/rootonly", rights=RO, dirfd=PRE1) == E["EACCES"]
    assert guest.open_errno("etc/new", oflags=CREAT, rights=WO, dirfd=PRE1) == E["EACCES"]
    assert pcall(guest, "path_create_directory", PRE1, "etc/nope") == E["EACCES"]


def test_symlinks_readlink_and_nofollow(guest: Guest):
    vfs = guest.kernel.vfs
    vfs.write_file("/tmp/target", b"T", cred=USER)
    t, tn = guest.put("target")
    p, n = guest.put("ln")
    assert guest.call("path_symlink", t, tn, PRE0, p, n) == 0
    assert vfs.readlink("/tmp/ln") == "target"
    assert guest.call("path_symlink", t, tn, PRE0, p, n) == E["EEXIST"]
    # readlink, truncated to the buffer like readlink(2)
    buf, used = guest.alloc(64), guest.alloc(4)
    assert guest.call("path_readlink", PRE0, p, n, buf, 64, used) == 0
    assert guest.read(buf, guest.u32(used)) == b"target"
    assert guest.call("path_readlink", PRE0, p, n, buf, 3, used) == 0
    assert guest.u32(used) == 3 and guest.read(buf, 3) == b"tar"
    tp, tl = guest.put("target")
    assert guest.call("path_readlink", PRE0, tp, tl, buf, 64, used) == E["EINVAL"]
    # stat follows or not
    ino_t = vfs.stat("/tmp/target").ino
    assert pstat(guest, PRE0, "ln") == (ino_t, 4, 1)
    ino, ft, _ = pstat(guest, PRE0, "ln", follow=False)
    assert ft == 7 and ino != ino_t
    # open follows with SYMLINK_FOLLOW, ELOOP without
    assert guest.read_fd(guest.open("ln", rights=RO), 5) == (0, b"T")
    assert guest.open_errno("ln", rights=RO, lookup=0) == E["ELOOP"]


def test_unlink_rmdir_rename_link(guest: Guest):
    vfs = guest.kernel.vfs
    vfs.mkdir("/tmp/d", cred=USER)
    vfs.mkdir("/tmp/e", cred=USER)
    vfs.write_file("/tmp/d/f", b"F", cred=USER)
    dfd = guest.open("d", oflags=DIRECTORY, rights=RO)
    efd = guest.open("e", oflags=DIRECTORY, rights=RO)
    # rename across two different dirfds
    o, on = guest.put("f")
    nw, nn = guest.put("g")
    assert guest.call("path_rename", dfd, o, on, efd, nw, nn) == 0
    assert vfs.read_file("/tmp/e/g") == b"F" and not vfs.exists("/tmp/d/f")
    assert guest.call("path_rename", dfd, o, on, efd, nw, nn) == E["ENOENT"]
    # hard link from a preopen-relative path to a directory fd
    s, sn = guest.put("e/g")
    t, tn = guest.put("h")
    assert guest.call("path_link", PRE0, 0, s, sn, dfd, t, tn) == 0
    assert vfs.stat("/tmp/d/h").ino == vfs.stat("/tmp/e/g").ino
    assert vfs.stat("/tmp/e/g").nlink == 2
    assert guest.call("path_link", PRE0, 0, s, sn, dfd, t, tn) == E["EEXIST"]
    # unlink / rmdir
    assert pcall(guest, "path_unlink_file", PRE0, "d/h") == 0
    assert pcall(guest, "path_unlink_file", PRE0, "d/h") == E["ENOENT"]
    assert pcall(guest, "path_unlink_file", PRE0, "d") == E["EISDIR"]
    assert pcall(guest, "path_unlink_file", PRE0, "e/g/") == E["ENOTDIR"]
    assert pcall(guest, "path_remove_directory", PRE0, "e") == E["ENOTEMPTY"]
    assert pcall(guest, "path_remove_directory", PRE0, "e/g") == E["ENOTDIR"]
    assert pcall(guest, "path_unlink_file", PRE0, "e/g") == 0
    assert pcall(guest, "path_remove_directory", PRE0, "e") == 0
    assert not vfs.exists("/tmp/e")


def test_link_follow_flag(guest: Guest):
    vfs = guest.kernel.vfs
    vfs.write_file("/tmp/real", b"R", cred=USER)
    vfs.symlink("real", "/tmp/sl", cred=USER)
    s, sn = guest.put("sl")
    a, an = guest.put("hard-to-link")
    b, bn = guest.put("hard-to-file")
    assert guest.call("path_link", PRE0, 0, s, sn, PRE0, a, an) == 0
    assert guest.call("path_link", PRE0, FOLLOW, s, sn, PRE0, b, bn) == 0
    assert vfs.lstat("/tmp/hard-to-link").is_symlink
    assert vfs.lstat("/tmp/hard-to-file").ino == vfs.stat("/tmp/real").ino


def test_path_filestat_set_times(guest: Guest):
    guest.open("t", oflags=CREAT, rights=WO)
    p, n = guest.put("t")
    assert guest.call("path_filestat_set_times", PRE0, FOLLOW, p, n, 7, 9, 1 | 4) == 0
    st = guest.kernel.vfs.stat("/tmp/t")
    assert (st.atime_ns, st.mtime_ns) == (7, 9)
    assert guest.call("path_filestat_set_times", PRE0, FOLLOW, p, n, 0, 0, 2 | 8) == 0
    assert guest.kernel.vfs.stat("/tmp/t").mtime_ns > 9
    assert guest.call("path_filestat_set_times", PRE0, FOLLOW, p, n, 0, 0, 4 | 8) == E["EINVAL"]
    guest.kernel.vfs.write_file("/etc/theirs", b"")
    q, qn = guest.put("etc/theirs")
    assert guest.call("path_filestat_set_times", PRE1, FOLLOW, q, qn, 1, 1, 1 | 4) == E["EPERM"]


def test_path_filestat_get_dot_and_dotdot(guest: Guest):
    vfs = guest.kernel.vfs
    assert pstat(guest, PRE0, ".")[:2] == (vfs.stat("/tmp").ino, 3)
    assert pstat(guest, PRE0, "..")[:2] == (vfs.stat("/").ino, 3)
    assert pstat(guest, PRE0, "nope") == E["ENOENT"]


def test_path_bad_pointers(guest: Guest):
    ret = guest.alloc(4)
    assert guest.call("path_open", PRE0, 1, guest.mem_size - 2, 8, 0, RO, RO, 0, ret) == E["EFAULT"]
    p, n = guest.put("x")
    assert guest.call("path_open", PRE0, 1, p, n, CREAT, RW, RW, 0, guest.mem_size) == E["EFAULT"]
    assert not guest.kernel.vfs.exists("/tmp/x")  # nothing created before the fault
    assert guest.call("path_filestat_get", PRE0, 1, p, n, guest.mem_size - 8) == E["EFAULT"]
