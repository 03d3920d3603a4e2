# VfsCore: the state and shared checks of a VM's filesystem namespace, and open().
#
# Every guest file operation (WASI preview1, host ABI, ACP fs/*, client fs.*)
# comes through the Vfs (vfs.py); nothing hands a host path or a host preopen to a
# guest (reference/bug-wasm-commands-bypass-host-mounts.txt).  The Vfs is built in
# layers, each a module with one job, each using only the layers below it:
#   vfs_core.py       state, the VM lock, permission/mount checks, open()
#   vfs_reads.py      queries and bounded reads (stat, readdir, read_range...)
#   vfs_namespace.py  names: mkdir, unlink, rmdir, rm -rf, rename, symlink, link
#   vfs.py            the Vfs: whole-file writes, attributes, mounts
# Path resolution (POSIX XBD 4.13: ., .., symlinks, mount crossings, search
# permission) lives in walker.py, the mount table in mounts.py.
#
# Permission checks use `cred` (uid, gid); uid 0 bypasses rwx checks.  Guests
# run as USER (1000, 1000).  The default cred is ROOT because trusted callers
# (the client's fs.* API, tests) use it; guest-facing layers MUST pass the
# process's cred.
#
# Locking: one RLock per VM (created here or passed in by the kernel) is held
# for each operation (`vfs_op`) and by every FileHandle method.
# XX: host I/O (hostfs) happens under the VM lock; a slow host disk stalls the
#     VM's other threads.  Good enough until measured otherwise.
# XX: no umask; callers pass the final mode.  No supplementary groups.

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from . import attrcache
from .errors import KernelError
from .fstypes import (
    ROOT,
    S_ISVTX,
    Cred,
    FileKind,
    FileSystem,
    OpenFlags,
)
from .handle import FileHandle
from .limits import FsAccounting, MemoryBudget
from .mounts import MountTable
from .walker import Loc as _Loc
from .walker import PathWalker, R, W, X
from .walker import Resolved as _Resolved

__all__ = ["VfsCore", "vfs_op"]

_DIR = FileKind.DIRECTORY
_LNK = FileKind.SYMLINK
_REG = FileKind.REGULAR
_READ, _WRITE, _APPEND, _CREAT, _EXCL, _TRUNC, _DIRECTORY, _NOFOLLOW = (
    int(f)
    for f in (
        OpenFlags.READ, OpenFlags.WRITE, OpenFlags.APPEND, OpenFlags.CREAT,
        OpenFlags.EXCL, OpenFlags.TRUNC, OpenFlags.DIRECTORY, OpenFlags.NOFOLLOW,
    )
)

F = TypeVar("F", bound=Callable[..., Any])


def vfs_op(fn: F) -> F:
    """Hold the VM lock for the call and stamp errors with the path argument."""

    @functools.wraps(fn)
    def wrapper(self: VfsCore, path: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            try:
                return fn(self, path, *args, **kwargs)
            except KernelError as exc:
                if exc.path is None and isinstance(path, str) and "\0" not in path:
                    exc.path = path
                raise

    return wrapper  # type: ignore[return-value]


def _without_leading_dots(path: str) -> str:
    """``path`` without leading "./" components ("./a" and "a" walk the same
    components: a "." is skipped, and only a final one changes the result);
    `ls` asks about "docs" and "./docs" in turn."""
    rest = path
    while rest.startswith("./"):
        rest = rest[2:].lstrip("/")
    return rest or path


class VfsCore:
    """The state every layer of the Vfs shares: mount table, path walker, lock.

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
        self._walk_on = walker.walk_on
        self._existing = walker.existing
        self._require = walker.require
        self._may = walker.may

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    # -- helpers (resolution itself is walker.py) ----------------------------------
    def _walk_remembered(self, path: str, cwd: str, cred: Cred, follow: bool) -> _Resolved:
        """``_walk``, answered from the calling guest process's cache when it
        resolved the same path a moment ago and nothing it depends on changed
        (attrcache.py: tar and `ls -l` resolve each path four or five times),
        and otherwise walked on from its remembered directory (below)."""
        cache = attrcache.current()
        if cache is None:
            return self._walk(path, cwd, cred, follow)
        rel = _without_leading_dots(path)
        key = (self, rel, cwd, cred)
        r = cache.walked(key, follow)
        if r is None:
            began = cache.begin_walk()
            r = self._walk_from_dir(cache, rel, path, cwd, cred, follow, began)
            if r.loc is not None:  # what was not found is never remembered
                # An lstat that found no symlink answers a stat of the same path
                # too (`ls -l` asks for both); any other walk only its own kind.
                either = not follow and r.loc.kind is not _LNK
                cache.remember_walk(key, r, began, None if either else follow)
        return r

    def _walk_from_dir(
        self, cache: attrcache.AttrCache, rel: str, path: str, cwd: str, cred: Cred, follow: bool,
        began: tuple[int, int],
    ) -> _Resolved:
        """Resolve ``path`` (``rel``: it without leading "./") as its directory's
        remembered walk plus its last component.

        Why: grep -r, find and tar name every file by its path from where they
        started (`a/b/c/f`), and a walk from the root costs ~2 us per component
        even when each is cached, while the directory was walked a moment ago
        (when it was listed, or for its previous file). The result is the same
        as walking the whole path (``PathWalker.walk_on``); the directory's walk
        is answered by the same rules as any remembered walk (attrcache.py,
        "Walks"), and one walked here is remembered for the next file. One
        level only: a directory that is not remembered is walked whole, so a
        path of any depth costs at most two walks.
        """
        head, _, name = rel.rpartition("/")
        if not head or not name or name == "." or name == ".." or head[-1] == "/":
            return self._walk(path, cwd, cred, follow)
        dir_key = (self, head, cwd, cred)
        dir_walk = cache.walked(dir_key, True)
        if dir_walk is None:
            dir_walk = self._walk(head, cwd, cred, True)
            if dir_walk.loc is None:
                raise KernelError.enoent()  # as the whole path's walk says of a missing directory
            cache.remember_walk(dir_key, dir_walk, began, True)
        return self._walk_on(dir_walk, name, path, cred, follow)

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

    def _owner_or_root(self, loc: _Loc, cred: Cred) -> None:
        if cred.uid != 0 and loc.mount.fs.access_info(loc.node)[1] != cred.uid:
            raise KernelError.eperm(loc.path)


    # -- open -------------------------------------------------------------------
    @vfs_op
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
        # Tested as a plain int: IntFlag operators cost ~1 us each, and this is the
        # open of every file a guest reads.
        bits = int(flags)
        if bits & _APPEND and not bits & _WRITE:
            bits |= _WRITE
            flags = OpenFlags(bits)  # only then: building an OpenFlags costs ~0.7 us
        writable = bool(bits & _WRITE)
        readable = bool(bits & _READ) or not writable
        creat = bool(bits & _CREAT)
        excl = creat and bool(bits & _EXCL)
        follow = not (bits & _NOFOLLOW) and not excl
        r = self._walk_remembered(path, cwd, cred, follow)
        loc = r.loc
        if loc is None:
            if not creat:
                raise KernelError.enoent()
            if r.trailing or bits & _DIRECTORY:
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
        if bits & _DIRECTORY and kind is not _DIR:
            raise KernelError.enotdir()
        if kind is _DIR and (writable or creat or bits & _TRUNC):
            raise KernelError.eisdir()
        truncate = bool(bits & _TRUNC) and kind is _REG and not created
        if not created:
            if (writable or truncate) and kind is not _DIR:
                self._writable_mount(loc)
            want = (R if readable else 0) | (W if writable or truncate else 0)
            self._require(loc, cred, want)
        fs = loc.mount.fs
        if kind is _DIR:  # no open file: listed through charged snapshots, `..` via its parent
            f, snapshots = None, self.dir_snapshots
            parent_pair = (r.parent.mount, r.parent.node) if r.parent is not None else None
            readable, writable = True, False
        else:
            if truncate:
                fs.truncate(loc.node, 0)
            f, snapshots, parent_pair = fs.open(loc.node, readable, writable), None, None
        return FileHandle(
            self._lock, loc.mount, loc.node, loc.path, flags, f, parent_pair, cred, readable, writable, snapshots
        )

