# Vfs: the file operations of one VM, over its mount table.
#
# Every guest file operation (WASI preview1, host ABI, ACP fs/*, client fs.*)
# comes through here; nothing hands a host path or a host preopen to a guest
# (reference/bug-wasm-commands-bypass-host-mounts.txt).
#
# Path resolution (POSIX XBD 4.13: ., .., symlinks, mount crossings, search
# permission) lives in walker.py; this module is the operations on top.
#
# Permission checks use `cred` (uid, gid); uid 0 bypasses rwx checks.  Guests
# run as USER (1000, 1000).  The default cred is ROOT because trusted callers
# (the client's fs.* API, tests) use it; guest-facing layers MUST pass the
# process's cred.
#
# Locking: one RLock per VM (created here or passed in by the kernel) is held
# for each operation and by every FileHandle method.
# XX: host I/O (hostfs) happens under the VM lock; a slow host disk stalls the
#     VM's other threads.  Good enough until measured otherwise.
# XX: no umask; callers pass the final mode.  No supplementary groups.
# XX: renaming/removing a directory that contains a mount point is EBUSY
#     (mounts are keyed by path), where Linux would move the mount along.

from __future__ import annotations

import functools
import posixpath
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import KernelError
from .fstypes import (
    OMIT,
    PATH_MAX,
    ROOT,
    S_ISVTX,
    Cred,
    DirEntry,
    FileKind,
    FileSystem,
    OpenFlags,
    Stat,
)
from .handle import FileHandle
from .limits import DEFAULT_MAX_READ_BYTES, FsAccounting, FsUsage, MemoryBudget
from .mounts import MountInfo, MountTable
from .walker import Loc as _Loc
from .walker import PathWalker, R, W, X
from .walker import Resolved as _Resolved
from .walker import check_path as _check_path
from .walker import join_path as _join

__all__ = ["ENTRY_OVERHEAD_BYTES", "TreeListing", "Vfs"]

# What a listed entry costs beyond its path (its kind and the JSON around it).
ENTRY_OVERHEAD_BYTES = 40

_DIR = FileKind.DIRECTORY
_LNK = FileKind.SYMLINK
_REG = FileKind.REGULAR

F = TypeVar("F", bound=Callable[..., Any])


def _op(fn: F) -> F:
    """Hold the VM lock for the call and stamp errors with the path argument."""

    @functools.wraps(fn)
    def wrapper(self: Vfs, path: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            try:
                return fn(self, path, *args, **kwargs)
            except KernelError as exc:
                if exc.path is None and isinstance(path, str) and "\0" not in path:
                    exc.path = path
                raise

    return wrapper  # type: ignore[return-value]


class TreeListing(list[tuple[str, FileKind]]):
    """A recursive listing: (relative path, kind) pairs, and whether the walk
    stopped at its byte bound before the end."""

    truncated: bool = False


class Vfs:
    """A VM's filesystem namespace: mount table + path walker + operations.

    Args:
        root_fs: the filesystem mounted at '/'.
        lock: the VM lock to share (one is created if omitted).
        accounting: the VM's FsAccounting, reported by `usage()`.
    """

    def __init__(
        self,
        root_fs: FileSystem,
        *,
        lock: threading.RLock | None = None,
        accounting: FsAccounting | None = None,
        root_read_only: bool = False,
        dir_snapshots: MemoryBudget | None = None,
    ) -> None:
        self._lock = lock if lock is not None else threading.RLock()
        self._mounts = MountTable(root_fs, root_read_only)
        self.accounting = accounting
        self.dir_snapshots = dir_snapshots  # charged by directory handles' listings
        walker = PathWalker(self._mounts)
        self._walk = walker.walk
        self._existing = walker.existing
        self._require = walker.require
        self._may = walker.may

    @property
    def lock(self) -> threading.RLock:
        return self._lock

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

    # -- helpers (resolution itself is walker.py) ----------------------------------
    def _writable_mount(self, loc: _Loc) -> None:
        if loc.mount.read_only:
            raise KernelError.erofs()

    def _sticky_ok(self, parent: _Loc, victim: _Loc, cred: Cred) -> None:
        """The sticky bit: only the owner of the entry or of the dir may remove it."""
        if cred.uid == 0:
            return
        mode, duid, _ = parent.mount.fs.access_info(parent.node)
        if mode & S_ISVTX:
            _, vuid, _ = victim.mount.fs.access_info(victim.node)
            if cred.uid not in (duid, vuid):
                raise KernelError.eperm(victim.path, "sticky directory")

    def _modifiable_parent(self, r: _Resolved, cred: Cred) -> _Loc:
        parent = r.parent
        assert parent is not None
        self._writable_mount(parent)
        self._require(parent, cred, W | X)
        return parent

    # -- queries --------------------------------------------------------------
    @_op
    def stat(
        self, path: str, follow: bool = True, *, cwd: str = "/", cred: Cred = ROOT
    ) -> Stat:
        """Raises: ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG, EINVAL, EACCES."""
        loc = self._existing(path, cwd, cred, follow)
        return loc.mount.fs.getattr(loc.node)

    def lstat(self, path: str, *, cwd: str = "/", cred: Cred = ROOT) -> Stat:
        """stat without following a final symlink."""
        return self.stat(path, False, cwd=cwd, cred=cred)

    def exists(
        self, path: str, follow: bool = True, *, cwd: str = "/", cred: Cred = ROOT
    ) -> bool:
        """True if `path` resolves; any error counts as "does not exist"."""
        try:
            self.stat(path, follow, cwd=cwd, cred=cred)
            return True
        except KernelError:
            return False

    @_op
    def readlink(self, path: str, *, cwd: str = "/", cred: Cred = ROOT) -> str:
        """Raises: ENOENT, EINVAL (not a symlink), ENOTDIR, ELOOP, EACCES."""
        loc = self._existing(path, cwd, cred, False)
        if loc.kind is not _LNK:
            raise KernelError.einval(message="not a symbolic link")
        return loc.mount.fs.readlink(loc.node)

    @_op
    def realpath(self, path: str, *, cwd: str = "/", cred: Cred = ROOT) -> str:
        """Canonical absolute path.  Raises: ENOENT, ENOTDIR, ELOOP, EACCES."""
        return self._existing(path, cwd, cred, True).path

    @_op
    def readdir(
        self, path: str, *, cwd: str = "/", cred: Cred = ROOT
    ) -> list[DirEntry]:
        """Entries without '.' and '..'.  Raises: ENOENT, ENOTDIR, EACCES, ELOOP."""
        loc = self._existing(path, cwd, cred, True)
        if loc.kind is not _DIR:
            raise KernelError.enotdir()
        self._require(loc, cred, R)
        return loc.mount.fs.readdir(loc.node)

    @_op
    def readdir_recursive(
        self,
        path: str,
        max_depth: int | None = None,
        *,
        max_bytes: int | None = None,
        cwd: str = "/",
        cred: Cred = ROOT,
    ) -> TreeListing:
        """Entries below `path` as (relative path, kind), depth-first; the
        listing's `truncated` says whether it was cut short.

        Direct children have depth 1 (like `find -maxdepth`).  Symlinks are
        listed, not followed; mounts below `path` are entered.  With
        `max_bytes`, the walk stops (truncated) before the listed paths plus
        `ENTRY_OVERHEAD_BYTES` each would exceed it: every step of the walk
        costs at most the length of a path it lists, so the work is bounded by
        `max_bytes` too, however deep the tree (a deep chain's paths add up to
        the square of its depth).
        Raises: ENOENT, ENOTDIR, EACCES.
        """
        root = self._existing(path, cwd, cred, True)
        if root.kind is not _DIR:
            raise KernelError.enotdir()
        out = TreeListing()
        if max_depth is not None and max_depth < 1:
            return out
        self._require(root, cred, R | X)
        budget = max_bytes if max_bytes is not None else -1
        # Pre-order depth-first walk with an explicit stack of entry iterators.
        stack = [(root, "", 1, iter(root.mount.fs.readdir(root.node)))]
        while stack:
            loc, rel, depth, entries = stack[-1]
            e = next(entries, None)
            if e is None:
                stack.pop()
                continue
            relpath = rel + e.name
            if max_bytes is not None:
                budget -= len(relpath) + len(loc.path) + ENTRY_OVERHEAD_BYTES
                if budget < 0:
                    out.truncated = True
                    return out
            out.append((relpath, e.kind))
            if e.kind is not _DIR or (max_depth is not None and depth >= max_depth):
                continue
            fs = loc.mount.fs
            child = fs.lookup(loc.node, e.name)
            if child is None or child.kind is not _DIR:
                continue
            cpath = _join(loc.path, e.name)
            m = self._mounts.at(cpath)
            cloc = (
                _Loc(e.name, cpath, m, m.root)
                if m
                else _Loc(e.name, cpath, loc.mount, child)
            )
            self._require(cloc, cred, R | X)
            stack.append(
                (cloc, relpath + "/", depth + 1, iter(cloc.mount.fs.readdir(cloc.node)))
            )
        return out

    @_op
    def read_file(
        self,
        path: str,
        *,
        max_bytes: int = DEFAULT_MAX_READ_BYTES,
        cwd: str = "/",
        cred: Cred = ROOT,
    ) -> bytes:
        """Whole contents of a regular file of at most `max_bytes`.

        Raises: ENOENT, EISDIR, EACCES, ELOOP, ENOTDIR, EFBIG (larger than
        `max_bytes`, or a device: endless).
        """
        return self.read_range(path, max_bytes=max_bytes, cwd=cwd, cred=cred)[0]

    @_op
    def read_range(
        self,
        path: str,
        offset: int = 0,
        length: int | None = None,
        *,
        max_bytes: int,
        cwd: str = "/",
        cred: Cred = ROOT,
    ) -> tuple[bytes, int]:
        """Up to `length` bytes at `offset` (to the end without `length`), and the
        file's size when opened.  Bounded before reading: the size comes from the
        open handle, so a sparse terabyte or /dev/zero costs nothing.  A device is
        read only with a `length` (exactly that many bytes; its size is 0).

        Raises: ENOENT, EISDIR, EACCES (host special files), ELOOP, ENOTDIR,
        EFBIG (more than `max_bytes` would be returned, or a device without
        `length`), EINVAL (negative offset or length).
        """
        if offset < 0 or (length is not None and length < 0):
            raise KernelError.einval()
        if self._existing(path, cwd, cred, True).kind is _DIR:
            raise KernelError.eisdir()
        # Host fifos, sockets and devices are refused by HostFs.open (EACCES).
        with self.open(path, OpenFlags.READ, cwd=cwd, cred=cred) as h:
            st = h.stat()
            if st.kind is _REG:
                size = st.size
                want = max(0, size - offset) if length is None else min(length, max(0, size - offset))
            elif length is None:
                raise KernelError.efbig(message="a device has no size: read it with an explicit length")
            else:
                size, want = 0, length
            if want > max_bytes:
                raise KernelError.efbig(
                    message=f"{want} bytes to read exceed the {max_bytes}-byte bound: read in pieces with offset/length"
                )
            chunks = []
            done = 0
            while done < want:
                chunk = h.pread(min(want - done, 1 << 20), offset + done)
                if not chunk:
                    break  # the file shrank meanwhile
                chunks.append(chunk)
                done += len(chunk)
            return b"".join(chunks), size

    def usage(self) -> FsUsage | None:
        """The VM's filesystem accounting (None if it has none)."""
        return self.accounting.usage() if self.accounting is not None else None

    # -- open -------------------------------------------------------------------
    @_op
    def open(
        self,
        path: str,
        flags: OpenFlags = OpenFlags.READ,
        mode: int = 0o666,
        *,
        cwd: str = "/",
        cred: Cred = ROOT,
    ) -> FileHandle:
        """Open (and maybe create) a file or directory.

        Raises: ENOENT, EEXIST (CREAT|EXCL), EISDIR (write/create on a dir),
        ENOTDIR (DIRECTORY on a non-dir, trailing '/'), ELOOP (NOFOLLOW on a
        symlink, loops), EACCES, EROFS, ENOSPC, ENAMETOOLONG, EINVAL.
        """
        flags = OpenFlags(flags)
        if flags & OpenFlags.APPEND:
            flags |= OpenFlags.WRITE
        writable = bool(flags & OpenFlags.WRITE)
        readable = bool(flags & OpenFlags.READ) or not writable
        creat = bool(flags & OpenFlags.CREAT)
        excl = creat and bool(flags & OpenFlags.EXCL)
        follow = not (flags & OpenFlags.NOFOLLOW) and not excl
        r = self._walk(path, cwd, cred, follow)
        loc = r.loc
        if loc is None:
            if not creat:
                raise KernelError.enoent()
            if r.trailing or flags & OpenFlags.DIRECTORY:
                raise KernelError.eisdir()
            parent = self._modifiable_parent(r, cred)
            node = parent.mount.fs.create(
                parent.node, r.name, mode & 0o7777, *cred.new_owner
            )
            loc = _Loc(r.name, r.child_path(), parent.mount, node)
            created = True
        else:
            if excl:
                raise KernelError.eexist()
            created = False
        kind = loc.kind
        if kind is _LNK:
            raise KernelError.eloop(message="final component is a symlink (NOFOLLOW)")
        if flags & OpenFlags.DIRECTORY and kind is not _DIR:
            raise KernelError.enotdir()
        if kind is _DIR and (writable or creat or flags & OpenFlags.TRUNC):
            raise KernelError.eisdir()
        truncate = bool(flags & OpenFlags.TRUNC) and kind is _REG and not created
        if not created:
            if (writable or truncate) and kind is not _DIR:
                self._writable_mount(loc)
            want = (R if readable else 0) | (W if writable or truncate else 0)
            self._require(loc, cred, want)
        fs = loc.mount.fs
        if kind is _DIR:
            parent_pair = (
                (r.parent.mount, r.parent.node) if r.parent is not None else None
            )
            return FileHandle(
                self._lock,
                loc.mount,
                loc.node,
                loc.path,
                flags,
                None,
                parent_pair,
                cred,
                True,
                False,
                self.dir_snapshots,
            )
        if truncate:
            fs.truncate(loc.node, 0)
        f = fs.open(loc.node, readable, writable)
        return FileHandle(
            self._lock,
            loc.mount,
            loc.node,
            loc.path,
            flags,
            f,
            None,
            cred,
            readable,
            writable,
        )

    @_op
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
            if len(data) > old:
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

    # -- namespace changes -----------------------------------------------------
    @_op
    def mkdir(
        self,
        path: str,
        mode: int = 0o755,
        recursive: bool = False,
        *,
        cwd: str = "/",
        cred: Cred = ROOT,
    ) -> None:
        """Create a directory; `recursive` behaves like mkdir -p.

        Raises: EEXIST (exists; with recursive only if not a directory),
        ENOENT, ENOTDIR, EACCES, EROFS, ENOSPC, ENAMETOOLONG, ELOOP.
        """
        if recursive:
            _check_path(path)
            prefix = "/" if path.startswith("/") else ""
            comps = [c for c in path.split("/") if c]
            for i, comp in enumerate(comps):
                prefix = (
                    prefix + comp
                    if (not prefix or prefix.endswith("/"))
                    else prefix + "/" + comp
                )
                if comp in (".", ".."):
                    continue
                try:
                    self.mkdir(prefix, mode, cwd=cwd, cred=cred)
                except KernelError as exc:
                    if exc.errno != "EEXIST":
                        raise
                    if not self.stat(prefix, cwd=cwd, cred=cred).is_dir:
                        if i < len(comps) - 1:
                            raise KernelError.enotdir(prefix) from None
                        raise
            return
        r = self._walk(path, cwd, cred, False)
        if r.loc is not None:
            raise KernelError.eexist()
        parent = self._modifiable_parent(r, cred)
        parent.mount.fs.mkdir(parent.node, r.name, mode & 0o7777, *cred.new_owner)

    def _removable(
        self,
        path: str,
        cwd: str,
        cred: Cred,
        want_dir: bool | None = None,
    ) -> tuple[_Resolved, _Loc, _Loc]:
        r = self._walk(path, cwd, cred, False)
        loc = r.loc
        if loc is None:
            raise KernelError.enoent()
        if want_dir is True and loc.kind is not _DIR:
            raise KernelError.enotdir()
        if want_dir is False and loc.kind is _DIR:
            raise KernelError.eisdir()
        if r.parent is None:
            raise KernelError.ebusy(message="cannot remove the root directory")
        if r.name is None:
            raise KernelError.einval(message="path ends in '.' or '..'")
        if self._mounts.covers(loc.path):
            raise KernelError.ebusy(message="mount point")
        parent = self._modifiable_parent(r, cred)
        self._sticky_ok(parent, loc, cred)
        return r, parent, loc

    @_op
    def rmdir(self, path: str, *, cwd: str = "/", cred: Cred = ROOT) -> None:
        """Raises: ENOENT, ENOTDIR, ENOTEMPTY, EBUSY (mount point or '/'),
        EINVAL ('.'), EACCES, EPERM (sticky), EROFS."""
        _, parent, loc = self._removable(path, cwd, cred, want_dir=True)
        parent.mount.fs.rmdir(parent.node, loc.name)

    @_op
    def unlink(self, path: str, *, cwd: str = "/", cred: Cred = ROOT) -> None:
        """Remove a non-directory.  Raises: ENOENT, EISDIR, ENOTDIR, EACCES,
        EPERM (sticky), EROFS, EBUSY."""
        _, parent, loc = self._removable(path, cwd, cred, want_dir=False)
        parent.mount.fs.unlink(parent.node, loc.name)

    @_op
    def remove_tree(
        self, path: str, missing_ok: bool = False, *, cwd: str = "/", cred: Cred = ROOT
    ) -> None:
        """rm -rf: remove `path` and everything below it (a final symlink is
        removed, not followed).  Never crosses into a mount: EBUSY if `path`
        is or contains a mount point (nothing is removed then).

        Raises: ENOENT (unless missing_ok), EBUSY, EACCES, EPERM, EROFS, EINVAL.
        """
        try:
            _, parent, loc = self._removable(path, cwd, cred)
        except KernelError as exc:
            if exc.errno == "ENOENT" and missing_ok:
                return
            raise
        fs = loc.mount.fs
        if loc.kind is not _DIR:
            fs.unlink(parent.node, loc.name)
            return
        # Iterative post-order: (dir loc, entries still to visit).
        stack: list[tuple[_Loc, list[DirEntry]]] = [(loc, [])]
        self._require(loc, cred, R | W | X)
        stack[0][1].extend(fs.readdir(loc.node))
        while stack:
            dloc, entries = stack[-1]
            if not entries:
                stack.pop()
                if stack:
                    fs.rmdir(stack[-1][0].node, dloc.name)
                continue
            e = entries.pop()
            if e.kind is _DIR:
                child = fs.lookup(dloc.node, e.name)
                if child is not None and child.kind is _DIR:
                    cloc = _Loc(e.name, _join(dloc.path, e.name), dloc.mount, child)
                    self._require(cloc, cred, R | W | X)
                    stack.append((cloc, list(fs.readdir(child))))
                    continue
            if cred.uid != 0:
                child = fs.lookup(dloc.node, e.name)
                if child is not None:
                    self._sticky_ok(dloc, _Loc(e.name, "", dloc.mount, child), cred)
            fs.unlink(dloc.node, e.name)
        fs.rmdir(parent.node, loc.name)

    @_op
    def rename(self, old: str, new: str, *, cwd: str = "/", cred: Cred = ROOT) -> None:
        """POSIX rename.

        Raises: ENOENT, EXDEV (different mounts), EBUSY (mount points, '/'),
        EINVAL (dir into its own subtree, '.'/'..'), EISDIR, ENOTDIR,
        ENOTEMPTY, EACCES, EPERM (sticky), EROFS.
        """
        ro, src, old_parent = self._removable_for_rename(old, cwd, cred)
        rn = self._walk(new, cwd, cred, False)
        if rn.parent is None or rn.name is None:
            raise (
                KernelError.ebusy(new) if rn.parent is None else KernelError.einval(new)
            )
        new_parent = rn.parent
        if new_parent.mount is not old_parent.mount:
            raise KernelError.exdev(new, "rename across mounts")
        new_path = rn.child_path()
        if (ro.trailing or rn.trailing) and src.kind is not _DIR:
            raise KernelError.enotdir()
        if src.kind is _DIR and (
            new_path == src.path or new_path.startswith(src.path + "/")
        ):
            raise KernelError.einval(new, "cannot move a directory into itself")
        fs = src.mount.fs
        dst = rn.loc
        if dst is not None:
            if self._mounts.covers(dst.path):
                raise KernelError.ebusy(new, "mount point")
            if fs.same_node(src.node, dst.node):
                return
        self._writable_mount(new_parent)
        self._require(new_parent, cred, W | X)
        if dst is not None:
            self._sticky_ok(new_parent, dst, cred)
        fs.rename(old_parent.node, src.name, new_parent.node, rn.name)

    def _removable_for_rename(
        self, old: str, cwd: str, cred: Cred
    ) -> tuple[_Resolved, _Loc, _Loc]:
        try:
            r, parent, loc = self._removable(old, cwd, cred)
        except KernelError as exc:
            if exc.path is None:
                exc.path = old
            raise
        return r, loc, parent

    def symlink(
        self, target: str, path: str, *, cwd: str = "/", cred: Cred = ROOT
    ) -> None:
        """Create `path` as a symlink holding `target` (not checked to exist).

        Raises: EEXIST, ENOENT (empty target or missing parent), EINVAL (NUL),
        ENAMETOOLONG, EACCES, EROFS, ENOSPC.
        """
        with self._lock:
            try:
                if not target:
                    raise KernelError.enoent(message="empty symlink target")
                if "\0" in target:
                    raise KernelError.einval(message="symlink target contains NUL")
                if len(target.encode("utf-8", "surrogateescape")) >= PATH_MAX:
                    raise KernelError.enametoolong()
                r = self._walk(path, cwd, cred, False)
                if r.loc is not None:
                    raise KernelError.eexist()
                if r.trailing:
                    raise KernelError.enoent()
                parent = self._modifiable_parent(r, cred)
                parent.mount.fs.symlink(parent.node, r.name, target, *cred.new_owner)
            except KernelError as exc:
                if exc.path is None and "\0" not in path:
                    exc.path = path
                raise

    @_op
    def link(self, old: str, new: str, *, cwd: str = "/", cred: Cred = ROOT) -> None:
        """Hard link (a final symlink in `old` is not followed).

        Raises: ENOENT, EEXIST, EPERM (directories), EXDEV (different mounts),
        EACCES, EROFS, EMLINK, ENOSPC.
        """
        src = self._existing(old, cwd, cred, False)
        if src.kind is _DIR:
            raise KernelError.eperm(old, "hard links to directories are not allowed")
        rn = self._walk(new, cwd, cred, False)
        if rn.loc is not None:
            raise KernelError.eexist(new)
        if rn.trailing:
            raise KernelError.enoent(new)
        if rn.parent is None or rn.parent.mount is not src.mount:
            raise KernelError.exdev(new, "link across mounts")
        parent = self._modifiable_parent(rn, cred)
        parent.mount.fs.link(src.node, parent.node, rn.name)

    # -- attributes ------------------------------------------------------------
    def _owner_or_root(self, loc: _Loc, cred: Cred) -> None:
        if cred.uid != 0 and loc.mount.fs.access_info(loc.node)[1] != cred.uid:
            raise KernelError.eperm(loc.path)

    @_op
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

    @_op
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

    @_op
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
    @_op
    def mount(self, path: str, fs: FileSystem, read_only: bool = False) -> None:
        """Mount `fs` on the existing directory `path` (contents are hidden).

        Raises: ENOENT, ENOTDIR, EBUSY (already a mount point, or '/').
        """
        loc = self._existing(path, "/", ROOT, True)
        if loc.kind is not _DIR:
            raise KernelError.enotdir()
        self._mounts.add(loc.path, fs, read_only)

    @_op
    def unmount(self, path: str) -> None:
        """Raises: EINVAL (not a mount point), EBUSY (nested mounts, open handles)."""
        loc = self._existing(path, "/", ROOT, True)
        mount = self._mounts.remove(loc.path)
        mount.fs.close()

    def mounts(self) -> list[MountInfo]:
        with self._lock:
            return self._mounts.list()
