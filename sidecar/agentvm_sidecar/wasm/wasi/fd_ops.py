"""fd_*: operations on open descriptors.

Guest fds name kernel open descriptions (``ctx.proc.fds``); tagged preopens
(``0x40000000 | (3 + n)``) are hidden directory capabilities answering only
prestat/fdstat/filestat/readdir (other calls on them: EBADF). A plain wasi-libc
program's preopens (``ctx.plain_preopens``) are ordinary directory fds that also
answer prestat until closed or renumbered over; its other fds answer prestat with a
type that is not ``dir``, so wasi-libc's preopen scan skips them (plain_preopens.py).

Blocking: fd_read/fd_write on pipes (and any description that blocks) poll
``ctx.interrupted`` so a killed process leaves at once; an interrupted call ends the
program when a terminating signal is pending, else returns EINTR. A write to a pipe
without readers raises SIGPIPE (the writer dies with signal 13) unless SIGPIPE is
blocked, in which case it returns EPIPE, as on Linux.
"""

from __future__ import annotations

import os
from typing import Any

from ... import native
from ...kernel.descriptions import Description, FileDescription
from ...kernel.dir_snapshot import KINDS_BY_TYPE, DirSnapshot
from ...kernel.errors import KernelError
from ...kernel.fstypes import OMIT, FileKind, OpenFlags
from ...kernel.process import ExitStatus
from .. import stat_memo
from ..abi import host_function
from ..context import PREOPEN_BASE, PREOPEN_MASK, PREOPEN_TAG, GuestContext
from ..host import fs as host_fs  # a module: host.fs imports wasi.common, which imports this
from ..plain_preopens import FIRST_PREOPEN_FD, NOT_A_PREOPEN, install_plain_preopens
from . import layouts as L
from .common import U32, U64, description, is_tagged, preopen_or_ebadf
from .rights import DIRECTORY_BASE, DIRECTORY_INHERITING, drop_rights, fdstat_fields, require, set_sync_flags

MODULE = "wasi_snapshot_preview1"
SIGPIPE = 13
MAX_READ = 16 << 20  # bytes one fd_read/fd_pread may return (short reads are legal)

_NOT_SEEKABLE = (FileKind.FIFO, FileKind.SOCKET)
_APPEND = int(OpenFlags.APPEND)
# every tagged preopen's fdstat (a directory with the directory rights)
PREOPEN_FDSTAT = L.pack_fdstat(L.FILETYPE_DIRECTORY, 0, DIRECTORY_BASE, DIRECTORY_INHERITING)


# -- shared helpers -----------------------------------------------------------------------
def _io_error(ctx: GuestContext, exc: KernelError, *, writing: bool) -> KernelError:
    """Turn a blocking-I/O error into what the guest sees (maybe ending the program)."""
    if exc.errno == "EINTR":
        ctx.check_signals()
    elif writing and exc.errno == "EPIPE" and not ctx.proc.sigmask & (1 << (SIGPIPE - 1)):
        raise ctx.exit(ExitStatus(0, SIGPIPE))
    return exc


def _iov_total(ctx: GuestContext, iovs: list[tuple[int, int]]) -> int:
    for ptr, length in iovs:
        ctx.check(ptr, length)
    return sum(length for _, length in iovs)


def _scatter(ctx: GuestContext, iovs: list[tuple[int, int]], data: bytes) -> None:
    offset = 0
    for ptr, length in iovs:
        if offset >= len(data):
            break
        chunk = data[offset : offset + length]
        ctx.write(ptr, chunk)
        offset += len(chunk)


def _gather(ctx: GuestContext, iovs: list[tuple[int, int]]) -> bytes:
    return b"".join(ctx.read(ptr, length) for ptr, length in iovs)


def is_append(desc: Description) -> bool:
    if desc.append:
        return True
    # int(): IntFlag's own & costs ~1 us, and libc asks for fdstat before most writes
    return isinstance(desc, FileDescription) and bool(int(desc.handle.flags) & _APPEND)


def set_append(desc: Description, on: bool) -> None:
    """O_APPEND on an open description. For files the FileHandle appends atomically
    itself (its APPEND flag); ``desc.append`` is kept in step for reporting."""
    desc.append = on
    if isinstance(desc, FileDescription) and desc.writable:
        if on:
            desc.handle.flags |= OpenFlags.APPEND
        else:
            desc.handle.flags &= ~OpenFlags.APPEND


def publish_fdstat(desc: Description) -> bytes:
    """The fdstat of ``desc`` (its rights as opened, rights.py, and its flags), also
    handed to the native fd_fdstat_get (native/__init__.py) with whether a pipe
    end's read or write right is still there. Called whenever it may have changed
    (set_flags, set_rights) and when asked."""
    flags = (L.FDFLAGS_APPEND if is_append(desc) else 0) | (L.FDFLAGS_NONBLOCK if desc.nonblocking else 0)
    base, inheriting, sync = fdstat_fields(desc)
    fdstat = L.pack_fdstat(L.filetype(desc.kind), flags | sync, base, inheriting)
    if desc.native is not None:
        right = L.RIGHT_FD_WRITE if desc.writable else L.RIGHT_FD_READ
        desc.native.publish(fdstat, bool(base & right))
    return fdstat


def _snapshot_of_preopen(ctx: GuestContext, path: str) -> DirSnapshot:
    vfs = ctx.kernel.vfs
    cred = ctx.proc.cred
    me = vfs.stat(path, cred=cred)
    up = vfs.stat(path.rstrip("/").rsplit("/", 1)[0] or "/", cred=cred)
    return DirSnapshot(me.ino, up.ino, tuple(vfs.readdir(path, cred=cred)))


def _times(fst_flags: int, atim: int, mtim: int) -> tuple[Any, Any]:
    """(atime, mtime) for the VFS: ns, None = now, OMIT = unchanged. Raises: EINVAL."""
    if fst_flags & ~0xF:
        raise KernelError.einval(message="unknown fstflags")
    if fst_flags & L.FSTFLAGS_ATIM and fst_flags & L.FSTFLAGS_ATIM_NOW:
        raise KernelError.einval(message="ATIM with ATIM_NOW")
    if fst_flags & L.FSTFLAGS_MTIM and fst_flags & L.FSTFLAGS_MTIM_NOW:
        raise KernelError.einval(message="MTIM with MTIM_NOW")
    atime: Any = OMIT
    mtime: Any = OMIT
    if fst_flags & L.FSTFLAGS_ATIM:
        atime = atim & U64
    elif fst_flags & L.FSTFLAGS_ATIM_NOW:
        atime = None
    if fst_flags & L.FSTFLAGS_MTIM:
        mtime = mtim & U64
    elif fst_flags & L.FSTFLAGS_MTIM_NOW:
        mtime = None
    return atime, mtime


# -- read / write ---------------------------------------------------------------------------
@host_function(MODULE, "fd_read", "iiii")
def fd_read(ctx: GuestContext, fd: int, iovs_ptr: int, iovs_len: int, ret_nread: int) -> None:
    ctx.check(ret_nread, 4)
    if iovs_len == 1:
        # One buffer (nearly every read: libc's stdio, grep's 1 KiB reads): a file
        # reads straight into guest memory, without an iovec list or a bytes copy.
        ptr, length = ctx.iovec(iovs_ptr)
        buffer = ctx.buffer(ptr, length)
        desc = description(ctx, fd)
        require(desc, L.RIGHT_FD_READ)
        if type(desc) is FileDescription:
            ctx.set_u32(ret_nread, desc.handle.readinto(buffer if length <= MAX_READ else buffer[:MAX_READ]))
            return
        iovs, total = [(ptr, length)], length
    else:
        iovs = ctx.iovecs(iovs_ptr, iovs_len)
        total = _iov_total(ctx, iovs)
        desc = description(ctx, fd)
        require(desc, L.RIGHT_FD_READ)
    try:
        data = desc.read(min(total, MAX_READ), interrupted=ctx.interrupted)
    except KernelError as exc:
        raise _io_error(ctx, exc, writing=False) from None
    _scatter(ctx, iovs, data)
    ctx.set_u32(ret_nread, len(data))


@host_function(MODULE, "fd_write", "iiii")
def fd_write(ctx: GuestContext, fd: int, iovs_ptr: int, iovs_len: int, ret_nwritten: int) -> None:
    ctx.check(ret_nwritten, 4)
    data = _gather(ctx, ctx.iovecs(iovs_ptr, iovs_len))
    desc = description(ctx, fd)
    require(desc, L.RIGHT_FD_WRITE)
    try:
        n = desc.write(data, interrupted=ctx.interrupted)
    except KernelError as exc:
        raise _io_error(ctx, exc, writing=True) from None
    ctx.set_u32(ret_nwritten, n)


@host_function(MODULE, "fd_pread", "iiiIi")
def fd_pread(ctx: GuestContext, fd: int, iovs_ptr: int, iovs_len: int, offset: int, ret_nread: int) -> None:
    ctx.check(ret_nread, 4)
    iovs = ctx.iovecs(iovs_ptr, iovs_len)
    total = _iov_total(ctx, iovs)
    desc = description(ctx, fd)
    require(desc, L.RIGHT_FD_READ)
    if offset < 0:
        raise KernelError.einval(message="negative offset")
    data = desc.pread(min(total, MAX_READ), offset)
    _scatter(ctx, iovs, data)
    ctx.set_u32(ret_nread, len(data))


@host_function(MODULE, "fd_pwrite", "iiiIi")
def fd_pwrite(ctx: GuestContext, fd: int, iovs_ptr: int, iovs_len: int, offset: int, ret_nwritten: int) -> None:
    ctx.check(ret_nwritten, 4)
    data = _gather(ctx, ctx.iovecs(iovs_ptr, iovs_len))
    desc = description(ctx, fd)
    require(desc, L.RIGHT_FD_WRITE)
    if offset < 0:
        raise KernelError.einval(message="negative offset")
    ctx.set_u32(ret_nwritten, desc.pwrite(data, offset))


# -- position -------------------------------------------------------------------------------
def _positioned(ctx: GuestContext, fd: int, right: int) -> Description:
    """The description of ``fd`` for fd_seek/fd_tell. A directory has no position
    (no seek/tell rights; EBADF, as wasmtime's preview1 answers)."""
    desc = description(ctx, fd)
    if desc.kind is FileKind.DIRECTORY:
        raise KernelError.ebadf(message="a directory has no file position")
    require(desc, right)
    return desc


@host_function(MODULE, "fd_seek", "iIii")
def fd_seek(ctx: GuestContext, fd: int, offset: int, whence: int, ret_newoffset: int) -> None:
    ctx.check(ret_newoffset, 8)
    desc = _positioned(ctx, fd, L.RIGHT_FD_SEEK)
    whence &= 0xFF
    if whence not in (L.WHENCE_SET, L.WHENCE_CUR, L.WHENCE_END):
        raise KernelError.einval(message=f"bad whence {whence}")
    if desc.kind in _NOT_SEEKABLE:
        raise KernelError.espipe()
    os_whence = {L.WHENCE_SET: os.SEEK_SET, L.WHENCE_CUR: os.SEEK_CUR, L.WHENCE_END: os.SEEK_END}[whence]
    ctx.set_u64(ret_newoffset, desc.seek(offset, os_whence))


@host_function(MODULE, "fd_tell", "ii")
def fd_tell(ctx: GuestContext, fd: int, ret_offset: int) -> None:
    ctx.check(ret_offset, 8)
    ctx.set_u64(ret_offset, _positioned(ctx, fd, L.RIGHT_FD_TELL).tell())


# -- lifetime ---------------------------------------------------------------------------------
@host_function(MODULE, "fd_close", "i")
def fd_close(ctx: GuestContext, fd: int) -> None:
    if is_tagged(fd):
        preopen_or_ebadf(ctx, fd)  # hidden capability roots stay usable; closing is a no-op
        return
    fd &= U32
    ctx.proc.fds.close(fd)
    _plain_preopens(ctx).pop(fd, None)


def _plain_preopens(ctx: GuestContext) -> dict[int, tuple[str, str]]:
    """Preopens of plain wasi-libc programs: ordinary fds the runtime installed."""
    return getattr(ctx, "plain_preopens", {})


@host_function(MODULE, "fd_renumber", "ii")
def fd_renumber(ctx: GuestContext, fd: int, to: int) -> None:
    fd &= U32
    to &= U32
    description(ctx, fd)
    description(ctx, to)
    if fd != to:
        ctx.proc.fds.renumber(fd, to)
        plain = _plain_preopens(ctx)
        moved = plain.pop(fd, None)
        plain.pop(to, None)
        if moved is not None:
            plain[to] = moved


@host_function(MODULE, "fd_sync", "i")
def fd_sync(ctx: GuestContext, fd: int) -> None:
    if is_tagged(fd):
        preopen_or_ebadf(ctx, fd)
        return
    description(ctx, fd).sync()


@host_function(MODULE, "fd_datasync", "i")
def fd_datasync(ctx: GuestContext, fd: int) -> None:
    fd_sync(ctx, fd)


@host_function(MODULE, "fd_advise", "iIIi")
def fd_advise(ctx: GuestContext, fd: int, offset: int, length: int, advice: int) -> None:
    desc = description(ctx, fd)
    if desc.kind in _NOT_SEEKABLE:
        raise KernelError.espipe()
    if not 0 <= advice & 0xFF <= L.ADVICE_MAX or offset < 0 or length < 0:
        raise KernelError.einval()


@host_function(MODULE, "fd_allocate", "iII")
def fd_allocate(ctx: GuestContext, fd: int, offset: int, length: int) -> None:
    desc = description(ctx, fd)
    if desc.kind in _NOT_SEEKABLE:
        raise KernelError.espipe()
    if offset < 0 or length <= 0:
        raise KernelError.einval()
    if desc.kind is not FileKind.REGULAR:
        raise KernelError("ENODEV", "not a regular file")
    if not desc.writable:
        raise KernelError.ebadf(message="not open for writing")
    if desc.stat().size < offset + length:
        desc.truncate(offset + length)


# -- status -------------------------------------------------------------------------------------
@host_function(MODULE, "fd_fdstat_get", "ii")
def fd_fdstat_get(ctx: GuestContext, fd: int, ret_ptr: int) -> None:
    ctx.check(ret_ptr, 24)
    if is_tagged(fd):
        preopen_or_ebadf(ctx, fd)
        ctx.write(ret_ptr, PREOPEN_FDSTAT)
        native.preopen_publish(PREOPEN_FDSTAT, PREOPEN_TAG, PREOPEN_MASK, PREOPEN_BASE)  # C answers the next
        return
    ctx.write(ret_ptr, publish_fdstat(description(ctx, fd)))
    if fd & U32 == ctx.last_opened_fd:  # asked right after an open: path_open publishes from now on
        ctx.fdstat_after_open = True


@host_function(MODULE, "fd_fdstat_set_flags", "ii")
def fd_fdstat_set_flags(ctx: GuestContext, fd: int, flags: int) -> None:
    """APPEND and NONBLOCK change the open description; the sync flags are kept
    for fdstat only (every write is already durable in the kernel), and other bits
    (newer agentOS libcs' O_DIRECT 0x20) are ignored, as agentOS's host does."""
    flags &= 0xFFFF
    if is_tagged(fd):
        preopen_or_ebadf(ctx, fd)
        return
    desc = description(ctx, fd)
    set_append(desc, bool(flags & L.FDFLAGS_APPEND))
    desc.nonblocking = bool(flags & L.FDFLAGS_NONBLOCK)
    set_sync_flags(desc, flags)
    publish_fdstat(desc)


@host_function(MODULE, "fd_fdstat_set_rights", "iII")
def fd_fdstat_set_rights(ctx: GuestContext, fd: int, rights_base: int, rights_inheriting: int) -> None:
    """Drop rights (rights.py); asking for one the fd lacks is ENOTCAPABLE. A tagged
    preopen is a shared capability root: the request is checked, nothing dropped."""
    rights_base &= U64
    rights_inheriting &= U64
    if is_tagged(fd):
        preopen_or_ebadf(ctx, fd)
        if rights_base & ~DIRECTORY_BASE or rights_inheriting & ~DIRECTORY_INHERITING:
            raise KernelError("ENOTCAPABLE", "rights can only be dropped")
        return
    desc = description(ctx, fd)
    drop_rights(desc, rights_base, rights_inheriting)
    publish_fdstat(desc)


@host_function(MODULE, "fd_filestat_get", "ii")
def fd_filestat_get(ctx: GuestContext, fd: int, ret_ptr: int) -> None:
    ctx.check(ret_ptr, 64)
    if is_tagged(fd):
        st = ctx.kernel.vfs.stat(preopen_or_ebadf(ctx, fd), cred=ctx.proc.cred)
    else:
        st = description(ctx, fd).stat()
    ctx.write(ret_ptr, L.pack_filestat(st))


@host_function(MODULE, "fd_filestat_set_size", "iI")
def fd_filestat_set_size(ctx: GuestContext, fd: int, size: int) -> None:
    desc = description(ctx, fd)
    require(desc, L.RIGHT_FD_FILESTAT_SET_SIZE)
    if size < 0:
        raise KernelError.einval(message="negative size")
    if desc.kind is FileKind.DIRECTORY:
        raise KernelError.eisdir()
    if not desc.writable:
        raise KernelError.einval(message="not open for writing")
    desc.truncate(size)


@host_function(MODULE, "fd_filestat_set_times", "iIIi")
def fd_filestat_set_times(ctx: GuestContext, fd: int, atim: int, mtim: int, fst_flags: int) -> None:
    atime, mtime = _times(fst_flags & 0xFFFF, atim, mtim)
    if is_tagged(fd):
        path = preopen_or_ebadf(ctx, fd)
        ctx.kernel.vfs.utimes(path, atime, mtime, cred=ctx.proc.cred)
        return
    desc = description(ctx, fd)
    if not isinstance(desc, FileDescription):
        return  # pipes and sockets have no stored times
    desc.handle.set_times(atime, mtime)


# -- preopens -------------------------------------------------------------------------------------
@host_function(MODULE, "fd_prestat_get", "ii")
def fd_prestat_get(ctx: GuestContext, fd: int, ret_ptr: int) -> None:
    ctx.check(ret_ptr, 8)
    if is_tagged(fd):
        ctx.tagged_preopens_probed = True
    elif not ctx.plain_wasi and not ctx.tagged_preopens_probed and fd == FIRST_PREOPEN_FD:
        # Importing host_net made the runtime expect the agentOS libc's tagged
        # preopens, but this libc scans fds 3, 4... (the Codex CLI: Rust std over a
        # wasi-libc with agentOS sockets): serve it the plain WASI layout instead.
        ctx.plain_wasi = True
        install_plain_preopens(ctx)
    name = ctx.preopen_name(fd)
    if name is None and ctx.plain_wasi and not is_tagged(fd):
        description(ctx, fd)  # EBADF ends the libc's scan; an open fd is skipped
        ctx.write(ret_ptr, L.pack_prestat(0, NOT_A_PREOPEN))
        return
    if name is None:
        raise KernelError.ebadf(fd & U32)
    ctx.write(ret_ptr, L.pack_prestat(len(name.encode("utf-8", "surrogateescape"))))


@host_function(MODULE, "fd_prestat_dir_name", "iii")
def fd_prestat_dir_name(ctx: GuestContext, fd: int, path_ptr: int, path_len: int) -> None:
    name = ctx.preopen_name(fd)
    if name is None:
        raise KernelError.ebadf(fd & U32)
    encoded = name.encode("utf-8", "surrogateescape")
    path_len &= U32
    ctx.check(path_ptr, path_len)
    if path_len < len(encoded):
        raise KernelError.enametoolong()
    ctx.write(path_ptr, encoded)


# -- directories ----------------------------------------------------------------------------------
@host_function(MODULE, "fd_readdir", "iiiIi")
def fd_readdir(ctx: GuestContext, fd: int, buf_ptr: int, buf_len: int, cookie: int, ret_bufused: int) -> None:
    """Entries from index ``cookie`` on ('.' and '..' first; d_next = next index).
    The buffer is filled completely when more entries exist, the last one truncated:
    ``bufused < buf_len`` tells libc it reached the end."""
    buf_len &= U32
    cookie &= U64
    ctx.check(buf_ptr, buf_len)
    ctx.check(ret_bufused, 4)
    if is_tagged(fd):
        snapshot = _snapshot_of_preopen(ctx, preopen_or_ebadf(ctx, fd))
    else:
        desc = description(ctx, fd)
        require(desc, L.RIGHT_FD_READDIR)
        opened = ctx.opened_directory
        if cookie == 0 and opened is not None and opened.fd == fd and opened.desc is desc:
            ctx.opened_directory = None  # one fill per open
            epoch = native.stat_memo().epoch()
            snapshot = desc.readdir_snapshot(refresh=True)
            stat_memo.listed(ctx, stat_memo.Listing(opened, epoch, snapshot, host_fs.path_base, host_fs.host_size))
        else:
            snapshot = desc.readdir_snapshot(refresh=cookie == 0)
    if snapshot.pieces is not None:
        used = _pack_records(ctx, snapshot, snapshot.pieces, cookie, buf_ptr, buf_len)
    else:
        used = _pack_entries(ctx, snapshot, cookie, buf_ptr, buf_len)
    ctx.set_u32(ret_bufused, used)


# the WASI filetype of a listed host entry by its type number (native.pack_dirents)
_RECORD_FILETYPES = bytes(L.filetype(kind) for kind in KINDS_BY_TYPE)


def _pack_records(
    ctx: GuestContext, snapshot: DirSnapshot, pieces: tuple[bytes, ...], cookie: int, buf_ptr: int, buf_len: int
) -> int:
    """fd_readdir's dirents of a host listing, packed in C straight into the
    buffer (checked by the caller); returns the bytes written."""
    out = ctx.address(buf_ptr, buf_len)
    used = index = 0
    for records in pieces or (b"",):  # an empty listing still has '.' and '..'
        n, index = native.pack_dirents(
            records, index, cookie, snapshot.dot, snapshot.dotdot, _RECORD_FILETYPES, out + used, buf_len - used
        )
        used += n
        if used == buf_len:
            break
    return used


def _pack_entries(ctx: GuestContext, snapshot: DirSnapshot, cookie: int, buf_ptr: int, buf_len: int) -> int:
    """fd_readdir's dirents of a listing of DirEntry objects; returns the bytes written."""
    listed, directory = snapshot.listed, L.FILETYPE_DIRECTORY
    out = bytearray()
    index = cookie
    while index < len(listed) + 2 and len(out) < buf_len:
        if index >= 2:
            entry = listed[index - 2]
            name, ino, filetype = entry.name.encode("utf-8", "surrogateescape"), entry.ino, L.filetype(entry.kind)
        else:
            name, ino, filetype = (b"..", snapshot.dotdot, directory) if index else (b".", snapshot.dot, directory)
        out += L.pack_dirent(index + 1, ino, name, filetype)
        index += 1
    del out[buf_len:]
    ctx.write(buf_ptr, bytes(out))
    return len(out)
