# VfsReads: queries and bounded reads of a VM's filesystem (see vfs_core.py for
# the layers).  Reads that return data are sized before they read: a sparse
# terabyte, a device or a 45,000-deep tree costs at most the caller's bound.

from __future__ import annotations

from .errors import KernelError
from .fstypes import (
    ROOT,
    Cred,
    DirEntry,
    FileKind,
    OpenFlags,
    Stat,
)
from .limits import DEFAULT_MAX_READ_BYTES, FsUsage
from .vfs_core import VfsCore, vfs_op
from .walker import Loc as _Loc
from .walker import R, X
from .walker import join_path as _join

__all__ = ["ENTRY_OVERHEAD_BYTES", "TreeListing", "VfsReads"]

# What a listed entry costs beyond its path (its kind and the JSON around it).
ENTRY_OVERHEAD_BYTES = 40

_DIR = FileKind.DIRECTORY
_LNK = FileKind.SYMLINK
_REG = FileKind.REGULAR


class TreeListing(list[tuple[str, FileKind]]):
    """A recursive listing: (relative path, kind) pairs, and whether the walk
    stopped at its byte bound before the end."""

    truncated: bool = False


class VfsReads(VfsCore):
    """Queries (stat, readlink, readdir, recursive listings) and bounded reads."""

    @vfs_op
    def stat(
        self, path: str, follow: bool = True, *, cwd: str = "/", cred: Cred = ROOT
    ) -> Stat:
        """Raises: ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG, EINVAL, EACCES."""
        loc = self._walk_remembered(path, cwd, cred, follow).loc
        if loc is None:
            raise KernelError.enoent()
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

    @vfs_op
    def listed_records(
        self, path: str, *, cwd: str = "/", cred: Cred = ROOT
    ) -> tuple[int, bytes, list[str], int, int] | None:
        """What a stat of ``path + "/" + name`` answers as ``lstat`` for the
        names of the directory ``path`` (the walk is the one ``stat`` makes:
        ``path`` followed, searchable by ``cred``, then one more name): the
        calling guest process's last host_dir listing of it while the attribute
        cache still holds it, or a memory filesystem's entries. (st_dev, records
        as native.list_dir writes them, the names a mount point covers, whose
        answers are the mount's, the filesystem's change counter and its count
        read before the records: native.NO_FS for host_dir). None when there is
        no such answer (no such listing, another directory, a change since,
        another filesystem), without asking any host. For wasm/stat_memo.py's
        listing fill."""
        loc = self._walk_remembered(path, cwd, cred, True).loc
        if loc is None or loc.kind is not _DIR or not self._may(loc, cred, X):
            return None
        listed = getattr(loc.mount.fs, "listed_records", None)
        found = listed(loc.node) if listed is not None else None
        if found is None:
            return None
        dev, records, fs, fs_count = found
        return dev, records, self._mounts.names_under(loc.path), fs, fs_count

    @vfs_op
    def readlink(self, path: str, *, cwd: str = "/", cred: Cred = ROOT) -> str:
        """Raises: ENOENT, EINVAL (not a symlink), ENOTDIR, ELOOP, EACCES."""
        loc = self._existing(path, cwd, cred, False)
        if loc.kind is not _LNK:
            raise KernelError.einval(message="not a symbolic link")
        return loc.mount.fs.readlink(loc.node)

    @vfs_op
    def realpath(self, path: str, *, cwd: str = "/", cred: Cred = ROOT) -> str:
        """Canonical absolute path.  Raises: ENOENT, ENOTDIR, ELOOP, EACCES."""
        return self._existing(path, cwd, cred, True).path

    @vfs_op
    def resolve(self, path: str, *, cwd: str = "/", cred: Cred = ROOT) -> tuple[str, Stat]:
        """``realpath`` and ``stat`` in one walk (every process start asks both of
        its program and of its cwd).  Raises: as realpath."""
        loc = self._existing(path, cwd, cred, True)
        return loc.path, loc.mount.fs.getattr(loc.node)

    @vfs_op
    def readdir(
        self, path: str, *, cwd: str = "/", cred: Cred = ROOT
    ) -> list[DirEntry]:
        """Entries without '.' and '..'.  Raises: ENOENT, ENOTDIR, EACCES, ELOOP."""
        loc = self._existing(path, cwd, cred, True)
        if loc.kind is not _DIR:
            raise KernelError.enotdir()
        self._require(loc, cred, R)
        return loc.mount.fs.readdir(loc.node)

    @vfs_op
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

    @vfs_op
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

    @vfs_op
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
