"""fd_*: read/write/seek/stat/readdir/prestat/close/renumber over kernel descriptions."""

from __future__ import annotations

import struct

import wasmtime

from agentvm_sidecar.kernel.descriptions import FileDescription
from agentvm_sidecar.kernel.fstypes import USER, OpenFlags
from agentvm_sidecar.kernel.process import ExitStatus
from agentvm_sidecar.wasm.plain_preopens import ABSOLUTE_PATHS_EXPORT, NOT_A_PREOPEN, plain_preopen_names
from agentvm_sidecar.wasm.runtime import shared_runtime
from agentvm_sidecar.wasm.wasi.rights import DIRECTORY_BASE

from .conftest import PRE0, PRE1, E, Guest

RO = 0x3FBFFEBE  # what wasi-libc asks for on O_RDONLY
WO = 0x3FFFBFFD  # O_WRONLY
RW = 0x3FFFFFFF
CREAT, DIRECTORY, EXCL, TRUNC = 1, 2, 4, 8
APPEND, NONBLOCK = 1, 4
FD_READ, FD_WRITE, FD_SEEK, FD_TELL = 1 << 1, 1 << 6, 1 << 2, 1 << 5


def fdstat(g: Guest, fd: int) -> tuple[int, int, int, int] | int:
    ret = g.alloc(24)
    err = g.call("fd_fdstat_get", fd, ret)
    if err:
        return err
    ft, flags, base, inh = struct.unpack("<BxHxxxxQQ", g.read(ret, 24))
    return ft, flags, base, inh


def filestat(g: Guest, fd: int) -> dict[str, int] | int:
    ret = g.alloc(64)
    err = g.call("fd_filestat_get", fd, ret)
    if err:
        return err
    dev, ino, ft, nlink, size, atim, mtim, ctim = struct.unpack("<QQB7xQQQQQ", g.read(ret, 64))
    return {"dev": dev, "ino": ino, "filetype": ft, "nlink": nlink, "size": size, "atim": atim, "mtim": mtim, "ctim": ctim}


def seek(g: Guest, fd: int, offset: int, whence: int) -> tuple[int, int]:
    ret = g.alloc(8)
    err = g.call("fd_seek", fd, offset, whence, ret)
    return err, g.u64(ret)


# -- prestat -------------------------------------------------------------------------------
def test_prestat_lists_tagged_preopens_cwd_first(guest: Guest):
    ret = guest.alloc(8)
    names = []
    fd = PRE0
    while guest.call("fd_prestat_get", fd, ret) == 0:
        tag, length = struct.unpack("<B3xI", guest.read(ret, 8))
        assert tag == 0
        buf = guest.alloc(length)
        assert guest.call("fd_prestat_dir_name", fd, buf, length) == 0
        names.append(guest.read(buf, length).decode())
        fd += 1
    assert names == ["/tmp", "/"]
    assert guest.call("fd_prestat_get", fd, ret) == E["EBADF"]
    assert guest.call("fd_prestat_get", 3, ret) == E["EBADF"]  # fd 3 is an ordinary fd
    assert guest.call("fd_prestat_dir_name", PRE0, guest.alloc(2), 2) == E["ENAMETOOLONG"]


def test_root_cwd_has_one_preopen(kernel):
    g = Guest(kernel, cwd="/")
    ret = g.alloc(8)
    assert g.call("fd_prestat_get", PRE0, ret) == 0
    assert g.call("fd_prestat_get", PRE1, ret) == E["EBADF"]


def test_preopen_fdstat_and_filestat(guest: Guest):
    assert fdstat(guest, PRE0) == (3, 0, DIRECTORY_BASE, RW)
    st = filestat(guest, PRE1)
    assert st["filetype"] == 3 and st["ino"] == guest.kernel.vfs.stat("/").ino
    assert fdstat(guest, 0x40000010) == E["EBADF"]


# -- read / write / seek ------------------------------------------------------------------------
def test_create_write_seek_read(guest: Guest):
    fd = guest.open("f.txt", oflags=CREAT | TRUNC, rights=RW)
    assert fd == 0  # empty table: lowest free fd
    assert guest.write(fd, b"hello world") == (0, 11)
    assert seek(guest, fd, 0, 1) == (0, 11)
    assert seek(guest, fd, 6, 0) == (0, 6)
    assert guest.read_fd(fd, 100) == (0, b"world")
    assert seek(guest, fd, -5, 2) == (0, 6)
    assert seek(guest, fd, -50, 1)[0] == E["EINVAL"]
    assert seek(guest, fd, 0, 7)[0] == E["EINVAL"]
    ret = guest.alloc(8)
    assert guest.call("fd_tell", fd, ret) == 0 and guest.u64(ret) == 6
    assert guest.kernel.vfs.read_file("/tmp/f.txt") == b"hello world"


def test_scatter_gather(guest: Guest):
    fd = guest.open("sg", oflags=CREAT, rights=RW)
    a, b = guest.put(b"abc"), guest.put(b"defg")
    iovs, n = guest.iovecs(a, b)
    ret = guest.alloc(4)
    assert guest.call("fd_write", fd, iovs, n, ret) == 0 and guest.u32(ret) == 7
    seek(guest, fd, 0, 0)
    b1, b2 = guest.alloc(2), guest.alloc(10)
    iovs, n = guest.iovecs((b1, 2), (b2, 10))
    assert guest.call("fd_read", fd, iovs, n, ret) == 0 and guest.u32(ret) == 7
    assert guest.read(b1, 2) == b"ab" and guest.read(b2, 5) == b"cdefg"


def test_pread_pwrite_do_not_move_offset(guest: Guest):
    fd = guest.open("p", oflags=CREAT, rights=RW)
    guest.write(fd, b"0123456789")
    buf = guest.alloc(4)
    iovs, n = guest.iovecs((buf, 4))
    ret = guest.alloc(4)
    assert guest.call("fd_pread", fd, iovs, n, 3, ret) == 0
    assert guest.read(buf, guest.u32(ret)) == b"3456"
    src = guest.put(b"XY")
    iovs, n = guest.iovecs(src)
    assert guest.call("fd_pwrite", fd, iovs, n, 0, ret) == 0 and guest.u32(ret) == 2
    assert seek(guest, fd, 0, 1) == (0, 10)
    assert guest.kernel.vfs.read_file("/tmp/p") == b"XY23456789"
    assert guest.call("fd_pread", fd, iovs, n, -1, ret) == E["EINVAL"]


def test_read_only_fd_rejects_write_and_reports_rights(guest: Guest):
    guest.kernel.vfs.write_file("/tmp/r", b"data")
    fd = guest.open("r", rights=RO)
    assert guest.write(fd, b"x")[0] == E["EBADF"]
    ft, flags, base, _ = fdstat(guest, fd)
    assert ft == 4 and flags == 0
    assert base & FD_READ and not base & FD_WRITE and base & FD_SEEK
    wfd = guest.open("w", oflags=CREAT, rights=WO)
    _, _, base, _ = fdstat(guest, wfd)
    assert base & FD_WRITE and not base & FD_READ
    assert guest.read_fd(wfd, 4)[0] == E["EBADF"]


def test_append_flag(guest: Guest):
    guest.kernel.vfs.write_file("/tmp/log", b"one\n", cred=USER)
    fd = guest.open("log", oflags=CREAT, rights=WO, fdflags=APPEND)
    assert fdstat(guest, fd)[1] == APPEND
    guest.write(fd, b"two\n")
    other = guest.open("log", rights=RW)
    guest.write(other, b"ONE\n")  # overwrites at offset 0
    guest.write(fd, b"three\n")  # still appends once, at the end
    assert guest.kernel.vfs.read_file("/tmp/log") == b"ONE\ntwo\nthree\n"
    assert guest.call("fd_fdstat_set_flags", fd, 0) == 0
    assert fdstat(guest, fd)[1] == 0
    seek(guest, fd, 0, 0)
    guest.write(fd, b"1")
    assert guest.kernel.vfs.read_file("/tmp/log") == b"1NE\ntwo\nthree\n"
    assert guest.call("fd_fdstat_set_flags", fd, APPEND | NONBLOCK) == 0
    assert fdstat(guest, fd)[1] == APPEND | NONBLOCK
    guest.write(fd, b"!")
    assert guest.kernel.vfs.read_file("/tmp/log").endswith(b"three\n!")
    # unknown bits (newer libcs send O_DIRECT as 0x20) are ignored, not refused
    assert guest.call("fd_fdstat_set_flags", fd, APPEND | 0x20 | 0x100) == 0
    assert fdstat(guest, fd)[1] == APPEND


def test_filestat_and_set_size(guest: Guest):
    fd = guest.open("s", oflags=CREAT, rights=RW)
    guest.write(fd, b"12345")
    st = filestat(guest, fd)
    vst = guest.kernel.vfs.stat("/tmp/s")
    assert st == {"dev": vst.dev, "ino": vst.ino, "filetype": 4, "nlink": 1, "size": 5,
                      "atim": vst.atime_ns, "mtim": vst.mtime_ns, "ctim": vst.ctime_ns}
    assert guest.call("fd_filestat_set_size", fd, 2) == 0
    assert guest.kernel.vfs.read_file("/tmp/s") == b"12"
    assert guest.call("fd_filestat_set_size", fd, 8) == 0
    assert guest.kernel.vfs.read_file("/tmp/s") == b"12" + b"\0" * 6
    assert guest.call("fd_filestat_set_size", fd, -1) == E["EINVAL"]
    ro = guest.open("s", rights=RO)
    assert guest.call("fd_filestat_set_size", ro, 1) == E["EINVAL"]


def test_filestat_set_times(guest: Guest):
    fd = guest.open("t", oflags=CREAT, rights=RW)
    assert guest.call("fd_filestat_set_times", fd, 1_000_000_000, 2_000_000_000, 1 | 4) == 0
    st = guest.kernel.vfs.stat("/tmp/t")
    assert (st.atime_ns, st.mtime_ns) == (1_000_000_000, 2_000_000_000)
    assert guest.call("fd_filestat_set_times", fd, 0, 5, 4) == 0  # atime omitted
    st = guest.kernel.vfs.stat("/tmp/t")
    assert (st.atime_ns, st.mtime_ns) == (1_000_000_000, 5)
    assert guest.call("fd_filestat_set_times", fd, 0, 0, 1 | 2) == E["EINVAL"]
    assert guest.call("fd_filestat_set_times", fd, 0, 0, 8) == 0
    assert guest.kernel.vfs.stat("/tmp/t").mtime_ns > 5


def test_sync_advise_allocate(guest: Guest):
    fd = guest.open("a", oflags=CREAT, rights=RW)
    assert guest.call("fd_sync", fd) == 0
    assert guest.call("fd_datasync", fd) == 0
    assert guest.call("fd_advise", fd, 0, 100, 1) == 0
    assert guest.call("fd_advise", fd, 0, 100, 9) == E["EINVAL"]
    assert guest.call("fd_allocate", fd, 10, 6) == 0
    assert guest.kernel.vfs.stat("/tmp/a").size == 16
    assert guest.call("fd_allocate", fd, 0, 4) == 0
    assert guest.kernel.vfs.stat("/tmp/a").size == 16
    assert guest.call("fd_fdstat_set_rights", fd, FD_READ, 0) == 0
    assert guest.call("fd_sync", 77) == E["EBADF"]


def test_close_and_renumber(guest: Guest):
    a = guest.open("x", oflags=CREAT, rights=RW)
    b = guest.open("y", oflags=CREAT, rights=RW)
    assert (a, b) == (0, 1)
    guest.write(a, b"from-a")
    assert guest.call("fd_renumber", a, b) == 0
    assert guest.call("fd_close", a) == E["EBADF"]
    guest.write(b, b"+more")
    assert guest.kernel.vfs.read_file("/tmp/x") == b"from-a+more"
    assert guest.call("fd_renumber", b, b) == 0
    assert guest.call("fd_renumber", b, 5) == E["EBADF"]  # target must be open
    assert guest.call("fd_close", b) == 0
    assert guest.call("fd_close", b) == E["EBADF"]
    assert guest.call("fd_close", PRE0) == 0  # hidden capability: closing is a no-op
    assert guest.call("fd_close", 0x40000099) == E["EBADF"]
    assert fdstat(guest, PRE0)[0] == 3


def test_bad_fds_and_pointers(guest: Guest):
    assert guest.write(9, b"x")[0] == E["EBADF"]
    assert guest.write(-1, b"x")[0] == E["EBADF"]
    assert guest.read_fd(PRE0, 4)[0] == E["EBADF"]
    fd = guest.open("q", oflags=CREAT, rights=RW)
    iovs, n = guest.iovecs((guest.mem_size - 2, 10))
    ret = guest.alloc(4)
    assert guest.call("fd_read", fd, iovs, n, ret) == E["EFAULT"]
    assert guest.call("fd_write", fd, iovs, n, ret) == E["EFAULT"]
    assert guest.call("fd_write", fd, 0xFFFFFFF8, 1, ret) == E["EFAULT"]
    # an iovec count whose byte size wraps past 4 GiB is a bad pointer, not EIO
    assert guest.call("fd_write", fd, iovs, 0x20000001, ret) == E["EFAULT"]
    assert guest.call("fd_fdstat_get", fd, guest.mem_size - 1) == E["EFAULT"]


def test_char_device(guest: Guest):
    fd = guest.open("dev/null", rights=RW, dirfd=PRE1)
    ft, _, base, _ = fdstat(guest, fd)
    assert ft == 2 and base & FD_SEEK  # not a tty for wasi-libc's isatty()
    assert guest.write(fd, b"gone") == (0, 4)
    assert guest.read_fd(fd, 10) == (0, b"")
    z = guest.open("dev/zero", rights=RO, dirfd=PRE1)
    assert guest.read_fd(z, 8) == (0, b"\0" * 8)


# -- directories ------------------------------------------------------------------------------
def readdir(g: Guest, fd: int, size: int, cookie: int = 0) -> tuple[int, bytes]:
    buf = g.alloc(size)
    ret = g.alloc(4)
    err = g.call("fd_readdir", fd, buf, size, cookie, ret)
    return err, g.read(buf, g.u32(ret))


def parse_dirents(raw: bytes) -> list[tuple[int, int, str, int]]:
    out, off = [], 0
    while off + 24 <= len(raw):
        nxt, ino, namlen, typ = struct.unpack_from("<QQIB", raw, off)
        name = raw[off + 24 : off + 24 + namlen]
        if len(name) < namlen:
            break
        out.append((nxt, ino, name.decode(), typ))
        off += 24 + namlen
    return out


def test_readdir_full_and_resumed(guest: Guest):
    vfs = guest.kernel.vfs
    vfs.mkdir("/tmp/d")
    vfs.write_file("/tmp/d/file", b"x")
    vfs.mkdir("/tmp/d/sub")
    vfs.symlink("file", "/tmp/d/link")
    fd = guest.open("d", oflags=DIRECTORY, rights=RO, fdflags=NONBLOCK)
    assert fdstat(guest, fd)[0] == 3
    err, raw = readdir(guest, fd, 4096)
    assert err == 0
    entries = parse_dirents(raw)
    assert [e[2] for e in entries[:2]] == [".", ".."]
    assert {(e[2], e[3]) for e in entries[2:]} == {("file", 4), ("sub", 3), ("link", 7)}
    assert [e[0] for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0][1] == vfs.stat("/tmp/d").ino and entries[1][1] == vfs.stat("/tmp").ino
    assert len(raw) < 4096  # end reached
    # A small buffer is filled completely, the last entry truncated; resume at its cookie.
    err, raw = readdir(guest, fd, 60)
    assert err == 0 and len(raw) == 60
    got = parse_dirents(raw)
    assert [e[2] for e in got] == [".", ".."]
    err, raw = readdir(guest, fd, 4096, cookie=got[-1][0])
    assert [e[2] for e in parse_dirents(raw)] == [e[2] for e in entries[2:]]
    err, raw = readdir(guest, fd, 4096, cookie=99)
    assert (err, raw) == (0, b"")
    reg = guest.open("d/file", rights=RO)
    assert readdir(guest, reg, 100)[0] == E["ENOTDIR"]


def test_readdir_on_tagged_preopen(guest: Guest):
    guest.kernel.vfs.write_file("/tmp/only", b"")
    err, raw = readdir(guest, PRE0, 4096)
    assert err == 0
    assert [e[2] for e in parse_dirents(raw)] == [".", "..", "only"]


def test_directory_fd_is_read_only(guest: Guest):
    assert guest.open_errno("d0", oflags=DIRECTORY | CREAT, rights=RO) == E["EISDIR"]
    guest.kernel.vfs.mkdir("/tmp/d1")
    assert guest.open_errno("d1", rights=RW) == E["EISDIR"]
    fd = guest.open("d1", rights=RO)
    _, _, base, _ = fdstat(guest, fd)
    assert not base & FD_WRITE
    assert guest.write(fd, b"x")[0] == E["EBADF"]
    assert guest.read_fd(fd, 4)[0] == E["EISDIR"]


# -- pipes ------------------------------------------------------------------------------------
def _pipe(g: Guest) -> tuple[int, int]:
    r, w = g.kernel.make_pipe()
    return g.proc.fds.install(r), g.proc.fds.install(w)


def test_pipe_read_write_and_eof(guest: Guest):
    r, w = _pipe(guest)
    assert fdstat(guest, r)[0] == 0  # pipes are UNKNOWN, as agentOS reports them
    _, _, base, _ = fdstat(guest, r)
    assert base & FD_READ and not base & FD_WRITE and not base & (FD_SEEK | FD_TELL)
    assert guest.write(w, b"ping") == (0, 4)
    assert guest.read_fd(r, 100) == (0, b"ping")
    assert seek(guest, r, 0, 1)[0] == E["ESPIPE"]
    assert guest.call("fd_fdstat_set_flags", r, NONBLOCK) == 0
    assert guest.read_fd(r, 100)[0] == E["EAGAIN"]
    assert guest.call("fd_close", w) == 0
    assert guest.read_fd(r, 100) == (0, b"")


def test_pipe_epipe_raises_sigpipe(guest: Guest):
    r, w = _pipe(guest)
    guest.call("fd_close", r)
    buf = guest.put(b"x")
    iovs, n = guest.iovecs(buf)
    assert guest.call_exit("fd_write", w, iovs, n, guest.alloc(4)) == ExitStatus(0, 13)


def test_pipe_epipe_with_sigpipe_blocked(guest: Guest):
    r, w = _pipe(guest)
    guest.call("fd_close", r)
    guest.proc.sigmask = 1 << 12
    assert guest.write(w, b"x")[0] == E["EPIPE"]
    assert guest.ctx.exit_status is None


def test_blocked_pipe_read_ends_when_killed(guest: Guest):
    import threading

    r, _w = _pipe(guest)
    threading.Timer(0.1, lambda: guest.kernel.processes.kill(0, guest.proc.pid, 15)).start()
    buf = guest.alloc(8)
    iovs, n = guest.iovecs((buf, 8))
    assert guest.call_exit("fd_read", r, iovs, n, guest.alloc(4)) == ExitStatus(0, 15)


def test_lowest_free_fd_after_close(guest: Guest):
    fds = [guest.open(f"n{i}", oflags=CREAT, rights=RW) for i in range(4)]
    assert fds == [0, 1, 2, 3]
    guest.call("fd_close", 1)
    assert guest.open("n1", rights=RO) == 1
    desc = guest.proc.fds.get(1)
    assert isinstance(desc, FileDescription) and not desc.handle.flags & OpenFlags.WRITE


def test_plain_wasi_preopen_is_an_ordinary_fd(guest: Guest):
    """Standard wasi-libc probes fd 3, 4...: the runtime installs "/" as a real fd."""
    fds = guest.proc.fds
    for _ in range(3):
        fds.install(FileDescription(guest.kernel.vfs.open("/dev/null", OpenFlags.READ)))
    root = fds.install(FileDescription(guest.kernel.vfs.open("/", OpenFlags.READ | OpenFlags.DIRECTORY)))
    guest.ctx.plain_preopens[root] = ("/", "/")
    guest.ctx.plain_wasi = True
    ret = guest.alloc(8)
    assert root == 3 and guest.call("fd_prestat_get", 3, ret) == 0
    assert struct.unpack("<B3xI", guest.read(ret, 8)) == (0, 1)
    assert guest.call("fd_prestat_get", 4, ret) == E["EBADF"]
    fd = guest.open("tmp/via-plain", oflags=1, rights=RW, dirfd=3)
    assert guest.kernel.vfs.exists("/tmp/via-plain")
    assert guest.call("fd_renumber", 3, fd) == 0  # the preopen moves to fd
    assert guest.call("fd_prestat_get", 3, ret) == E["EBADF"]
    assert guest.call("fd_prestat_get", fd, ret) == 0
    assert guest.call("fd_close", fd) == 0
    assert guest.call("fd_prestat_get", fd, ret) == E["EBADF"]
    assert fdstat(guest, 3) == E["EBADF"]


def test_plain_wasi_inherited_fd_is_skipped_by_the_preopen_scan(guest: Guest):
    """An open fd that is not a preopen answers prestat with a type other than dir
    (wasi-libc skips it and probes on); a free fd answers EBADF (the scan stops)."""
    guest.ctx.plain_wasi = True
    fds = guest.proc.fds
    for _ in range(4):
        fds.install(FileDescription(guest.kernel.vfs.open("/dev/null", OpenFlags.READ)))
    ret = guest.alloc(8)
    assert guest.call("fd_prestat_get", 3, ret) == 0
    assert struct.unpack("<B3xI", guest.read(ret, 8)) == (NOT_A_PREOPEN, 0)
    assert guest.call("fd_prestat_dir_name", 3, guest.alloc(8), 8) == E["EBADF"]
    assert guest.call("fd_prestat_get", 4, ret) == E["EBADF"]


def test_plain_wasi_preopens_put_the_cwd_last_and_skip_names_the_cwd_has(kernel):
    for path in ("/work", "/work/proj", "/work/proj/tmp"):
        kernel.vfs.mkdir(path)
    guest = Guest(kernel, cwd="/work/proj")
    names = plain_preopen_names(guest.ctx)
    assert names[-1] == (".", "/work/proj")
    assert ("/work", "/work") in names and ("/etc", "/etc") in names
    assert ("/tmp", "/tmp") not in names  # the project's own tmp/ wins
    assert plain_preopen_names(Guest(kernel, cwd="/").ctx) == [("/", "/")]
    # a program that makes every path absolute itself needs "/" alone, wherever it stands
    guest.ctx.absolute_paths = True
    assert plain_preopen_names(guest.ctx) == [("/", "/")]


def test_the_runtime_reads_the_absolute_paths_export_of_a_module() -> None:
    runtime = shared_runtime()
    for exports, expected in (("", False), (f'(func (export "{ABSOLUTE_PATHS_EXPORT}"))', True)):
        wat = f'(module (memory (export "memory") 1) (func (export "_start")) {exports})'
        module = wasmtime.Module(runtime.engine, wat)
        assert runtime._prepare(module)[1:] == (False, expected)


def test_a_guest_repeating_a_host_failure_cannot_flood_the_log(guest: Guest, monkeypatch):
    import structlog

    from agentvm_sidecar.wasm import abi
    from agentvm_sidecar.wasm.context import set_current_context

    def broken(*_args):
        raise RuntimeError("a host bug")

    hf = abi.HOST_FUNCTIONS[("wasi_snapshot_preview1", "sched_yield")]
    set_current_context(guest.ctx)
    with structlog.testing.capture_logs() as logs:
        wrapped = abi._wrap(abi.HostFunction(hf.module, hf.name, hf.params, hf.results, broken, True))
        for _ in range(50):
            assert wrapped() == E["EIO"]
    set_current_context(None)
    events = [e["event"] for e in logs]
    assert events.count("host_function_failed") == abi.MAX_LOGGED_FAILURES
    assert events.count("host_function_failures_suppressed") == 1
