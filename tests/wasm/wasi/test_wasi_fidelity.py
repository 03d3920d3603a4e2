"""Where preview1 behaviour follows the specification (WASI legacy/preview1
docs.md) and wasmtime's implementation: rights as opened, shrink-only rights,
sync flags kept, no position on a directory, ESPIPE on pipes, absolute paths
refused, socket calls on a bad fd."""

from __future__ import annotations

import pytest

from .conftest import PRE0, E, Guest
from .test_wasi_fd import CREAT, DIRECTORY, RO, RW, fdstat, readdir

R = {  # witx $rights bits
    "fd_read": 1 << 1, "fd_seek": 1 << 2, "fd_tell": 1 << 5, "fd_write": 1 << 6, "path_open": 1 << 13,
    "fd_readdir": 1 << 14, "fd_filestat_set_size": 1 << 22,
}
DSYNC, RSYNC, SYNC = 1 << 1, 1 << 3, 1 << 4


def _pipe(g: Guest) -> tuple[int, int]:
    r, w = g.kernel.make_pipe()
    return g.proc.fds.install(r), g.proc.fds.install(w)


def test_a_directory_fd_has_directory_rights_only(guest: Guest):
    guest.kernel.vfs.mkdir("/tmp/d")
    fd = guest.open("d", oflags=DIRECTORY, rights=RO)
    _ft, _flags, base, inheriting = fdstat(guest, fd)
    for right in ("fd_read", "fd_write", "fd_seek", "fd_tell", "fd_filestat_set_size"):
        assert not base & R[right], right
    assert base & R["fd_readdir"] and base & R["path_open"]
    assert inheriting & R["fd_read"] and inheriting & R["fd_write"]  # what files below it may get
    _ft, _flags, base, _ = fdstat(guest, PRE0)
    assert not base & (R["fd_read"] | R["fd_write"])


def test_a_file_has_the_rights_of_its_access_mode(guest: Guest):
    guest.open("f", oflags=CREAT, rights=RW)
    _ft, _flags, base, inheriting = fdstat(guest, guest.open("f", rights=RO))
    assert base & R["fd_read"] and base & R["fd_seek"]
    assert not base & (R["fd_write"] | R["fd_filestat_set_size"] | R["fd_readdir"])
    assert inheriting == 0
    _ft, _flags, base, _ = fdstat(guest, guest.open("f", rights=R["fd_write"]))
    assert base & R["fd_write"] and not base & R["fd_read"]


def test_rights_can_only_shrink_and_dropped_rights_are_enforced(guest: Guest):
    fd = guest.open("f", oflags=CREAT, rights=RW)
    _ft, _flags, base, _ = fdstat(guest, fd)
    without_write = base & ~R["fd_write"]
    assert guest.call("fd_fdstat_set_rights", fd, without_write, 0) == 0
    assert fdstat(guest, fd)[2] == without_write
    assert guest.write(fd, b"x")[0] == E["ENOTCAPABLE"]
    assert guest.call("fd_fdstat_set_rights", fd, base, 0) == E["ENOTCAPABLE"]  # cannot grow back
    assert guest.call("fd_fdstat_set_rights", fd, without_write & ~R["fd_seek"], 0) == 0
    assert guest.call("fd_seek", fd, 0, 0, guest.alloc(8)) == E["ENOTCAPABLE"]
    assert guest.call("fd_fdstat_set_rights", PRE0, 1 << 29, 0) == E["ENOTCAPABLE"]  # a right no dir has


def test_sync_flags_given_at_open_are_kept_in_fdstat(guest: Guest):
    fd = guest.open("s", oflags=CREAT, rights=RW, fdflags=SYNC | DSYNC)
    assert fdstat(guest, fd)[1] == SYNC | DSYNC
    assert guest.call("fd_fdstat_set_flags", fd, RSYNC) == 0
    assert fdstat(guest, fd)[1] == RSYNC


def test_seek_and_tell_on_a_directory_fail(guest: Guest):
    guest.kernel.vfs.mkdir("/tmp/d")
    fd = guest.open("d", oflags=DIRECTORY, rights=RO)
    assert guest.call("fd_seek", fd, 0, 0, guest.alloc(8)) == E["EBADF"]
    assert guest.call("fd_tell", fd, guest.alloc(8)) == E["EBADF"]
    assert readdir(guest, fd, 256)[0] == 0  # still a working directory fd


def test_seek_and_tell_on_a_pipe_are_espipe(guest: Guest):
    r, w = _pipe(guest)
    for fd in (r, w):
        assert guest.call("fd_seek", fd, 0, 1, guest.alloc(8)) == E["ESPIPE"]
        assert guest.call("fd_tell", fd, guest.alloc(8)) == E["ESPIPE"]


@pytest.mark.parametrize("path", ["/tmp/f", "/", "/etc/../tmp"])
def test_path_open_of_an_absolute_path_is_not_capable(guest: Guest, path: str):
    guest.open("f", oflags=CREAT, rights=RW)
    assert guest.open_errno(path, rights=RO) == E["ENOTCAPABLE"]


def test_sock_shutdown_on_a_bad_fd_is_ebadf(guest: Guest):
    assert guest.call("sock_shutdown", 77, 2) == E["EBADF"]
    assert guest.call("sock_shutdown", PRE0, 2) == E["EBADF"]
