"""path_*: operations naming a file by (dirfd, path).

The dirfd is a tagged preopen or an open directory fd; the path is resolved by the
kernel VFS from that directory (``cwd=``) with the process's credentials, so every
permission check, mount and symlink rule of the VM applies. An absolute path is
ENOTCAPABLE, as preview1 says (common.guest_path). ``lookupflags`` bit 0
(SYMLINK_FOLLOW) decides whether a final symlink is followed.
"""

from __future__ import annotations

from ...kernel.errors import KernelError
from ...kernel.fstypes import FileKind, OpenFlags
from .. import stat_memo
from ..abi import host_function
from ..context import GuestContext
from ..host import fs as host_fs  # a module: host.fs imports wasi.common, which imports this
from . import layouts as L
from .common import U32, absolute, dir_base, guest_path, is_tagged
from .fd_ops import _times, publish_fdstat, set_append
from .rights import set_sync_flags

MODULE = "wasi_snapshot_preview1"
DEFAULT_CREATE_MODE = 0o666
DEFAULT_MKDIR_MODE = 0o777
_READ, _WRITE, _APPEND, _NOFOLLOW = (int(f) for f in (OpenFlags.READ, OpenFlags.WRITE, OpenFlags.APPEND, OpenFlags.NOFOLLOW))
_OFLAGS = (
    (L.OFLAGS_CREAT, int(OpenFlags.CREAT)),
    (L.OFLAGS_EXCL, int(OpenFlags.EXCL)),
    (L.OFLAGS_TRUNC, int(OpenFlags.TRUNC)),
    (L.OFLAGS_DIRECTORY, int(OpenFlags.DIRECTORY)),
)


def _follow(lookupflags: int) -> bool:
    return bool(lookupflags & L.LOOKUP_SYMLINK_FOLLOW)


def _entry(ctx: GuestContext, dirfd: int, path_ptr: int, path_len: int) -> str:
    """The VM-absolute path of a directory entry a call removes, renames or links.

    The agentOS libc turns an absolute path equal to a preopen (``rmdir /tmp/d`` run
    in /tmp/d) into (that preopen, "."), and "." names no entry, so it is mapped
    back to the preopen's own path.
    """
    path = guest_path(ctx, path_ptr, path_len)
    base = dir_base(ctx, dirfd)
    if is_tagged(dirfd) and path.strip("/") in (".", ""):
        return base
    return absolute(base, path)


@host_function(MODULE, "path_open", "iiiiiIIii")
def path_open(
    ctx: GuestContext, dirfd: int, lookupflags: int, path_ptr: int, path_len: int, oflags: int,
    rights_base: int, rights_inheriting: int, fdflags: int, ret_fd: int,
) -> int | None:
    """Open (maybe create) a file or directory at the lowest free fd.

    Access mode comes from the rights (libc maps O_RDONLY/O_WRONLY/O_RDWR to them):
    FD_READ or FD_READDIR = read, FD_WRITE = write. A file this call creates gets
    the mode latched by ``host_fs.set_open_mode`` (default 0o666) minus the umask;
    the latch is consumed by every path_open, creating or not.
    """
    proc = ctx.proc
    pending, proc.pending_open_mode = proc.pending_open_mode, None
    ctx.check(ret_fd, 4)
    path = guest_path(ctx, path_ptr, path_len)
    base = dir_base(ctx, dirfd)
    oflags &= 0xFFFF
    fdflags &= 0xFFFF
    if oflags & ~0xF or fdflags & ~0x1F:
        raise KernelError.einval(message="unknown oflags/fdflags")
    rights = rights_base & 0xFFFFFFFFFFFFFFFF
    read = bool(rights & (L.RIGHT_FD_READ | L.RIGHT_FD_READDIR))
    write = bool(rights & L.RIGHT_FD_WRITE)
    # Built as a plain int: IntFlag arithmetic costs ~1 us per operator, and every
    # file a guest reads is opened here.
    flags = 0
    if read:
        flags |= _READ
    if write:
        flags |= _WRITE
        if fdflags & L.FDFLAGS_APPEND:
            flags |= _APPEND  # the FileHandle appends atomically itself
    for oflag, flag in _OFLAGS:
        if oflags & oflag:
            flags |= flag
    if not _follow(lookupflags):
        flags |= _NOFOLLOW
    mode = (DEFAULT_CREATE_MODE if pending is None else pending) & 0o7777 & ~proc.umask
    desc, is_new = ctx.kernel.open_as(proc, path, OpenFlags(flags), mode, cwd=base)
    if is_new:
        if fdflags & L.FDFLAGS_APPEND:
            set_append(desc, True)
        desc.nonblocking = bool(fdflags & L.FDFLAGS_NONBLOCK)
        set_sync_flags(desc, fdflags)
    try:
        fd = proc.fds.install(desc)
    except KernelError:
        if is_new:
            desc.discard()
        raise
    if ctx.fdstat_after_open:  # the agentOS libc asks after every open: C answers it
        publish_fdstat(desc)
    ctx.last_opened_fd = fd
    if desc.kind is FileKind.DIRECTORY:  # its listing may fill the stat memo (fd_readdir)
        ctx.opened_directory = stat_memo.OpenedDirectory(fd, desc, dirfd & U32, ctx.read(path_ptr, path_len & U32), path, base)
    ctx.set_u32(ret_fd, fd)
    return None


@host_function(MODULE, "path_create_directory", "iii")
def path_create_directory(ctx: GuestContext, dirfd: int, path_ptr: int, path_len: int) -> None:
    path = guest_path(ctx, path_ptr, path_len)
    base = dir_base(ctx, dirfd)
    mode = DEFAULT_MKDIR_MODE & ~ctx.proc.umask
    ctx.kernel.vfs.mkdir(path, mode, cwd=base, cred=ctx.proc.cred)


@host_function(MODULE, "path_unlink_file", "iii")
def path_unlink_file(ctx: GuestContext, dirfd: int, path_ptr: int, path_len: int) -> None:
    vfs = ctx.kernel.vfs
    path = _entry(ctx, dirfd, path_ptr, path_len)
    if path.endswith("/"):
        # unlink("x/"): Linux says EISDIR for a directory, ENOTDIR otherwise.
        st = vfs.stat(path, cred=ctx.proc.cred)
        raise KernelError.eisdir() if st.is_dir else KernelError.enotdir()
    vfs.unlink(path, cred=ctx.proc.cred)


@host_function(MODULE, "path_remove_directory", "iii")
def path_remove_directory(ctx: GuestContext, dirfd: int, path_ptr: int, path_len: int) -> None:
    ctx.kernel.vfs.rmdir(_entry(ctx, dirfd, path_ptr, path_len), cred=ctx.proc.cred)


@host_function(MODULE, "path_rename", "iiiiii")
def path_rename(
    ctx: GuestContext, old_fd: int, old_ptr: int, old_len: int, new_fd: int, new_ptr: int, new_len: int
) -> None:
    old = _entry(ctx, old_fd, old_ptr, old_len)
    new = _entry(ctx, new_fd, new_ptr, new_len)
    ctx.kernel.vfs.rename(old, new, cred=ctx.proc.cred)


@host_function(MODULE, "path_link", "iiiiiii")
def path_link(
    ctx: GuestContext, old_fd: int, old_flags: int, old_ptr: int, old_len: int,
    new_fd: int, new_ptr: int, new_len: int,
) -> None:
    vfs = ctx.kernel.vfs
    cred = ctx.proc.cred
    old = _entry(ctx, old_fd, old_ptr, old_len)
    new = _entry(ctx, new_fd, new_ptr, new_len)
    if _follow(old_flags):
        old = vfs.realpath(old, cred=cred)
    vfs.link(old, new, cred=cred)


@host_function(MODULE, "path_symlink", "iiiii")
def path_symlink(
    ctx: GuestContext, target_ptr: int, target_len: int, dirfd: int, path_ptr: int, path_len: int
) -> None:
    target = ctx.string(target_ptr, target_len & U32)
    path = guest_path(ctx, path_ptr, path_len)
    base = dir_base(ctx, dirfd)
    ctx.kernel.vfs.symlink(target, path, cwd=base, cred=ctx.proc.cred)


@host_function(MODULE, "path_readlink", "iiiiii")
def path_readlink(
    ctx: GuestContext, dirfd: int, path_ptr: int, path_len: int, buf_ptr: int, buf_len: int, ret_bufused: int
) -> None:
    """The target, truncated to ``buf_len`` (like readlink(2); libc retries bigger)."""
    buf_len &= U32
    ctx.check(buf_ptr, buf_len)
    ctx.check(ret_bufused, 4)
    path = guest_path(ctx, path_ptr, path_len)
    base = dir_base(ctx, dirfd)
    target = ctx.kernel.vfs.readlink(path, cwd=base, cred=ctx.proc.cred)
    data = target.encode("utf-8", "surrogateescape")[:buf_len]
    ctx.write(buf_ptr, data)
    ctx.set_u32(ret_bufused, len(data))


@host_function(MODULE, "path_filestat_get", "iiiii")
def path_filestat_get(ctx: GuestContext, dirfd: int, flags: int, path_ptr: int, path_len: int, ret_ptr: int) -> None:
    ctx.check(ret_ptr, 64)
    path = guest_path(ctx, path_ptr, path_len)
    base = dir_base(ctx, dirfd)
    stat_memo.stating(ctx, dirfd, path)
    st, filestat = stat_memo.stat(
        ctx, dirfd, path_ptr, path_len, path, _follow(flags), base, stat_memo.WASI, host_fs.path_base, host_fs.host_size
    )
    ctx.write(ret_ptr, filestat or L.pack_filestat(st))


@host_function(MODULE, "path_filestat_set_times", "iiiiIIi")
def path_filestat_set_times(
    ctx: GuestContext, dirfd: int, flags: int, path_ptr: int, path_len: int, atim: int, mtim: int, fst_flags: int
) -> None:
    atime, mtime = _times(fst_flags & 0xFFFF, atim, mtim)
    path = guest_path(ctx, path_ptr, path_len)
    base = dir_base(ctx, dirfd)
    ctx.kernel.vfs.utimes(path, atime, mtime, _follow(flags), cwd=base, cred=ctx.proc.cred)
