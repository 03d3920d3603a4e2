# The root of a host_dir mount, opened so that no symlink on the way is followed
# (hostfs.py rule 2c): a guest of an earlier VM may have planted one in a host
# directory it could write, and a mount of its path must not follow it. Every
# later host operation of the mount starts from the fd this returns.

from __future__ import annotations

import os
import stat

from .errors import KernelError

__all__ = ["DIR_FLAGS", "open_root"]

_O_PATH = getattr(os, "O_PATH", 0)
# A directory walked through, never followed if it is a symlink.
DIR_FLAGS = (_O_PATH or os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_root(host_path: str) -> int:
    """The mount root, opened from / one O_NOFOLLOW component at a time (rule 2c).

    Raises: KernelError ENOENT/ENOTDIR/EACCES, ELOOP (a component is a symlink).
    """
    if not os.path.isabs(host_path):
        raise KernelError.einval(message="host path must be absolute")
    fd = os.open("/", DIR_FLAGS)
    try:
        for part in (p for p in host_path.split("/") if p and p != "."):
            if part == "..":
                raise KernelError.einval(message="host path must not contain '..'")
            try:
                child = os.open(part, DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if _is_symlink(part, fd):
                    raise KernelError.eloop(
                        message=f"host path component {part!r} is a symlink; mount the resolved path instead"
                    ) from None
                raise KernelError.from_oserror(exc) from None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _is_symlink(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False
