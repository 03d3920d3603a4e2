"""``host_fs``: what WASI preview1's filestat lacks (modes, owners, rdev, sizes),
chmod/chown, ftruncate, the create-mode latch, statfs and remount (host_abi.md §4).

Every ``(fd, path)`` call resolves with the §4.0 rule, which serves the four caller
conventions seen in the pinned packages:

1. an absolute path ignores ``fd``;
2. a tagged preopen fd (``0x40000000 | (3 + n)``) is relative to that preopen;
3. ``0xFFFFFFFF`` (uucore chown/chgrp) is relative to the process cwd;
4. an open directory fd is relative to that directory;
5. fd 3 that is not an open directory is the legacy "cwd" constant;
6. anything else is EBADF (scalar queries answer "unknown").

Scalar queries (``fd_mode``, ``path_mode``, ``fd_size``, ``path_size``,
``path_rdev``) return their value directly, with 0 (mode, rdev) or -1 (size:
``u64::MAX``, "keep the WASI size") when unknown; they never return an errno.
All lookups run with the process's credentials.
"""

from __future__ import annotations

from stat import S_IFIFO, S_IFMT, S_IFSOCK

from ...kernel.errors import KernelError
from ...kernel.fstypes import FileKind, Stat
from .. import stat_memo
from ..abi import WASI_ERRNO, host_function
from ..context import GuestContext, GuestFault
from ..wasi.common import dir_base, relative_path
from .encoding import to_i32

__all__ = ["host_size", "path_base", "resolve_path"]

M = "host_fs"

NO_DIRFD = 0xFFFFFFFF
LEGACY_CWD_FD = 3
PREOPEN_TAG = 0x40000000
UNKNOWN_SIZE = -1

# Linux device numbers (makedev(major, minor)) of the VM's /dev entries.
_LINUX_RDEV = {"null": 0x103, "zero": 0x105, "full": 0x107, "random": 0x108, "urandom": 0x109, "tty": 0x500}


def resolve_path(ctx: GuestContext, fd: int, path: str) -> tuple[str, str]:
    """(path, base directory) for a host_fs ``(fd, path)`` pair. Raises: EBADF."""
    if path.startswith("/"):
        return path, "/"
    fd &= 0xFFFFFFFF
    if fd == NO_DIRFD:
        return path, ctx.proc.cwd
    if fd & PREOPEN_TAG:
        base = ctx.preopen_path(fd)
        if base is None:
            raise KernelError.ebadf(fd)
        return path, base
    try:
        description = ctx.proc.fds.get(fd)
    except KernelError:
        description = None
    if description is not None and description.kind is FileKind.DIRECTORY and description.path:
        return path, description.path
    if fd == LEGACY_CWD_FD:
        return path, ctx.proc.cwd
    raise KernelError.ebadf(fd)


def path_base(ctx: GuestContext, fd: int, path: str) -> str | None:
    """Where path_mode(fd, path) starts, or None when it refuses them (stat_memo:
    may an answer to the WASI form serve this one too?)."""
    try:
        return resolve_path(ctx, fd, path)[1]
    except KernelError:
        return None


def _path_stat(ctx: GuestContext, fd: int, path_ptr: int, path_len: int, follow: bool) -> Stat:
    """Raises: KernelError, GuestFault."""
    path, base = resolve_path(ctx, fd, ctx.string(path_ptr, path_len))
    return stat_memo.stat(ctx, fd, path_ptr, path_len, path, follow, base, stat_memo.HOSTFS, _wasi_base, host_size)[0]


def _wasi_base(ctx: GuestContext, fd: int, path: str) -> str | None:
    """Where path_filestat_get(fd, path) starts, or None when it refuses the path
    (wasi/common.guest_path; stat_memo: may one answer serve both?)."""
    try:
        relative_path(path)
        return dir_base(ctx, fd)
    except KernelError:
        return None


def _fd_stat(ctx: GuestContext, fd: int) -> Stat:
    """Raises: KernelError (EBADF)."""
    base = ctx.preopen_path(fd)
    if base is not None:
        return ctx.kernel.vfs.stat(base, cred=ctx.proc.cred)
    return ctx.proc.fds.get(to_i32(fd)).stat()


def host_size(st: Stat) -> int:
    """What path_size and fd_size answer for ``st``."""
    if S_IFMT(st.mode) in (S_IFIFO, S_IFSOCK):
        return UNKNOWN_SIZE
    return st.size


# -- scalar queries ------------------------------------------------------------------
@host_function(M, "fd_mode", "i", "i", returns_errno=False)
def fd_mode(ctx: GuestContext, fd: int) -> int:
    """Full st_mode (type | permission bits) of an open fd; 0 = unknown."""
    try:
        return _fd_stat(ctx, fd).mode
    except KernelError:
        return 0


@host_function(M, "path_mode", "iiii", "i", returns_errno=False)
def path_mode(ctx: GuestContext, fd: int, path_ptr: int, path_len: int, follow: int) -> int:
    """Full st_mode of a path (``follow`` 1 = stat, 0 = lstat); 0 = unknown."""
    try:
        return _path_stat(ctx, fd, path_ptr, path_len, bool(follow)).mode
    except (KernelError, GuestFault):
        return 0


@host_function(M, "path_mode", "iii", "i", returns_errno=False)
def path_mode_cwd(ctx: GuestContext, path_ptr: int, path_len: int, follow: int) -> int:
    """The older 3-argument ``path_mode(path, follow)`` that rg, fd and tree of the
    @rivet-dev/agent-os-* packages import: a relative path starts at the cwd."""
    return path_mode(ctx, NO_DIRFD, path_ptr, path_len, follow)


@host_function(M, "fd_size", "i", "I", returns_errno=False)
def fd_size(ctx: GuestContext, fd: int) -> int:
    """Byte size of an open fd; -1 = unknown (pipes, closed fds)."""
    try:
        return host_size(_fd_stat(ctx, fd))
    except KernelError:
        return UNKNOWN_SIZE


@host_function(M, "path_size", "iiii", "I", returns_errno=False)
def path_size(ctx: GuestContext, fd: int, path_ptr: int, path_len: int, follow: int) -> int:
    try:
        return host_size(_path_stat(ctx, fd, path_ptr, path_len, bool(follow)))
    except (KernelError, GuestFault):
        return UNKNOWN_SIZE


@host_function(M, "path_rdev", "iiii", "I", returns_errno=False)
def path_rdev(ctx: GuestContext, fd: int, path_ptr: int, path_len: int, follow: int) -> int:
    """Device number of a character/block device (``/dev/null`` = 0x103); else 0."""
    try:
        st = _path_stat(ctx, fd, path_ptr, path_len, bool(follow))
        if st.kind not in (FileKind.CHAR_DEVICE, FileKind.BLOCK_DEVICE):
            return 0
        return _device_rdev(ctx, st)
    except (KernelError, GuestFault):
        return 0


def _device_rdev(ctx: GuestContext, st: Stat) -> int:
    """Device nodes only exist in the VM's /dev: find the entry with the same
    (dev, ino) and answer its Linux number."""
    vfs = ctx.kernel.vfs
    if vfs.stat("/dev").dev != st.dev:
        return 0
    for entry in vfs.readdir("/dev"):
        if entry.ino == st.ino:
            return _LINUX_RDEV.get(entry.name, 0)
    return 0


# -- changes -------------------------------------------------------------------------
@host_function(M, "chmod", "iiii")
def chmod(ctx: GuestContext, fd: int, path_ptr: int, path_len: int, mode: int) -> None:
    """chmod(2), following symlinks. EPERM unless owner or root; EROFS."""
    path, base = resolve_path(ctx, fd, ctx.string(path_ptr, path_len))
    ctx.kernel.vfs.chmod(path, mode & 0o7777, True, cwd=base, cred=ctx.proc.cred)


@host_function(M, "ftruncate", "iI")
def ftruncate(ctx: GuestContext, fd: int, length: int) -> int | None:
    """Truncate/extend the open file; the offset does not move. Negative: EINVAL."""
    if length < 0:
        return WASI_ERRNO["EINVAL"]
    ctx.proc.fds.get(to_i32(fd)).truncate(length)
    return None


@host_function(M, "set_open_mode", "i")
def set_open_mode(ctx: GuestContext, mode: int) -> None:
    """Latch the create mode for the next path_open (WASI consumes and applies it)."""
    ctx.proc.pending_open_mode = mode & 0o7777


@host_function(M, "path_owner", "iiiiii")
def path_owner(ctx: GuestContext, fd: int, path_ptr: int, path_len: int, follow: int, ret_uid: int, ret_gid: int) -> None:
    ctx.check(ret_uid, 4)
    ctx.check(ret_gid, 4)
    st = _path_stat(ctx, fd, path_ptr, path_len, bool(follow))
    ctx.set_u32(ret_uid, st.uid)
    ctx.set_u32(ret_gid, st.gid)


@host_function(M, "path_chown", "iiiiii")
def path_chown(ctx: GuestContext, fd: int, path_ptr: int, path_len: int, uid: int, gid: int, follow: int) -> int | None:
    """chown(2) with Linux permission rules; ``0xFFFFFFFF`` leaves an id unchanged.

    XX: no filesystem stores a settable owner yet (MemoryFs/HostFs have no chown),
    so a change that Linux would permit answers ENOSYS; a no-op change succeeds
    and a forbidden one is EPERM, exactly as on Linux.
    """
    st = _path_stat(ctx, fd, path_ptr, path_len, bool(follow))
    uid &= 0xFFFFFFFF
    gid &= 0xFFFFFFFF
    new_uid = st.uid if uid == 0xFFFFFFFF else uid
    new_gid = st.gid if gid == 0xFFFFFFFF else gid
    cred = ctx.proc.cred
    if cred.uid != 0:
        from .user import supplementary_groups

        if st.uid != cred.uid or new_uid != st.uid:
            return WASI_ERRNO["EPERM"]
        if new_gid != st.gid and new_gid != cred.gid and new_gid not in supplementary_groups(ctx):
            return WASI_ERRNO["EPERM"]
    if (new_uid, new_gid) == (st.uid, st.gid):
        return None
    return WASI_ERRNO["ENOSYS"]


@host_function(M, "path_statfs", "iiiiiiii")
def path_statfs(
    ctx: GuestContext, fd: int, path_ptr: int, path_len: int,
    ret_total: int, ret_used: int, ret_avail: int, ret_inodes: int, ret_free_inodes: int,
) -> None:
    """The VM's filesystem accounting (bytes and inodes) for any existing path.

    XX: a host_dir mount reports the VM accounting too, not the host disk's.
    """
    outs = (ret_total, ret_used, ret_avail, ret_inodes, ret_free_inodes)
    for ptr in outs:
        ctx.check(ptr, 8)
    _path_stat(ctx, fd, path_ptr, path_len, True)
    usage = ctx.kernel.accounting.usage()
    values = (
        usage.max_bytes, usage.bytes_used, max(0, usage.max_bytes - usage.bytes_used),
        usage.max_inodes, max(0, usage.max_inodes - usage.inodes_used),
    )
    for ptr, value in zip(outs, values, strict=True):
        ctx.set_u64(ptr, value)


@host_function(M, "remount", "iiii")
def remount(ctx: GuestContext, path_ptr: int, path_len: int, options_ptr: int, options_len: int) -> int:
    """``mount -o remount``: guests may not change mounts (agentOS also requires root).

    XX: even root gets EPERM; mount flags belong to the client's VM config.
    """
    return WASI_ERRNO["EPERM"]
