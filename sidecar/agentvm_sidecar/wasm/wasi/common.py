"""Helpers shared by the preview1 functions: fds, dirfds and guest paths.

Fds seen by WASI functions are of two sorts (agentOS libc convention, see
``context.py``): tagged preopens ``0x40000000 | (3 + n)``, hidden from the guest fd
table and naming a VM directory, and ordinary fds in ``ctx.proc.fds``.
"""

from __future__ import annotations

import posixpath

from ...kernel.descriptions import Description, FileDescription
from ...kernel.errors import KernelError
from ...kernel.fstypes import FileKind
from ..context import PREOPEN_TAG, GuestContext

U32 = 0xFFFFFFFF
U64 = 0xFFFFFFFFFFFFFFFF
ERRNO_SUCCESS = 0


def is_tagged(fd: int) -> bool:
    return bool(fd & U32 & PREOPEN_TAG)


def preopen_or_ebadf(ctx: GuestContext, fd: int) -> str:
    """The directory of tagged preopen ``fd``. Raises: EBADF."""
    path = ctx.preopen_path(fd)
    if path is None:
        raise KernelError.ebadf(fd & U32)
    return path


def description(ctx: GuestContext, fd: int) -> Description:
    """The open description of guest fd ``fd`` (tagged preopens are not in the table).

    Raises: EBADF.
    """
    fd &= U32
    if fd & PREOPEN_TAG:
        raise KernelError.ebadf(fd)
    return ctx.proc.fds.get(fd)


def dir_base(ctx: GuestContext, dirfd: int) -> str:
    """The VM directory a ``path_*`` call's relative path starts from.

    Raises: EBADF (no such fd), ENOTDIR (an fd that is not a directory).
    """
    path = ctx.preopen_path(dirfd)
    if path is not None:
        return path
    desc = description(ctx, dirfd)
    if desc.kind is not FileKind.DIRECTORY or not isinstance(desc, FileDescription):
        raise KernelError.enotdir()
    return desc.path


def guest_path(ctx: GuestContext, ptr: int, length: int) -> str:
    """A path argument, relative to its dirfd.

    Raises: GuestFault, ENOENT (empty), EINVAL (NUL byte), ENOTCAPABLE (absolute:
    preview1 paths are resolved relative to a directory capability, which an
    absolute path would leave; wasi-libc turns absolute paths into a preopen and
    a relative path before calling, as the agentOS libc does).
    """
    return relative_path(ctx.string(ptr, length & U32))


def relative_path(path: str) -> str:
    """``path`` if a preview1 path call takes it (see ``guest_path``).

    Raises: ENOENT (empty), EINVAL (NUL byte), ENOTCAPABLE (absolute).
    """
    if not path:
        raise KernelError.enoent(message="empty path")
    if "\0" in path:
        raise KernelError.einval(message="path contains a NUL byte")
    if path.startswith("/"):
        raise KernelError("ENOTCAPABLE", "absolute path given to a preview1 path call", path)
    return path


def absolute(base: str, path: str) -> str:
    """``path`` (relative to directory ``base``) as a VM-absolute path.

    Only used where one VFS call takes two paths with different bases (rename, link);
    resolving ``base/path`` from ``/`` is the same walk as resolving ``path`` with
    ``cwd=base`` because ``base`` is a canonical directory path.
    """
    return path if path.startswith("/") else posixpath.join(base, path)
