# HostFs: the `host_dir` filesystem, a view of one real host directory.
#
# Confinement is the whole point of this module (see DESIGN.md and
# reference/bug-wasm-commands-bypass-host-mounts.txt).  The rules:
#
#  1. The VFS resolves every path component itself.  This filesystem is only
#     ever asked about ONE name inside a directory node it handed out.  Names
#     are re-validated here ('', '.', '..', '/' and NUL are refused).
#  2. A node is the tuple of components from the mount root.  The walker saw
#     each prefix as a real directory, but the host can change underneath, so
#     every operation re-opens the chain from the root fd: with openat2
#     (RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_XDEV, one syscall, see
#     openat2.py) where the kernel has it, else one O_PATH|O_DIRECTORY|O_NOFOLLOW
#     openat per component.  A component swapped for a symlink in the meantime
#     fails (ENOTDIR/ELOOP) instead of escaping.  The final operation uses
#     dir_fd= and never follows a symlink (follow_symlinks=False / O_NOFOLLOW).
#  2b. The mount is one host filesystem: a directory where another filesystem
#     is mounted (/proc below a mount of /, say) cannot be entered (EXDEV), so
#     procfs, sysfs and devices never become reachable through a mount.
#  2c. The mount root itself is opened one O_NOFOLLOW component at a time from
#     /: a host path through a symlink is refused (ELOOP), because a guest of an
#     earlier VM may have planted that symlink in a directory it could write.
#  3. Host symlinks are reported to the walker as symlinks with their target
#     text; the walker interprets the target in the VM's namespace (absolute
#     targets from the VM root, '..' popping VM directories).  So a symlink to
#     /etc/passwd means the VM's /etc/passwd, and '..' above the mount root is
#     the mount point's VM parent, never the host parent.
#  4. Files opened for I/O are real host fds, opened O_NOFOLLOW|O_NONBLOCK
#     relative to the parent dir fd and verified with fstat to be regular
#     files.  Host fifos, sockets and devices are refused with EACCES (a guest
#     must not hang on a host fifo or talk to a host device).
#  5. read_only=True makes every mutation EROFS here, independently of the
#     mount flag in the VFS (defence in depth).
#  5b. Modes set on the host keep only the rwx bits: a guest can never create a
#     setuid/setgid (or sticky) file on the host, whoever runs the sidecar.
#  6. Host errors become KernelError by errno name; host paths never appear in
#     error messages.
#  7. Quota (optional `accounting`): what the guest ADDS is charged, checked
#     before the change (ENOSPC leaves the host untouched): file growth by
#     logical size (a sparse terabyte costs a terabyte), one inode per entry it
#     creates (files, directories, symlinks, hard links), symlink targets as
#     bytes.  What was charged is remembered per host inode, and only that is
#     given back (removing a last link, shrinking), so deleting what was already
#     there earns no credit.  Content present at mount time is not counted:
#     counting a host tree could be unbounded work.
#  8. Locking: read-only host syscalls (lookups, stats, listings, readlink,
#     opening a file) run without the VM lock (unlocked.py), so other guest
#     threads of the VM are not queued behind host I/O; changes keep it.
#     Confinement does not depend on the lock: it is rule 2, per syscall.
#
# Caching: a guest process's lookups and stats may be answered from its
# attribute cache (attrcache.py); host operations never are.
#
# Ownership: uid/gid are reported as `owner_uid`/`owner_gid` (default 1000, the
# VM user) rather than the host's numbers, so a guest running as 1000 can use
# a mount owned by whoever runs the sidecar; the host kernel still enforces
# the sidecar's own credentials on every call.  Pass owner_uid=None to report
# real host ids.  Inode numbers are the host's; dev is this fs's own number.
#
# XX: new files get the sidecar's umask applied by the host.
# XX: a regular file swapped for a host device between the lstat pre-check and
#     the open is opened (then refused by fstat); O_PATH + /proc/self/fd
#     reopen would avoid even that open.  A file the walk has just seen as
#     regular is opened without the pre-check (_open_seen_regular): there the
#     window is the attribute cache's TTL, and only the host can make a
#     device or fifo.
# Files opened for I/O are HostOpenFile (host_open_file.py); the mount root is
# opened by host_root.py (rule 2c).
#
# XX: an unlinked-but-open host *directory* handle cannot be re-walked; its
#     readdir fails ENOENT (files keep working: they are real fds).

from __future__ import annotations

import os
import stat as st
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .. import native
from . import attrcache, openat2
from .dir_snapshot import KINDS_BY_TYPE, listed_entries
from .errors import KernelError
from .fstypes import NAME_MAX, OMIT, DirEntry, FileKind, Stat, allocate_dev
from .host_open_file import HOST_MODE_BITS, HostOpenFile, fd_setattr
from .host_root import DIR_FLAGS as _DIR_FLAGS
from .host_root import open_root
from .limits import FsAccounting
from .unlocked import HostSections

__all__ = ["HostFs", "HostNode"]

_LIST_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_DIR = FileKind.DIRECTORY
_FILE_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)

_new_tuple = tuple.__new__


def _kind(mode: int) -> FileKind:
    return KINDS_BY_TYPE[(mode >> 12) & 15]


class HostNode:
    """A host node: components relative to the mount root, plus what lookup saw."""

    __slots__ = ("ino", "kind", "mode", "parts")

    def __init__(
        self, parts: tuple[str, ...], kind: FileKind, mode: int, ino: int
    ) -> None:
        self.parts = parts
        self.kind = kind
        self.mode = mode
        self.ino = ino

    def __repr__(self) -> str:
        return f"<HostNode /{'/'.join(self.parts)} {self.kind.value}>"


def _check_name(name: str) -> None:
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise KernelError.einval(message="invalid file name")
    if len(name.encode("utf-8", "surrogateescape")) > NAME_MAX:
        raise KernelError.enametoolong()


class HostFs:
    """A host directory exposed to the VM (see module header).

    Args:
        host_path: the host directory (trusted client config; resolved once).
        read_only: refuse every mutation with EROFS.
        owner_uid, owner_gid: ids reported for every node (None = host ids).
        accounting: the quota guest additions are charged to (rule 7; None: none).
        vm_lock: the VM lock the VFS holds around operations; read-only host
            syscalls run without it (rule 8; None: keep whatever the caller holds).

    Raises:
        KernelError: ENOENT/ENOTDIR/EACCES if host_path is not a usable directory.
    """

    def __init__(
        self,
        host_path: str | os.PathLike[str],
        read_only: bool = False,
        owner_uid: int | None = 1000,
        owner_gid: int | None = 1000,
        accounting: FsAccounting | None = None,
        vm_lock: Any | None = None,
    ) -> None:
        self.dev = allocate_dev()
        self._sections = HostSections(vm_lock)
        self.accounting = accounting
        # rule 7: host inode -> bytes / directory entries charged for it
        self._bytes_by_ino: dict[int, int] = {}
        self._entries_by_ino: dict[int, int] = {}
        self.read_only = read_only
        self.host_path = os.fspath(host_path)
        self._owner_uid = owner_uid
        self._owner_gid = owner_gid
        self._root_fd: int | None = open_root(self.host_path)
        root_st = os.fstat(self._root_fd)
        self._root_dev = root_st.st_dev
        self._root = HostNode((), FileKind.DIRECTORY, root_st.st_mode, root_st.st_ino)

    def __repr__(self) -> str:
        return f"HostFs({self.host_path!r}, read_only={self.read_only})"

    # -- the confined walk ---------------------------------------------------
    def _root_fd_checked(self) -> int:
        if self._root_fd is None:
            raise KernelError.eio(message="host filesystem is closed")
        return self._root_fd

    @contextmanager
    def _dir_fd(self, parts: tuple[str, ...]) -> Iterator[int]:
        """An fd for the directory at `parts`, confined as rules 2 and 2b say."""
        if not parts:
            yield self._root_fd_checked()
            return
        fd = self._open_dir(parts, _DIR_FLAGS)
        try:
            yield fd
        finally:
            os.close(fd)

    def _open_dir(self, parts: tuple[str, ...], flags: int) -> int:
        """A new fd (``flags``) for the directory at ``parts``, confined as rules 2
        and 2b say. Raises: KernelError."""
        root = self._root_fd_checked()
        for part in parts:
            _check_name(part)
        try:
            if not parts:
                return os.open(".", flags, dir_fd=root)
            if openat2.available():
                return openat2.openat2(root, "/".join(parts), flags)
            return self._walk_below(root, parts, flags)
        except OSError as exc:
            raise KernelError.from_oserror(exc) from None

    def _walk_below(self, root: int, parts: tuple[str, ...], flags: int) -> int:
        fd = root
        for i, part in enumerate(parts):
            child = os.open(part, flags if i == len(parts) - 1 else _DIR_FLAGS, dir_fd=fd)
            if fd != root:
                os.close(fd)
            fd = child
            if os.fstat(fd).st_dev != self._root_dev:
                os.close(fd)
                raise OSError(18, "cross-device link")  # EXDEV, as RESOLVE_NO_XDEV says
        return fd

    @contextmanager
    def _parent_fd(self, node: HostNode) -> Iterator[tuple[int, str]]:
        if not node.parts:
            raise KernelError.ebusy(message="operation not allowed on the mount root")
        with self._dir_fd(node.parts[:-1]) as fd:
            yield fd, node.parts[-1]

    def _writable(self) -> None:
        if self.read_only:
            raise KernelError.erofs()

    @contextmanager
    def _charged(self, nbytes: int = 0, inodes: int = 0) -> Iterator[None]:
        """Reserve quota for a change (ENOSPC before it); give it back if it fails."""
        if self.accounting is None or (nbytes <= 0 and inodes <= 0):
            yield
            return
        self.accounting.check_and_reserve(max(nbytes, 0), max(inodes, 0))
        try:
            yield
        except BaseException:
            self.accounting.release(max(nbytes, 0), max(inodes, 0))
            raise

    def _note(self, ino: int, nbytes: int = 0, entries: int = 0) -> None:
        """Remember what was charged for host inode `ino` (rule 7)."""
        if self.accounting is None:
            return
        if nbytes > 0:
            self._bytes_by_ino[ino] = self._bytes_by_ino.get(ino, 0) + nbytes
        if entries > 0:
            self._entries_by_ino[ino] = self._entries_by_ino.get(ino, 0) + entries

    def _give_back(self, ino: int, nbytes: int, entries: int = 0) -> None:
        """Release up to `nbytes` and `entries` of what `ino` was charged."""
        if self.accounting is None:
            return
        had = self._bytes_by_ino.get(ino, 0)
        freed = min(had, nbytes)
        if had - freed:
            self._bytes_by_ino[ino] = had - freed
        else:
            self._bytes_by_ino.pop(ino, None)
        links = self._entries_by_ino.get(ino, 0)
        dropped = min(links, entries)
        if links - dropped:
            self._entries_by_ino[ino] = links - dropped
        else:
            self._entries_by_ino.pop(ino, None)
        self.accounting.release(freed, dropped)

    def _stat(self, node: HostNode) -> os.stat_result:
        with self._sections.section():
            if not node.parts:
                with self._dir_fd(()) as fd:
                    return os.stat(fd)
            with self._parent_fd(node) as (fd, name):
                return os.stat(name, dir_fd=fd, follow_symlinks=False)

    def _to_stat(self, s: os.stat_result) -> Stat:
        uid = s.st_uid if self._owner_uid is None else self._owner_uid
        gid = s.st_gid if self._owner_gid is None else self._owner_gid
        return Stat(
            s.st_ino,
            self.dev,
            s.st_mode,
            s.st_nlink,
            uid,
            gid,
            s.st_size,
            s.st_atime_ns,
            s.st_mtime_ns,
            s.st_ctime_ns,
        )

    def _child(self, dir: HostNode, name: str, fd: int) -> HostNode:
        s = os.stat(name, dir_fd=fd, follow_symlinks=False)
        return HostNode(dir.parts + (name,), _kind(s.st_mode), s.st_mode, s.st_ino)

    # -- FileSystem protocol -------------------------------------------------
    def root(self) -> HostNode:
        return self._root

    def lookup(self, dir: HostNode, name: str) -> HostNode | None:
        """Raises: ENOTDIR, EACCES, ELOOP (a component became a symlink)."""
        parts = dir.parts + (name,)
        cache = attrcache.current()
        if cache is not None:
            hit = cache.get(self, parts)
            if hit is not None:
                node = hit[1]  # its name was checked when it was cached
                if node.kind is not _DIR:
                    cache.files_seen = True
                return node
        _check_name(name)
        seen = attrcache.generation()
        with self._sections.section(), self._dir_fd(dir.parts) as fd:
            try:
                s = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                return None  # never cached: a name created later is seen at once
        node = self._seen(cache, parts, s, seen)
        if cache is not None and node.kind is not _DIR:
            cache.files_seen = True
        return node

    def _seen(self, cache: attrcache.AttrCache | None, parts: tuple[str, ...], s: os.stat_result, generation: int) -> HostNode:
        """The node of lstat result ``s``, kept in ``cache`` with it (as a list:
        getattr replaces the lstat result with the Stat it makes of it once;
        _list keeps the Stat itself)."""
        node = HostNode(parts, _kind(s.st_mode), s.st_mode, s.st_ino)
        if cache is not None:
            cache.put(self, parts, [s, node], generation)
        return node

    def access_info(self, node: HostNode) -> tuple[int, int, int]:
        uid = self._owner_uid if self._owner_uid is not None else 0
        gid = self._owner_gid if self._owner_gid is not None else 0
        if self._owner_uid is None or self._owner_gid is None:
            s = self._stat(node)
            uid = s.st_uid if self._owner_uid is None else uid
            gid = s.st_gid if self._owner_gid is None else gid
        return node.mode, uid, gid

    def getattr(self, node: HostNode) -> Stat:
        cache = attrcache.current()
        if cache is None or not node.parts:
            return self._to_stat(self._stat(node))
        hit = cache.get(self, node.parts)
        if hit is not None:
            cached = hit[0]
            if type(cached) is not Stat:
                # A lookup's lstat result, converted on first use (listings
                # keep the Stat itself): `ls -l` or tar stat each entry 3-4 times.
                cached = hit[0] = self._to_stat(cached)
            cache.answer = cached  # may be memoized (attrcache.watch)
            return cached
        seen = attrcache.generation()
        s = self._stat(node)
        self._seen(cache, node.parts, s, seen)
        return self._to_stat(s)

    def listed_records(self, dir: HostNode) -> tuple[int, bytes, int, int] | None:
        """(this filesystem's st_dev, the records of the calling process's last
        listing, no change counter: native.NO_FS, 0) when that listing was of
        ``dir`` and is still what its attribute cache holds
        (attrcache.AttrCache.listing); nothing is asked of the host."""
        cache = attrcache.current()
        records = cache.listing(self, dir.parts) if cache is not None else None
        return None if records is None else (self.dev, records, native.NO_FS, 0)

    def readlink(self, node: HostNode) -> str:
        """Raises: EINVAL if not a symlink, ENOENT."""
        with self._sections.section(), self._parent_fd(node) as (fd, name):
            try:
                return os.readlink(name, dir_fd=fd)
            except OSError as exc:
                raise KernelError.from_oserror(exc) from None

    def readdir(self, dir: HostNode) -> list[DirEntry]:
        """Raises: ENOTDIR, ENOENT, EACCES."""
        return listed_entries(self.list_records(dir))

    def list_records(self, dir: HostNode) -> tuple[bytes, ...]:
        """The listing of ``dir`` as native.list_dir's records, in pieces (a
        directory snapshot keeps them as they are: dir_snapshot.py).
        Raises: ENOTDIR, ENOENT, EACCES."""
        # A guest that lists a directory nearly always stats what it lists next
        # (ls, tar, grep -r, find with tests): an fstatat per entry here, relative
        # to the listing fd already open, is far cheaper than a confined walk per
        # entry later, so a process's listing fills its cache (attrcache.py):
        # its subdirectories always (find enters them), its files while the
        # process looks files up (AttrCache.stat_listed_files).
        cache = attrcache.current()
        seen = attrcache.generation()
        with self._sections.section():
            return self._list(dir, cache, seen)

    def _list(self, dir: HostNode, cache: attrcache.AttrCache | None, seen: int) -> tuple[bytes, ...]:
        lfd = self._open_dir(dir.parts, _LIST_FLAGS)
        try:
            what = (
                native.LIST_NOTHING if cache is None
                else native.LIST_EVERYTHING if cache.stat_listed_files()
                else native.LIST_DIRECTORIES
            )
            deadline = time.monotonic() + attrcache.TTL_SECONDS  # no entry put below lives shorter
            # beyond what the cache holds, stats would only evict each other
            pieces = tuple(native.list_dir(lfd, what, attrcache.MAX_ENTRIES))
        except OSError as exc:
            raise KernelError.from_oserror(exc) from None
        finally:
            os.close(lfd)
        if cache is not None:
            owner_uid, owner_gid, dev, parts = self._owner_uid, self._owner_gid, self.dev, dir.parts
            kept: list[tuple[tuple[str, ...], list[Any]]] = []  # what the cache keeps
            # Every listed name of ls, tar and grep -r passes here: unpacked in
            # the loop's target, the kind from the table, the Stat made without
            # NamedTuple's __new__ (1.43 -> 1.1 us a name, measured).
            for records in pieces:
                for name, (_, ino, nlink, size, atime, mtime, ctime, mode, uid, gid, _, _, _) in native.dirents(records, kept_only=True):
                    if owner_uid is not None:
                        uid = owner_uid
                    if owner_gid is not None:
                        gid = owner_gid
                    child = parts + (name,)
                    node = HostNode(child, _kind(mode), mode, ino)
                    stat = _new_tuple(Stat, (ino, dev, mode, nlink, uid, gid, size, atime, mtime, ctime))
                    kept.append((child, [stat, node]))
            cache.put_all(self, kept, seen)
            if len(pieces) == 1:  # a listing in one piece (as nearly all are) is kept for the stat memo
                cache.keep_listing(self, parts, pieces[0], seen, deadline)
        return pieces

    @attrcache.changes_nodes
    def create(
        self, dir: HostNode, name: str, mode: int, uid: int, gid: int
    ) -> HostNode:
        """Exclusive create of a regular file.  Raises: EROFS, EEXIST, ENOSPC..."""
        self._writable()
        _check_name(name)
        with self._dir_fd(dir.parts) as fd, self._charged(inodes=1):
            try:
                os.close(
                    os.open(
                        name,
                        os.O_WRONLY | os.O_CREAT | os.O_EXCL | _FILE_FLAGS,
                        mode & HOST_MODE_BITS,
                        dir_fd=fd,
                    )
                )
                node = self._child(dir, name, fd)
                self._note(node.ino, entries=1)
                return node
            except OSError as exc:
                raise KernelError.from_oserror(exc) from None

    @attrcache.changes_nodes
    def mkdir(
        self, dir: HostNode, name: str, mode: int, uid: int, gid: int
    ) -> HostNode:
        self._writable()
        _check_name(name)
        with self._dir_fd(dir.parts) as fd, self._charged(inodes=1):
            try:
                os.mkdir(name, mode & HOST_MODE_BITS, dir_fd=fd)
                node = self._child(dir, name, fd)
                self._note(node.ino, entries=1)
                return node
            except OSError as exc:
                raise KernelError.from_oserror(exc) from None

    @attrcache.changes_nodes
    def symlink(
        self, dir: HostNode, name: str, target: str, uid: int, gid: int
    ) -> HostNode:
        """The target text is stored verbatim; it is only ever interpreted by the
        VFS, in the VM's namespace."""
        self._writable()
        _check_name(name)
        cost = len(target.encode("utf-8", "surrogateescape"))
        with self._dir_fd(dir.parts) as fd, self._charged(cost, 1):
            try:
                os.symlink(target, name, dir_fd=fd)
                node = self._child(dir, name, fd)
                self._note(node.ino, cost, 1)
                return node
            except OSError as exc:
                raise KernelError.from_oserror(exc) from None

    @attrcache.changes_nodes
    def link(self, node: HostNode, dir: HostNode, name: str) -> None:
        self._writable()
        _check_name(name)
        with self._parent_fd(node) as (sfd, sname), self._dir_fd(dir.parts) as dfd, self._charged(inodes=1):
            try:
                os.link(
                    sname, name, src_dir_fd=sfd, dst_dir_fd=dfd, follow_symlinks=False
                )
                self._note(node.ino, entries=1)
            except OSError as exc:
                raise KernelError.from_oserror(exc) from None

    def unlink(self, dir: HostNode, name: str) -> None:
        self._remove_entry(dir, name, os.unlink)

    def rmdir(self, dir: HostNode, name: str) -> None:
        self._remove_entry(dir, name, os.rmdir)

    @attrcache.changes_nodes
    def _remove_entry(self, dir: HostNode, name: str, remove: Any) -> None:
        self._writable()
        _check_name(name)
        with self._dir_fd(dir.parts) as fd:
            try:
                gone = os.stat(name, dir_fd=fd, follow_symlinks=False)
                remove(name, dir_fd=fd)
            except OSError as exc:
                raise KernelError.from_oserror(exc) from None
        last_link = gone.st_nlink <= 1 or st.S_ISDIR(gone.st_mode)
        self._give_back(gone.st_ino, gone.st_size if last_link else 0, 1)

    @attrcache.changes_nodes
    def rename(
        self, old_dir: HostNode, old_name: str, new_dir: HostNode, new_name: str
    ) -> None:
        self._writable()
        _check_name(old_name)
        _check_name(new_name)
        with self._dir_fd(old_dir.parts) as ofd, self._dir_fd(new_dir.parts) as nfd:
            try:
                os.rename(old_name, new_name, src_dir_fd=ofd, dst_dir_fd=nfd)
            except OSError as exc:
                raise KernelError.from_oserror(exc) from None

    def _open_fd(self, node: HostNode, access: int) -> int:
        """Open the node's host file without following symlinks; regular files only."""
        with self._sections.section():
            return self._open_regular(node, access)

    def _open_regular(self, node: HostNode, access: int) -> int:
        # Written out rather than with _parent_fd: this is the open of every file
        # a guest reads, and each generator context manager costs ~1.5 us.
        parts = node.parts
        if not parts:
            raise KernelError.ebusy(message="operation not allowed on the mount root")
        root = self._root_fd_checked()
        if node.kind is FileKind.REGULAR and openat2.available():
            fd = self._open_seen_regular(root, parts, access)
            if fd is not None:
                return fd
        pfd = self._open_dir(parts[:-1], _DIR_FLAGS) if len(parts) > 1 else root
        name = parts[-1]
        try:
            # Refuse non-regular files before opening them at all (opening a
            # device can have side effects; a fifo could block).  The fstat
            # below closes the race with a swap between these two calls.
            pre = os.stat(name, dir_fd=pfd, follow_symlinks=False).st_mode
            if st.S_ISDIR(pre):
                raise KernelError.eisdir()
            if st.S_ISLNK(pre):
                raise KernelError.eloop()
            if not st.S_ISREG(pre):
                raise KernelError.eacces(message="host special files cannot be opened")
            fd = os.open(name, access | _FILE_FLAGS, dir_fd=pfd)
        except OSError as exc:
            raise KernelError.from_oserror(exc) from None
        finally:
            if pfd != root:
                os.close(pfd)
        try:
            mode = os.fstat(fd).st_mode
        except OSError as exc:
            os.close(fd)
            raise KernelError.from_oserror(exc) from None
        if not st.S_ISREG(mode):
            os.close(fd)
            if st.S_ISDIR(mode):
                raise KernelError.eisdir()
            raise KernelError.eacces(message="host special files cannot be opened")
        return fd

    def _open_seen_regular(self, root: int, parts: tuple[str, ...], access: int) -> int | None:
        """The open of a node the walk has just seen as a regular file: one
        confined openat2 of the whole path (rule 2, with O_NOFOLLOW for the last
        component) and the fstat of rule 4, instead of a confined open of the
        parent, the lstat pre-check, the open, the fstat and a close: 2
        syscalls instead of 5. None when anything differs from what the walk
        saw (an error, or not a regular file any more): the caller then opens
        the careful way, which answers exactly as before.

        The lstat pre-check is what this skips: the walk's lstat (at most the
        attribute cache's TTL old, and never older than a change made through
        this sidecar) stands in for it. A guest cannot make a host fifo or
        device (no mknod reaches a host_dir), so only someone on the host
        swapping one in within that second gets it opened, O_NONBLOCK and
        O_NOCTTY, and refused by the fstat, as the race the pre-check leaves
        already allows (module header, XX).
        """
        for part in parts:
            _check_name(part)
        try:
            fd = openat2.openat2(root, "/".join(parts), access | _FILE_FLAGS)
        except OSError:
            return None
        try:
            if st.S_ISREG(os.fstat(fd).st_mode):
                return fd
        except OSError:
            pass
        os.close(fd)
        return None

    @attrcache.changes_nodes
    def setattr(
        self,
        node: HostNode,
        mode: int | None = None,
        atime_ns: Any = OMIT,
        mtime_ns: Any = OMIT,
    ) -> None:
        """Raises: EROFS, ENOENT, EPERM, EACCES, ENOTSUP (host special files)."""
        self._writable()
        if node.kind is not FileKind.DIRECTORY and node.kind is not FileKind.REGULAR:
            if node.kind is FileKind.SYMLINK:
                raise KernelError.enotsup(
                    message="cannot change attributes of a symlink"
                )
            raise KernelError.eacces(message="host special files cannot be changed")
        if node.kind is FileKind.REGULAR:
            fd = self._open_fd(node, os.O_RDONLY)
        else:
            fd = self._open_dir(node.parts, _LIST_FLAGS)
        try:
            fd_setattr(fd, mode, atime_ns, mtime_ns)
        finally:
            os.close(fd)

    def truncate(self, node: HostNode, size: int) -> None:
        self._writable()
        if size < 0:
            raise KernelError.einval()
        f = HostOpenFile(self, self._open_fd(node, os.O_WRONLY))
        try:
            f.truncate(size)
        finally:
            f.close()

    def open(self, node: HostNode, readable: bool, writable: bool) -> HostOpenFile:
        """Raises: EROFS, EISDIR, EACCES (host special files), ENOENT, ELOOP."""
        if writable:
            self._writable()
        access = (
            os.O_RDWR
            if readable and writable
            else os.O_WRONLY
            if writable
            else os.O_RDONLY
        )
        return HostOpenFile(self, self._open_fd(node, access))

    def same_node(self, a: HostNode, b: HostNode) -> bool:
        return a.parts == b.parts or (a.ino == b.ino and a.kind is b.kind)

    def close(self) -> None:
        """Close the root fd (on unmount).  Later operations fail with EIO; one
        running without the VM lock keeps the fd until it is done (unlocked.py)."""
        fd, self._root_fd = self._root_fd, None
        if fd is not None:
            self._sections.close_fd(fd)
