# MountTable: which filesystem answers for which VM directory.
#
# Mounts are keyed by canonical VM path (what the walker computes: no '.',
# '..' or symlinks).  The walker asks `at(path)` each time it steps into a
# directory; a hit swaps the (fs, node) it is standing on for the mounted
# filesystem's root.  Because the walker keeps a stack of VM directories,
# '..' from a mount root naturally returns to the mount point's parent.
#
# Rules (after Linux mount(2)/umount(2), simplified):
#  * the root mount "/" exists from construction and cannot be unmounted;
#  * mounting over a non-empty directory hides its contents until unmount;
#  * a path can carry one mount (EBUSY instead of Linux's stacking);
#  * unmount is EINVAL for a path that is not a mount point, EBUSY while a
#    mount sits below it or a FileHandle on it is open.
#
# Path-keyed mounts mean renaming or removing a directory that is, or
# contains, a mount point must be refused (the VFS returns EBUSY).
#
# The table has no lock of its own: it is only used under the Vfs lock.
# Validating that a mount point exists is the VFS's job (it owns resolution).
#
# XX: process cwds inside a mount do not make unmount EBUSY (the process
#     table does not exist yet); such a cwd silently moves to the hidden dir.

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import attrcache
from .errors import KernelError
from .fstypes import FileSystem

__all__ = ["Mount", "MountInfo", "MountTable"]


@dataclass(eq=False, slots=True)
class Mount:
    """One mounted filesystem.  `open_handles` counts live FileHandles on it."""

    path: str
    fs: FileSystem
    read_only: bool
    open_handles: int = 0
    root: Any = field(default=None)

    def __post_init__(self) -> None:
        self.root = self.fs.root()
        self.read_only = bool(self.read_only or getattr(self.fs, "read_only", False))


@dataclass(frozen=True, slots=True)
class MountInfo:
    """What `mounts()` reports."""

    path: str
    fs_type: str
    read_only: bool
    open_handles: int


class MountTable:
    """VM path -> Mount.  Not thread-safe on its own (guarded by the Vfs lock)."""

    def __init__(self, root_fs: FileSystem, read_only: bool = False) -> None:
        self._mounts: dict[str, Mount] = {"/": Mount("/", root_fs, read_only)}

    def root(self) -> Mount:
        return self._mounts["/"]

    def at(self, path: str) -> Mount | None:
        """The mount whose mount point is exactly `path` (canonical)."""
        return self._mounts.get(path)

    def names_under(self, path: str) -> list[str]:
        """The names in directory ``path`` (canonical) that are mount points."""
        prefix = path if path == "/" else path + "/"
        return [p[len(prefix):] for p in self._mounts if p != "/" and p.startswith(prefix) and "/" not in p[len(prefix):]]

    def __len__(self) -> int:
        return len(self._mounts)

    def add(self, path: str, fs: FileSystem, read_only: bool = False) -> Mount:
        """Register a mount at canonical `path`.

        Raises: EBUSY if `path` already carries a mount, EINVAL for "/".
        """
        if path == "/":
            raise KernelError.ebusy(path, "the root mount cannot be replaced")
        if path in self._mounts:
            raise KernelError.ebusy(path, "already a mount point")
        mount = Mount(path, fs, read_only)
        self._mounts[path] = mount
        attrcache.bump_namespace()  # remembered walks may cross this mount point
        return mount

    def remove(self, path: str) -> Mount:
        """Unregister the mount at canonical `path` (the caller closes its fs).

        Raises: EINVAL if not a mount point or "/", EBUSY if mounts are nested
        below it or handles are open on it.
        """
        mount = self._mounts.get(path)
        if mount is None or path == "/":
            raise KernelError.einval(path, "not a mount point")
        if self.has_mounts_below(path):
            raise KernelError.ebusy(path, "other filesystems are mounted below it")
        if mount.open_handles > 0:
            raise KernelError.ebusy(path, "files are open on it")
        del self._mounts[path]
        attrcache.bump_namespace()
        return mount

    def has_mounts_below(self, path: str) -> bool:
        prefix = "/" if path == "/" else path + "/"
        return any(p != path and p.startswith(prefix) for p in self._mounts)

    def covers(self, path: str) -> bool:
        """True if `path` is a mount point or has a mount point below it."""
        return path in self._mounts or self.has_mounts_below(path)

    def list(self) -> list[MountInfo]:
        return [
            MountInfo(m.path, type(m.fs).__name__, m.read_only, m.open_handles)
            for _, m in sorted(self._mounts.items())
        ]
