# MemoryFs: the in-memory filesystem (the VM root, `memory` mounts, and shared
# read-only layers such as /bin).
#
# Nodes are `MemNode` objects; the VFS treats them as opaque except `.kind`.
# Directories map name -> MemNode in an insertion-ordered dict (stable readdir
# order); regular files hold a `bytearray`, or a read-only `bytes`/memoryview
# *backing* that is copied on first write, so a layer built from package bytes
# costs nothing per VM until a guest modifies a file.  Directories keep a
# parent pointer (they have exactly one link from a parent) which gives rename
# its "not into your own subtree" check without path arithmetic.
#
# POSIX behaviour implemented here (IEEE 1003.1 rename(), unlink(), rmdir()):
#  * rename replaces a file with a file, an empty dir with a dir; file over dir
#    is EISDIR, dir over file ENOTDIR, dir over non-empty dir ENOTEMPTY, a dir
#    into its own subtree EINVAL; renaming a name onto another link of the same
#    inode does nothing.
#  * "If one or more processes have the file open when the last link is
#    removed, the link shall be removed before unlink() returns, but the
#    removal of the file contents shall be postponed until all references to
#    the file are closed."  -> MemNode.open_count.
#
# Accounting: when built with an FsAccounting, every new inode and every byte
# of growth is reserved *before* the change (ENOSPC leaves state unchanged),
# and released when the last link and last open reference are gone.  Bytes are
# file data, symlink targets, and each directory entry (name + DIRENT_COST), so
# names and hard links cost what they occupy.
#
# Locking: a writable MemoryFs belongs to one VM and is only called under that
# VM's Vfs lock.  `freeze()` makes it immutable (every mutation EROFS, no atime
# updates) so a frozen instance can be mounted read-only into many VMs at once
# without any lock.
#
# Stat answers in C (wasm/stat_memo.py): a change of names or modes bumps the
# sidecar-wide stat epoch (attrcache.changes_names); a change only of a file's
# size or times (write, truncate, access) counts in this filesystem's own change
# counter (native.FsCounters), so a write to /tmp leaves other filesystems'
# memoized answers alone.  An answer taken from here (getattr, listed_records)
# carries the count read before it.  Access times follow Linux's default
# `relatime`: a read sets atime only when it is not after the last change (or is
# a day old), so reading a tree twice changes no stat the second time.
#
# This module never parses VM paths, except the builder helpers (mkdirs,
# add_file, add_symlink) which take absolute paths *inside this fs* and never
# follow symlinks; they exist to populate layers and the default tree.

from __future__ import annotations

import itertools
import sys
import time
from typing import Any

from .. import native
from . import attrcache
from .errors import KernelError
from .fstypes import (
    NAME_MAX,
    OMIT,
    DirEntry,
    FileKind,
    Stat,
    allocate_dev,
)
from .limits import FsAccounting
from .memfs_open_file import MemOpenFile

__all__ = ["LINK_MAX", "MemNode", "MemoryFs"]

LINK_MAX = 65000  # like ext4; bounds hard links per inode (EMLINK)
DIRENT_COST = 64  # bytes charged per directory entry on top of its name
RELATIME_NS = 24 * 3600 * 10**9  # an atime this old is set again on the next read (Linux relatime)
LISTED_MAX = 128  # entries of one listing the stat memo keeps (agentvm_native.c AVM_LISTED_MAX)
_DIR_SIZE = 4096

_REG = FileKind.REGULAR
_DIR = FileKind.DIRECTORY
_LNK = FileKind.SYMLINK


def check_name(name: str) -> None:
    """Validate one path component.

    Raises:
        KernelError: EINVAL for '', '.', '..', '/' or NUL inside; ENAMETOOLONG
            for more than NAME_MAX UTF-8 bytes.
    """
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise KernelError.einval(message=f"invalid file name {name!r}")
    if (
        len(name) > NAME_MAX // 4
        and len(name.encode("utf-8", "surrogateescape")) > NAME_MAX
    ):
        raise KernelError.enametoolong()


class MemNode:
    """One inode of a MemoryFs."""

    __slots__ = (
        "atime_ns",
        "children",
        "ctime_ns",
        "data",
        "gid",
        "ino",
        "kind",
        "mtime_ns",
        "nlink",
        "open_count",
        "parent",
        "perm",
        "target",
        "uid",
    )

    def __init__(
        self, ino: int, kind: FileKind, perm: int, uid: int, gid: int, now: int
    ) -> None:
        self.ino = ino
        self.kind = kind
        # the caller's int when it needs no masking: a new int per node is 32 bytes
        self.perm = perm if 0 <= perm <= 0o7777 else perm & 0o7777
        self.uid = uid
        self.gid = gid
        self.nlink = 0
        self.atime_ns = self.mtime_ns = self.ctime_ns = now
        self.children: dict[str, MemNode] | None = {} if kind is _DIR else None
        self.data: bytearray | bytes | memoryview = b""
        self.target = ""
        self.parent: MemNode | None = None
        self.open_count = 0

    @property
    def mode(self) -> int:
        return self.kind.type_bits | self.perm

    @property
    def size(self) -> int:
        if self.kind is _REG:
            return len(self.data)
        if self.kind is _LNK:
            return len(self.target.encode("utf-8", "surrogateescape"))
        return _DIR_SIZE if self.kind is _DIR else 0

    def __repr__(self) -> str:
        return f"<MemNode ino={self.ino} {self.kind.value}>"


def _entry_cost(name: str) -> int:
    """Bytes a directory entry is charged: its name plus DIRENT_COST. Without it,
    hard links and empty files would be free, and a guest could fill the host's
    memory with names (1.7 M links once cost 590 MB while 'using' 1 MB)."""
    return len(name.encode("utf-8", "surrogateescape")) + DIRENT_COST


def _target_cost(node: MemNode) -> int:
    return len(node.target.encode("utf-8", "surrogateescape")) if node.kind is _LNK else 0


class MemoryFs:
    """An in-memory POSIX filesystem (see module header).

    Args:
        accounting: the VM's FsAccounting to charge, or None (shared layers).
        root_mode, root_uid, root_gid: attributes of the root directory.
        created_at: while set, the time (ns) new nodes are stamped with, not
            the clock's (rootfs.py: a VM's default tree is made at one instant,
            and its ~25 nodes share one int object instead of one each).
    """

    def __init__(
        self,
        accounting: FsAccounting | None = None,
        *,
        root_mode: int = 0o755,
        root_uid: int = 0,
        root_gid: int = 0,
        created_at: int | None = None,
    ) -> None:
        self.dev = allocate_dev()
        self._counters = native.fs_counters()
        self.changes = self._counters.new()  # this filesystem's change counter (module header)
        self._watched = False  # an answer was taken since the counter last moved (``_changed``)
        self.read_only = False
        self.created_at = created_at
        self._accounting = accounting
        self._next_ino = 1
        self._root = self._new_node(_DIR, root_mode, root_uid, root_gid)
        self._root.nlink = 2

    # -- internals ---------------------------------------------------------
    def _new_node(self, kind: FileKind, mode: int, uid: int, gid: int) -> MemNode:
        if self._accounting is not None:
            self._accounting.check_and_reserve(0, 1)
        now = self.created_at if self.created_at is not None else time.time_ns()
        node = MemNode(self._next_ino, kind, mode, uid, gid, now)
        self._next_ino += 1
        return node

    def _writable(self) -> None:
        if self.read_only:
            raise KernelError.erofs()

    def _reserve(self, nbytes: int) -> None:
        if nbytes > 0 and self._accounting is not None:
            self._accounting.check_and_reserve(nbytes, 0)

    def _release(self, nbytes: int, ninodes: int = 0) -> None:
        if self._accounting is not None and (nbytes > 0 or ninodes > 0):
            self._accounting.release(max(nbytes, 0), ninodes)

    def _maybe_free(self, node: MemNode) -> None:
        if node.nlink <= 0 and node.open_count <= 0:
            size = len(node.data) if node.kind is _REG else _target_cost(node)
            node.data = b""
            node.children = {} if node.kind is _DIR else None
            self._release(size, 1)

    @staticmethod
    def _dir(node: Any) -> MemNode:
        if not isinstance(node, MemNode) or node.kind is not _DIR:
            raise KernelError.enotdir()
        if node.nlink == 0:
            raise KernelError.enoent(message="directory has been removed")
        return node

    @staticmethod
    def _touch_dir(dir: MemNode, now: int) -> None:
        dir.mtime_ns = dir.ctime_ns = now

    def _changed(self) -> None:
        """A file's size or times changed (after the change; names and modes bump
        the stat epoch instead: attrcache.changes_names). The counter moves only
        when an answer was taken since it last did: a write costs no C call while
        nothing is memoized. Safe because an answer reads the count, then sets
        ``_watched``, then reads the nodes: a change after that read either finds
        ``_watched`` set and moves the counter, or finds it cleared by a change
        that already moved it."""
        if self._watched:
            self._watched = False
            self._counters.changed(self.changes)

    def _count(self) -> int:
        """The change count, for an answer about to be read from the nodes (``_changed``)."""
        count = self._counters.count(self.changes)
        self._watched = True
        return count

    def _accessed(self, node: MemNode) -> None:
        """``node`` was read: its atime, as relatime sets it (module header)."""
        if self.read_only:
            return
        now = time.time_ns()
        atime = node.atime_ns
        if atime <= node.mtime_ns or atime <= node.ctime_ns or now - atime >= RELATIME_NS:
            node.atime_ns = now
            self._changed()

    @attrcache.changes_names
    def _add(
        self, dir: MemNode, name: str, kind: FileKind, mode: int, uid: int, gid: int
    ) -> MemNode:
        self._writable()
        check_name(name)
        dir = self._dir(dir)
        assert dir.children is not None
        if name in dir.children:
            raise KernelError.eexist()
        self._reserve(_entry_cost(name))
        try:
            node = self._new_node(kind, mode, uid, gid)
        except KernelError:
            self._release(_entry_cost(name))
            raise
        node.nlink = 1
        if kind is _DIR:
            node.nlink = 2
            node.parent = dir
            dir.nlink += 1
        dir.children[name] = node
        self._touch_dir(dir, node.ctime_ns)
        return node

    # -- FileSystem protocol -------------------------------------------------
    def root(self) -> MemNode:
        return self._root

    def lookup(self, dir: MemNode, name: str) -> MemNode | None:
        """Raises: ENOTDIR if `dir` is not a directory."""
        children = dir.children
        if children is None:
            raise KernelError.enotdir()
        return children.get(name)

    def access_info(self, node: MemNode) -> tuple[int, int, int]:
        return node.kind.type_bits | node.perm, node.uid, node.gid

    def getattr(self, node: MemNode) -> Stat:
        cache = attrcache.current()
        if cache is None:
            return self._stat(node)
        count = self._count()  # before what the answer is made of
        st = self._stat(node)
        cache.counted_answer = (st, self.changes, count)  # may be memoized (stat_memo.py)
        return st

    def _stat(self, node: MemNode) -> Stat:
        return Stat(
            node.ino,
            self.dev,
            node.mode,
            node.nlink,
            node.uid,
            node.gid,
            node.size,
            node.atime_ns,
            node.mtime_ns,
            node.ctime_ns,
        )

    def readlink(self, node: MemNode) -> str:
        """Raises: EINVAL if not a symlink."""
        if node.kind is not _LNK:
            raise KernelError.einval(message="not a symbolic link")
        return node.target

    def listed_records(self, dir: MemNode) -> tuple[int, bytes, int, int] | None:
        """(st_dev, the first LISTED_MAX entries of ``dir`` as records as
        ``native.list_dir`` writes them, this filesystem's counter and its count
        read before them): what the stat memo's listing fill takes
        (vfs_reads.listed_records, wasm/stat_memo.py)."""
        count = self._count()
        children = dir.children
        if children is None:
            return None
        pack = native.pack_dirent
        records = b"".join([
            pack(c.ino, c.nlink, c.size, c.atime_ns, c.mtime_ns, c.ctime_ns, c.mode, c.uid, c.gid,
                 name.encode("utf-8", "surrogateescape"))
            for name, c in itertools.islice(children.items(), LISTED_MAX)
        ])
        return self.dev, records, self.changes, count

    def readdir(self, dir: MemNode) -> list[DirEntry]:
        """Raises: ENOTDIR."""
        dir = self._dir(dir)
        assert dir.children is not None
        self._accessed(dir)
        return [
            DirEntry(name, child.kind, child.ino)
            for name, child in dir.children.items()
        ]

    def create(self, dir: MemNode, name: str, mode: int, uid: int, gid: int) -> MemNode:
        """New empty regular file.  Raises: EROFS, EEXIST, ENOTDIR, ENOSPC, EINVAL."""
        return self._add(dir, name, _REG, mode, uid, gid)

    def mkdir(self, dir: MemNode, name: str, mode: int, uid: int, gid: int) -> MemNode:
        """Raises: EROFS, EEXIST, ENOTDIR, ENOSPC, EMLINK, EINVAL."""
        if isinstance(dir, MemNode) and dir.nlink >= LINK_MAX:
            raise KernelError.emlink()
        return self._add(dir, name, _DIR, mode, uid, gid)

    @attrcache.changes_names
    def symlink(
        self, dir: MemNode, name: str, target: str, uid: int, gid: int
    ) -> MemNode:
        """Raises: EROFS, EEXIST, ENOTDIR, ENOSPC, EINVAL."""
        cost = len(target.encode("utf-8", "surrogateescape"))
        self._reserve(cost)
        try:
            node = self._add(dir, name, _LNK, 0o777, uid, gid)
        except KernelError:
            self._release(cost)
            raise
        node.target = target
        return node

    @attrcache.changes_names
    def link(self, node: MemNode, dir: MemNode, name: str) -> None:
        """Raises: EROFS, EPERM (directories), EMLINK, EEXIST, ENOENT, ENOTDIR."""
        self._writable()
        check_name(name)
        dir = self._dir(dir)
        assert dir.children is not None
        if node.kind is _DIR:
            raise KernelError.eperm(message="hard links to directories are not allowed")
        if node.nlink <= 0:
            raise KernelError.enoent()
        if node.nlink >= LINK_MAX:
            raise KernelError.emlink()
        if name in dir.children:
            raise KernelError.eexist()
        self._reserve(_entry_cost(name))
        dir.children[name] = node
        node.nlink += 1
        now = time.time_ns()
        node.ctime_ns = now
        self._touch_dir(dir, now)

    @attrcache.changes_names
    def unlink(self, dir: MemNode, name: str) -> None:
        """Remove a non-directory name.  Raises: EROFS, ENOENT, EISDIR, ENOTDIR."""
        self._writable()
        dir = self._dir(dir)
        assert dir.children is not None
        node = dir.children.get(name)
        if node is None:
            raise KernelError.enoent()
        if node.kind is _DIR:
            raise KernelError.eisdir()
        del dir.children[name]
        self._release(_entry_cost(name))
        node.nlink -= 1
        now = time.time_ns()
        node.ctime_ns = now
        self._touch_dir(dir, now)
        self._maybe_free(node)

    @attrcache.changes_names
    def rmdir(self, dir: MemNode, name: str) -> None:
        """Remove an empty directory.  Raises: EROFS, ENOENT, ENOTDIR, ENOTEMPTY."""
        self._writable()
        dir = self._dir(dir)
        assert dir.children is not None
        node = dir.children.get(name)
        if node is None:
            raise KernelError.enoent()
        if node.kind is not _DIR:
            raise KernelError.enotdir()
        if node.children:
            raise KernelError.enotempty()
        del dir.children[name]
        self._release(_entry_cost(name))
        dir.nlink -= 1
        node.nlink = 0
        node.parent = None
        self._touch_dir(dir, time.time_ns())
        self._maybe_free(node)

    @attrcache.changes_names
    def rename(
        self, old_dir: MemNode, old_name: str, new_dir: MemNode, new_name: str
    ) -> None:
        """POSIX rename within this filesystem.

        Raises: EROFS, ENOENT, ENOTDIR, EISDIR, ENOTEMPTY, EINVAL (dir into its
        own subtree), EMLINK.
        """
        self._writable()
        check_name(new_name)
        old_dir = self._dir(old_dir)
        new_dir = self._dir(new_dir)
        assert old_dir.children is not None and new_dir.children is not None
        src = old_dir.children.get(old_name)
        if src is None:
            raise KernelError.enoent()
        dst = new_dir.children.get(new_name)
        if dst is src:
            return  # "If old and new are links to the same file, rename shall do nothing."
        if src.kind is _DIR:
            p: MemNode | None = new_dir
            while p is not None:
                if p is src:
                    raise KernelError.einval(
                        message="cannot move a directory into itself"
                    )
                p = p.parent
            if dst is not None:
                if dst.kind is not _DIR:
                    raise KernelError.enotdir()
                if dst.children:
                    raise KernelError.enotempty()
            elif new_dir is not old_dir and new_dir.nlink >= LINK_MAX:
                raise KernelError.emlink()
        elif dst is not None and dst.kind is _DIR:
            raise KernelError.eisdir()
        # the entry changes name: reserve the new one first (ENOSPC changes nothing)
        self._reserve(_entry_cost(new_name))
        self._release(_entry_cost(old_name))
        now = time.time_ns()
        if dst is not None:
            del new_dir.children[new_name]
            self._release(_entry_cost(new_name))
            dst.ctime_ns = now
            if dst.kind is _DIR:
                new_dir.nlink -= 1
                dst.nlink = 0
                dst.parent = None
            else:
                dst.nlink -= 1
            self._maybe_free(dst)
        del old_dir.children[old_name]
        new_dir.children[new_name] = src
        if src.kind is _DIR and new_dir is not old_dir:
            old_dir.nlink -= 1
            new_dir.nlink += 1
            src.parent = new_dir
        src.ctime_ns = now
        self._touch_dir(old_dir, now)
        self._touch_dir(new_dir, now)

    @attrcache.changes_names
    def setattr(
        self,
        node: MemNode,
        mode: int | None = None,
        atime_ns: Any = OMIT,
        mtime_ns: Any = OMIT,
    ) -> None:
        """Change permission bits and/or times (None = now, OMIT = keep).  Raises: EROFS."""
        self._writable()
        now = time.time_ns()
        if mode is not None:
            node.perm = mode & 0o7777
        if atime_ns is not OMIT:
            node.atime_ns = now if atime_ns is None else int(atime_ns)
        if mtime_ns is not OMIT:
            node.mtime_ns = now if mtime_ns is None else int(mtime_ns)
        node.ctime_ns = now

    def truncate(self, node: MemNode, size: int) -> None:
        """Raises: EROFS, EISDIR, EINVAL (negative size or not a file), ENOSPC."""
        self._writable()
        if node.kind is _DIR:
            raise KernelError.eisdir()
        if node.kind is not _REG or size < 0:
            raise KernelError.einval()
        old = len(node.data)
        if size == old:
            pass
        elif size > old:
            self._reserve(size - old)
            buf = self._mutable(node)
            buf.extend(bytes(size - old))
        else:
            buf = self._mutable(node)
            del buf[size:]
            self._release(old - size)
        node.mtime_ns = node.ctime_ns = time.time_ns()
        self._changed()

    def open(self, node: MemNode, readable: bool, writable: bool) -> MemOpenFile:
        """Raises: EISDIR for directories, EACCES for other non-regular nodes, EROFS."""
        if node.kind is _DIR:
            raise KernelError.eisdir()
        if node.kind is not _REG:
            raise KernelError.eacces(message="not a regular file")
        if writable:
            self._writable()
        node.open_count += 1
        return MemOpenFile(self, node)

    def same_node(self, a: Any, b: Any) -> bool:
        return a is b

    def close(self) -> None:
        pass

    # -- extras ---------------------------------------------------------------
    def freeze(self) -> None:
        """Make this filesystem immutable (and safe to share between VMs)."""
        self.read_only = True

    @staticmethod
    def _mutable(node: MemNode) -> bytearray:
        data = node.data
        if not isinstance(data, bytearray):
            data = node.data = bytearray(data)  # copy-on-write of a shared backing
        return data

    # Builders: absolute paths inside this fs; parents are created as needed.
    def _walk_build(
        self, path: str, create_parents: bool, uid: int = 0, gid: int = 0
    ) -> tuple[MemNode, str]:
        # Interned: every VM's tree is built from the same few names (rootfs.py).
        parts = [sys.intern(p) for p in path.split("/") if p and p != "."]
        if not parts:
            raise KernelError.einval(path, "path names the root")
        node = self._root
        for part in parts[:-1]:
            child = self.lookup(node, part)
            if child is None:
                if not create_parents:
                    raise KernelError.enoent(path)
                child = self.mkdir(node, part, 0o755, uid, gid)
            elif child.kind is not _DIR:
                raise KernelError.enotdir(path)
            node = child
        return node, parts[-1]

    def mkdirs(
        self, path: str, mode: int = 0o755, uid: int = 0, gid: int = 0
    ) -> MemNode:
        """mkdir -p inside this fs (existing dirs keep their attributes)."""
        if path.strip("/") == "":
            return self._root
        parent, name = self._walk_build(path, True, uid, gid)
        child = self.lookup(parent, name)
        if child is None:
            return self.mkdir(parent, name, mode, uid, gid)
        if child.kind is not _DIR:
            raise KernelError.eexist(path)
        return child

    @attrcache.changes_names
    def add_file(
        self,
        path: str,
        data: bytes | bytearray | memoryview = b"",
        mode: int = 0o644,
        uid: int = 0,
        gid: int = 0,
        *,
        mtime_ns: int | None = None,
    ) -> MemNode:
        """Create or replace a regular file.  `bytes`/memoryview data is kept as a
        shared read-only backing (no copy); it is copied on first write.

        Raises: EROFS, ENOSPC, ENOTDIR, EISDIR.
        """
        self._writable()
        if isinstance(data, bytearray):
            data = bytes(data)
        elif isinstance(data, memoryview):
            data = data.toreadonly().cast("B")
        parent, name = self._walk_build(path, True)
        node = self.lookup(parent, name)
        if node is not None and node.kind is not _REG:
            raise (
                KernelError.eisdir(path)
                if node.kind is _DIR
                else KernelError.eexist(path)
            )
        size = len(data)
        if node is None:
            self._reserve(size)
            try:
                node = self.create(parent, name, mode, uid, gid)
            except KernelError:
                self._release(size)
                raise
        else:
            self._reserve(size - len(node.data))
            if size < len(node.data):
                self._release(len(node.data) - size)
            node.perm, node.uid, node.gid = mode & 0o7777, uid, gid
        node.data = data
        if mtime_ns is not None:
            node.mtime_ns = mtime_ns
        return node

    @attrcache.changes_names
    def add_symlink(
        self, path: str, target: str, uid: int = 0, gid: int = 0
    ) -> MemNode:
        """Raises: EROFS, EEXIST, ENOSPC."""
        parent, name = self._walk_build(path, True)
        return self.symlink(parent, name, target, uid, gid)
