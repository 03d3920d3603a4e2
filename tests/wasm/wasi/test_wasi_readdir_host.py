"""fd_readdir of a host_dir directory: its snapshot keeps the host listing's
records (kernel/dir_snapshot.py) and C packs them (native.pack_dirents). What
the guest reads must be what the DirEntry path gives: every name once, cookies
counting from '.' and '..', the buffer filled completely with the last entry cut
off, the same filetypes and inodes, in every piece of a listing too big for one."""

from __future__ import annotations

import ctypes
import os
import stat
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentvm_sidecar import native
from agentvm_sidecar.kernel.dir_snapshot import KINDS_BY_TYPE, DirSnapshot
from agentvm_sidecar.kernel.hostfs import HostFs
from agentvm_sidecar.kernel.kernel import Kernel
from agentvm_sidecar.kernel.limits import Limits
from agentvm_sidecar.wasm.wasi import layouts as L

from .conftest import E, Guest
from .test_stat_memo import vm_with_share
from .test_wasi_fd import DIRECTORY, RO, parse_dirents

DIR_FILETYPE, FILE_FILETYPE, LINK_FILETYPE = 3, 4, 7


def _share(root: Path, files: int = 0, name_len: int = 8) -> Path:
    share = root / "share"
    (share / "d" / "sub").mkdir(parents=True)
    (share / "d" / "file").write_bytes(b"x")
    os.symlink("file", share / "d" / "link")
    os.mkfifo(share / "d" / "fifo")
    for i in range(files):
        (share / "d" / f"{i:0{name_len}}").touch()
    (share / "empty").mkdir()
    return share


@pytest.fixture
def vm(tmp_path: Path) -> Iterator[tuple[Kernel, Guest]]:
    with vm_with_share(_share(tmp_path)) as pair:
        yield pair


MAX_BUF = 65536
_scratch: weakref.WeakKeyDictionary[Guest, tuple[int, int]] = weakref.WeakKeyDictionary()  # guest memory is small


def readdir(g: Guest, fd: int, size: int, cookie: int = 0) -> tuple[int, bytes]:
    """test_wasi_fd.readdir into one buffer per guest."""
    assert size <= MAX_BUF
    if g not in _scratch:
        _scratch[g] = (g.alloc(MAX_BUF), g.alloc(4))
    buf, ret = _scratch[g]
    err = g.call("fd_readdir", fd, buf, size, cookie, ret)
    return err, g.read(buf, g.u32(ret))


def _read_all(g: Guest, fd: int, buf_len: int) -> list[tuple[int, int, str, int]]:
    """The whole listing read as wasi-libc does: a full buffer means more, and the
    next call resumes at the cookie of the last whole entry."""
    entries: list[tuple[int, int, str, int]] = []
    cookie = 0
    while True:
        err, raw = readdir(g, fd, buf_len, cookie=cookie)
        assert err == 0
        got = parse_dirents(raw)
        entries += got
        if len(raw) < buf_len:
            return entries
        assert got, f"a {buf_len}-byte buffer holds no whole entry"
        cookie = got[-1][0]


def _expected(host_dir: Path) -> dict[str, tuple[int, int]]:
    """name -> (inode, WASI filetype) of what the host lists."""
    out = {}
    for name in os.listdir(host_dir):
        st = os.lstat(host_dir / name)
        out[name] = (st.st_ino, L.filetype(KINDS_BY_TYPE[stat.S_IFMT(st.st_mode) >> 12]))
    return out


def _check(entries: list[tuple[int, int, str, int]], host_dir: Path, g: Guest, vm_dir: str) -> None:
    assert [e[0] for e in entries] == list(range(1, len(entries) + 1))  # d_next: each entry's index + 1
    (_, dot_ino, dot, dot_type), (_, up_ino, up, up_type) = entries[:2]
    assert (dot, dot_type, up, up_type) == (".", DIR_FILETYPE, "..", DIR_FILETYPE)
    vfs = g.kernel.vfs
    assert dot_ino == vfs.stat(vm_dir).ino and up_ino == vfs.stat(vm_dir.rsplit("/", 1)[0]).ino
    assert {name: (ino, ft) for _, ino, name, ft in entries[2:]} == _expected(host_dir)
    assert len(entries) == len(_expected(host_dir)) + 2  # no name twice


def test_a_host_listing_reads_as_the_host_lists_it(vm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, g = vm
    fd = g.open("d", oflags=DIRECTORY, rights=RO)
    entries = _read_all(g, fd, 4096)
    _check(entries, tmp_path / "share" / "d", g, "/mnt/host/d")
    types = {name: ft for _, _, name, ft in entries}
    assert (types["sub"], types["file"], types["link"]) == (DIR_FILETYPE, FILE_FILETYPE, LINK_FILETYPE)
    assert types["fifo"] == L.filetype(KINDS_BY_TYPE[stat.S_IFIFO >> 12])
    # resumed at every cookie, as from a small buffer: the rest, in the same order
    for cookie in range(len(entries) + 2):
        _, raw = readdir(g, fd, 4096, cookie=cookie)
        assert parse_dirents(raw) == entries[cookie:]


@pytest.mark.parametrize("buf_len", [30, 60, 100, 161])
def test_a_small_buffer_is_filled_completely_the_last_entry_cut_off(vm, tmp_path: Path, buf_len: int) -> None:  # type: ignore[no-untyped-def]
    _, g = vm
    fd = g.open("d", oflags=DIRECTORY, rights=RO)
    whole = _read_all(g, fd, 4096)
    err, raw = readdir(g, fd, buf_len)
    assert err == 0 and len(raw) == buf_len
    assert _read_all(g, fd, buf_len) == whole


def test_an_empty_host_directory_lists_dot_and_dotdot(vm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, g = vm
    fd = g.open("empty", oflags=DIRECTORY, rights=RO)
    entries = _read_all(g, fd, 4096)
    assert [e[2] for e in entries] == [".", ".."]
    _check(entries, tmp_path / "share" / "empty", g, "/mnt/host/empty")


def test_a_listing_in_several_pieces_reads_whole_from_any_cookie(tmp_path: Path) -> None:
    share = _share(tmp_path, files=1500, name_len=60)  # ~200 KB of records: 64 KiB pieces
    with vm_with_share(share) as (_, g):
        fd = g.open("d", oflags=DIRECTORY, rights=RO)
        entries = _read_all(g, fd, 4096)
        pieces = g.proc.fds.get(fd).readdir_snapshot().pieces
        assert pieces is not None and len(pieces) > 2
        _check(entries, share / "d", g, "/mnt/host/d")
        for cookie in (1, 2, 3, 700, 1000, len(entries) - 1, len(entries)):
            _, raw = readdir(g, fd, 65536, cookie=cookie)
            got = parse_dirents(raw)
            if cookie == len(entries):
                assert got == []
            else:
                assert got and got == entries[cookie : cookie + len(got)]


def test_host_listings_are_charged_to_the_snapshot_budget(tmp_path: Path) -> None:
    share = _share(tmp_path, files=300)
    fs = HostFs(share)
    one = DirSnapshot(0, 0, pieces=fs.list_records(fs.lookup(fs.root(), "d"))).cost
    assert one > 300 * 8  # at least its names
    kernel = Kernel(Limits(dir_snapshot_bytes_per_vm=int(2.5 * one)))
    kernel.vfs.mkdir("/mnt/host", recursive=True)
    kernel.mount_host_dir("/mnt/host", str(share), read_only=True)
    try:
        g = Guest(kernel, cwd="/mnt/host")
        fds = [g.open("d", oflags=DIRECTORY, rights=RO) for _ in range(3)]
        assert [readdir(g, fd, 256)[0] for fd in fds] == [0, 0, E["ENOMEM"]]
        assert kernel.dir_snapshots.used == 2 * one
        g.call("fd_close", fds[0])
        assert readdir(g, fds[2], 256)[0] == 0
        for fd in fds[1:]:
            g.call("fd_close", fd)
        assert kernel.dir_snapshots.used == 0
    finally:
        kernel.shutdown()


def test_a_snapshot_knows_its_names(tmp_path: Path) -> None:
    share = _share(tmp_path, files=3)
    (share / "d" / "caf\xe9").touch()
    (share / "d").joinpath(os.fsdecode(b"raw\xff")).touch()
    fs = HostFs(share)
    snapshot = DirSnapshot(0, 0, pieces=fs.list_records(fs.lookup(fs.root(), "d")))
    for name in ("sub", "file", "link", "fifo", "00000002", "caf\xe9", os.fsdecode(b"raw\xff")):
        assert snapshot.has(name), name
    for name in (".", "..", "su", "subx", "file/", "", "0000000"):
        assert not snapshot.has(name), name
    assert {e.name for e in snapshot.entries()[2:]} == set(os.listdir(share / "d"))


def test_records_cut_short_are_refused_by_every_reader(tmp_path: Path) -> None:
    """A piece that ends inside a record's header or name is malformed for the
    packer and the name search alike (one record walker in C), never read past."""
    fd = os.open(_share(tmp_path) / "d", os.O_RDONLY | os.O_DIRECTORY)
    try:
        (records,) = native.list_dir(fd, native.LIST_NOTHING, 0)
    finally:
        os.close(fd)
    out = bytearray(4096)
    address = ctypes.addressof((ctypes.c_char * len(out)).from_buffer(out))
    filetypes = bytes(16)
    assert native.records_have(records, b"file") and not native.records_have(records, b"nope")
    assert native.pack_dirents(records, 0, 0, 1, 2, filetypes, address, len(out))[1] == 2 + 4
    for cut in (len(records) - 1, 10):  # inside the last name; inside the first header
        with pytest.raises(ValueError):
            native.records_have(records[:cut], b"nope")
        with pytest.raises(ValueError):
            native.pack_dirents(records[:cut], 0, 0, 1, 2, filetypes, address, len(out))
