# Vfs: the file operations of one VM, over its mount table.
#
# Built in layers (vfs_core.py explains them): this module completes the class
# with whole-file writes, attributes and mounts, and is what the kernel and the
# API use.

from __future__ import annotations

import posixpath
import threading
from typing import Any

from .errors import KernelError
from .fstypes import (
    OMIT,
    ROOT,
    Cred,
    FileKind,
    FileSystem,
    OpenFlags,
)
from .limits import FsAccounting
from .mounts import MountInfo
from .vfs_core import vfs_op
from .vfs_namespace import VfsNamespace
from .vfs_reads import ENTRY_OVERHEAD_BYTES, TreeListing
from .walker import W

__all__ = ["ENTRY_OVERHEAD_BYTES", "TreeListing", "Vfs"]

_DIR = FileKind.DIRECTORY


class Vfs(VfsNamespace):
    """A VM's filesystem namespace: mount table + path walker + operations
    (constructed as a VfsCore: root filesystem, VM lock, accounting)."""

    @classmethod
    def with_default_tree(
        cls,
        accounting: FsAccounting | None = None,
        *,
        lock: threading.RLock | None = None,
    ) -> Vfs:
        """A Vfs whose root is a fresh MemoryFs holding the default VM tree."""
        from .rootfs import make_root_fs

        accounting = accounting if accounting is not None else FsAccounting()
        return cls(make_root_fs(accounting), lock=lock, accounting=accounting)

    # -- contents ---------------------------------------------------------------
    @vfs_op
    def write_file(
        self,
        path: str,
        data: bytes | bytearray | memoryview,
        create_dirs: bool = False,
        mode: int = 0o644,
        *,
        offset: int | None = None,
        append: bool = False,
        cwd: str = "/",
        cred: Cred = ROOT,
    ) -> int:
        """Create or replace a file's contents; returns the file's size after.
        With `offset` (or `append`: at the end) `data` is written there and the
        rest of the file is kept.  On ENOSPC the file is unchanged (a file
        created by a replacing call is removed again).

        Raises: ENOENT (missing parent without create_dirs), EISDIR, EACCES,
        EROFS, ENOSPC, ENOTDIR, ELOOP.
        """
        data = bytes(data)
        if create_dirs:
            parent = posixpath.dirname(path.rstrip("/"))
            if parent and parent != "/":
                self.mkdir(parent, 0o755, recursive=True, cwd=cwd, cred=cred)
        if offset is not None or append:
            with self.open(path, OpenFlags.WRITE | OpenFlags.CREAT, mode, cwd=cwd, cred=cred) as h:
                h.pwrite(data, h.stat().size if append else offset or 0)
                return h.stat().size
        existed = self.exists(path, cwd=cwd, cred=cred)
        h = self.open(path, OpenFlags.WRITE | OpenFlags.CREAT, mode, cwd=cwd, cred=cred)
        try:
            old = h.stat().size
            if not old:
                h.pwrite(data, 0)  # nothing to keep; a memory fs keeps ``data`` itself
            elif len(data) > old:
                h.truncate(len(data))  # reserves the growth first (ENOSPC: no change)
                h.pwrite(data, 0)
            else:
                h.pwrite(data, 0)
                h.truncate(len(data))
        except KernelError:
            h.close()
            if not existed:
                try:
                    self.unlink(path, cwd=cwd, cred=cred)
                except KernelError:
                    pass
            raise
        h.close()
        return len(data)

    # -- attributes ------------------------------------------------------------
    @vfs_op
    def chmod(
        self,
        path: str,
        mode: int,
        follow: bool = True,
        *,
        cwd: str = "/",
        cred: Cred = ROOT,
    ) -> None:
        """Raises: ENOENT, EPERM (not owner), EROFS, ENOTSUP (host symlink), EACCES."""
        loc = self._existing(path, cwd, cred, follow)
        self._owner_or_root(loc, cred)
        self._writable_mount(loc)
        loc.mount.fs.setattr(loc.node, mode & 0o7777)

    @vfs_op
    def utimes(
        self,
        path: str,
        atime_ns: Any = None,
        mtime_ns: Any = None,
        follow: bool = True,
        *,
        cwd: str = "/",
        cred: Cred = ROOT,
    ) -> None:
        """Set times in ns; None = now, OMIT = unchanged.

        Raises: ENOENT, EPERM (explicit times, not owner), EACCES ("now"
        without write permission), EROFS.
        """
        loc = self._existing(path, cwd, cred, follow)
        if cred.uid != 0 and loc.mount.fs.access_info(loc.node)[1] != cred.uid:
            if atime_ns is None and mtime_ns is None:
                self._require(loc, cred, W)
            else:
                raise KernelError.eperm()
        if atime_ns is OMIT and mtime_ns is OMIT:
            return
        self._writable_mount(loc)
        loc.mount.fs.setattr(loc.node, None, atime_ns, mtime_ns)

    @vfs_op
    def truncate(
        self, path: str, size: int, *, cwd: str = "/", cred: Cred = ROOT
    ) -> None:
        """Raises: ENOENT, EISDIR, EINVAL (negative), EACCES, EROFS, ENOSPC."""
        loc = self._existing(path, cwd, cred, True)
        if loc.kind is _DIR:
            raise KernelError.eisdir()
        if size < 0:
            raise KernelError.einval()
        self._writable_mount(loc)
        self._require(loc, cred, W)
        loc.mount.fs.truncate(loc.node, size)

    # -- mounts ----------------------------------------------------------------
    @vfs_op
    def mount(self, path: str, fs: FileSystem, read_only: bool = False) -> None:
        """Mount `fs` on the existing directory `path` (contents are hidden).

        Raises: ENOENT, ENOTDIR, EBUSY (already a mount point, or '/').
        """
        loc = self._existing(path, "/", ROOT, True)
        if loc.kind is not _DIR:
            raise KernelError.enotdir()
        self._mounts.add(loc.path, fs, read_only)

    @vfs_op
    def unmount(self, path: str) -> None:
        """Raises: EINVAL (not a mount point), EBUSY (nested mounts, open handles)."""
        loc = self._existing(path, "/", ROOT, True)
        mount = self._mounts.remove(loc.path)
        mount.fs.close()

    def mounts(self) -> list[MountInfo]:
        with self._lock:
            return self._mounts.list()
