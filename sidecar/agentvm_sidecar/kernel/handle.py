# FileHandle: an open file description (POSIX "open file description").
#
# One FileHandle is shared by every fd that dup()s it, so it owns the file
# position, the access mode and the APPEND flag.  It wraps the filesystem's
# OpenFile (regular files) or just the node (directories), and takes the VM
# lock around every operation so guest threads and RPC threads can share it --
# except reads and seeks of host files, which need only the handle's own lock.
# A host regular file opened read-only hands its position to its description's
# native object (`share_position`): the native fd_read reads the file in C, and
# reads, seeks and tells here go through that object, so there is one position.
#
# Directory handles expose `readdir_snapshot()`: a DirSnapshot (dir_snapshot.py),
# '.' and '..' first, that stays stable until `refresh=True` (WASI fd_readdir
# cookies are indexes into it; take a fresh snapshot when the cookie is 0).  A
# guest can hold one per open directory fd, so each is charged to the VM's
# snapshot budget (a `MemoryBudget`, ENOMEM when spent) until it is replaced or
# the handle closes: sidecar memory for listings stays bounded by the budget,
# not by fds x entries.
#
# Semantics worth knowing:
#  * read/pread on a handle without READ, write/pwrite without WRITE: EBADF.
#  * reads/writes on a directory handle: EISDIR.
#  * APPEND writes go to the current end atomically (under the VM lock);
#    pwrite on an APPEND handle writes at the given offset (WASI semantics,
#    not Linux's "pwrite appends anyway").
#  * writes are all-or-nothing: ENOSPC leaves the file unchanged.
#  * seek past the end is allowed; a negative result is EINVAL.
#
# XX: directory handles are path/node based; a directory renamed while open
#     keeps working for memfs (node identity) but hostfs re-walks by parts.

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, Protocol, Self

from .dir_snapshot import DirSnapshot
from .errors import KernelError
from .fstypes import OMIT, Cred, FileKind, OpenFile, OpenFlags, Stat

if TYPE_CHECKING:
    from .limits import MemoryBudget
    from .mounts import Mount

__all__ = ["FileHandle", "SharedPosition"]


class SharedPosition(Protocol):
    """What keeps a host file's position once the handle shares it
    (``FileHandle.share_position``: the native description, native/__init__.py)."""

    def host_file(self, fd: int, pos: int) -> int: ...

    def read_into(self, buffer: memoryview) -> int: ...

    def seek(self, offset: int, whence: int, size: int) -> int: ...


class FileHandle:
    """An open file or directory.  Created by `Vfs.open`; do not construct."""

    __slots__ = (
        "_closed",
        "_cred",
        "_file",
        "_io_lock",
        "_lock",
        "_mount",
        "_node",
        "_parent",
        "_pos",
        "_shared",
        "_snapshot",
        "_snapshots",
        "flags",
        "is_readable",
        "is_writable",
        "kind",
        "path",
    )

    def __init__(
        self,
        lock: threading.RLock,
        mount: Mount,
        node: Any,
        path: str,
        flags: OpenFlags,
        file: OpenFile | None,
        parent: tuple[Mount, Any] | None,
        cred: Cred,
        readable: bool,
        writable: bool,
        snapshots: MemoryBudget | None = None,
    ) -> None:
        self._lock = lock
        # The position and reads of a file whose reads need no kernel state (a host
        # fd: pread is a syscall) are guarded by the handle's own lock, so guests
        # reading host files never queue on the VM lock behind each other's I/O.
        self._io_lock: threading.Lock | threading.RLock = (
            threading.Lock() if getattr(file, "concurrent_reads", False) else lock
        )
        self._mount = mount
        self._node = node
        self._file = file
        self._parent = parent
        self._pos = 0
        self._shared: SharedPosition | None = None  # share_position
        self._closed = False
        self._cred = cred
        self._snapshot: DirSnapshot | None = None
        self._snapshots = snapshots
        self.path = path
        self.flags = flags
        self.kind: FileKind = node.kind
        self.is_readable = readable
        self.is_writable = writable
        mount.open_handles += 1

    def __repr__(self) -> str:
        shared = " (shared)" if self._shared is not None else ""
        return f"<FileHandle {self.path!r} {self.kind.value} pos={self._pos}{shared}{' closed' if self._closed else ''}>"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def mount_path(self) -> str:
        return self._mount.path

    # -- checks ----------------------------------------------------------------
    def _open_file(self, want_read: bool, want_write: bool) -> OpenFile:
        if self._closed:
            raise KernelError.ebadf()
        if want_read and not self.is_readable:
            raise KernelError.ebadf(message="handle not open for reading")
        if want_write and not self.is_writable:
            raise KernelError.ebadf(message="handle not open for writing")
        if self._file is None:
            raise KernelError.eisdir(self.path)
        return self._file

    # -- I/O ---------------------------------------------------------------------
    def share_position(self, shared: SharedPosition) -> None:
        """Hand the position of a host regular file opened read-only to
        ``shared`` (its description's native object, native/__init__.py), which
        reads the file itself from then on (the native fd_read): every read,
        seek and tell here goes through it too, so there is one position.
        Nothing happens for any other file, or when it was handed already."""
        fileno = getattr(self._file, "fileno", None)
        with self._io_lock:
            if fileno is None or self.is_writable or self._closed or self._shared is not None:
                return
            shared.host_file(fileno(), self._pos)
            self._shared = shared

    def read(self, n: int = -1) -> bytes:
        """Read up to n bytes at the position (n < 0: to the end).

        Raises: EBADF (closed / not readable), EISDIR, EIO.
        """
        with self._io_lock:
            f = self._open_file(True, False)
            if n < 0:
                n = max(f.size() - self._position(), 0)
            if self._shared is not None:
                buffer = bytearray(n)
                got = self._shared_read(memoryview(buffer))
                return bytes(buffer[:got])
            data = f.pread(n, self._pos)
            self._pos += len(data)
            return data

    def readinto(self, buffer: memoryview) -> int:
        """Read up to len(buffer) bytes at the position into ``buffer``; returns
        how many. A host file reads into it directly (no bytes object in between).

        Raises: EBADF (closed / not readable), EISDIR, EIO.
        """
        with self._io_lock:
            f = self._open_file(True, False)
            if self._shared is not None:
                return self._shared_read(buffer)
            preadinto = getattr(f, "preadinto", None)
            if preadinto is not None:
                n = preadinto(buffer, self._pos)
            else:
                data = f.pread(len(buffer), self._pos)
                n = len(data)
                buffer[:n] = data
            self._pos += n
            return n

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Write all of `data` at the position (at the end with APPEND).

        Raises: EBADF, EISDIR, EROFS, ENOSPC (nothing written), EIO.
        """
        with self._lock, self._io_lock:
            f = self._open_file(False, True)
            if self.flags & OpenFlags.APPEND:
                self._pos = f.append(bytes(data))
                return len(data)
            n = f.pwrite(bytes(data), self._pos)
            self._pos += n
            return n

    def pread(self, n: int, offset: int) -> bytes:
        """Raises: EBADF, EISDIR, EINVAL (negative offset)."""
        with self._io_lock:
            return self._open_file(True, False).pread(n, offset)

    def pwrite(self, data: bytes | bytearray | memoryview, offset: int) -> int:
        """Raises: EBADF, EISDIR, EINVAL, EROFS, ENOSPC."""
        with self._lock:
            return self._open_file(False, True).pwrite(bytes(data), offset)

    def _shared_read(self, buffer: memoryview) -> int:
        """A read at the shared position (under _io_lock, the file open)."""
        assert self._shared is not None
        try:
            return self._shared.read_into(buffer)
        except OSError as exc:
            raise KernelError.from_oserror(exc) from None

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move the position; returns it.  Raises: EBADF, EINVAL."""
        with self._io_lock:
            if self._closed:
                raise KernelError.ebadf()
            if whence not in (os.SEEK_SET, os.SEEK_CUR, os.SEEK_END):
                raise KernelError.einval(message=f"bad whence {whence}")
            size = self._file.size() if whence == os.SEEK_END and self._file is not None else 0
            if self._shared is not None:
                try:
                    return self._shared.seek(offset, whence, size)
                except OSError:
                    raise KernelError.einval(message="negative file position") from None
            pos = (0 if whence == os.SEEK_SET else self._pos if whence == os.SEEK_CUR else size) + offset
            if pos < 0:
                raise KernelError.einval(message="negative file position")
            self._pos = pos
            return pos

    def tell(self) -> int:
        with self._io_lock:
            if self._closed:
                raise KernelError.ebadf()
            return self._position()

    def _position(self) -> int:
        """The position (under _io_lock): the shared one once handed over."""
        return self._pos if self._shared is None else self._shared.seek(0, os.SEEK_CUR, 0)

    def stat(self) -> Stat:
        """Raises: EBADF."""
        with self._lock:
            if self._closed:
                raise KernelError.ebadf()
            if self._file is not None:
                return self._file.stat()
            return self._mount.fs.getattr(self._node)

    def truncate(self, size: int) -> None:
        """Raises: EBADF, EINVAL (not writable, negative), EISDIR, EROFS, ENOSPC."""
        with self._lock:
            if self._closed:
                raise KernelError.ebadf()
            if self._file is None:
                raise KernelError.eisdir(self.path)
            if not self.is_writable:
                raise KernelError.einval(self.path, "handle not open for writing")
            self._file.truncate(size)

    def sync(self) -> None:
        """Raises: EBADF, EIO."""
        with self._lock:
            if self._closed:
                raise KernelError.ebadf()
            if self._file is not None:
                self._file.sync()

    def readdir_snapshot(self, refresh: bool = False) -> DirSnapshot:
        """Snapshot of the directory, '.' and '..' first.  Stable until refresh.

        Raises: EBADF, ENOTDIR, ENOMEM (the VM's snapshot budget cannot hold it).
        """
        with self._lock:
            if self._closed:
                raise KernelError.ebadf()
            if self.kind is not FileKind.DIRECTORY:
                raise KernelError.enotdir(self.path)
            if self._snapshot is None or refresh:
                # A host_dir listing runs without the VM lock (unlocked.py), so
                # another thread may refresh this handle meanwhile: the old
                # snapshot is given back only when the new one is installed.
                fs = self._mount.fs
                me = fs.getattr(self._node).ino
                if self._parent is not None:
                    pmount, pnode = self._parent
                    up = pmount.fs.getattr(pnode).ino
                else:
                    up = me
                # a host_dir's listing stays in its records (dir_snapshot.py)
                list_records = getattr(fs, "list_records", None)
                if list_records is not None:
                    snapshot = DirSnapshot(me, up, pieces=list_records(self._node))
                else:
                    snapshot = DirSnapshot(me, up, tuple(fs.readdir(self._node)))
                if self._closed:
                    raise KernelError.ebadf()
                self._drop_snapshot()
                if self._snapshots is not None:
                    self._snapshots.reserve(snapshot.cost)
                self._snapshot = snapshot
            return self._snapshot

    def _drop_snapshot(self) -> None:
        if self._snapshots is not None and self._snapshot is not None:
            self._snapshots.release(self._snapshot.cost)
        self._snapshot = None

    # -- attributes --------------------------------------------------------------
    def _attr_check(self, owner_only: bool) -> None:
        if self._closed:
            raise KernelError.ebadf()
        if self._mount.read_only:
            raise KernelError.erofs(self.path)
        if self._cred.uid == 0:
            return
        _, uid, _ = self._mount.fs.access_info(self._node)
        if uid != self._cred.uid:
            if owner_only:
                raise KernelError.eperm(self.path)
            if not self.is_writable:
                raise KernelError.eacces(self.path)

    def set_times(self, atime_ns: Any = None, mtime_ns: Any = None) -> None:
        """Set times (None = now, OMIT = unchanged).  Raises: EBADF, EROFS, EPERM, EACCES."""
        with self._lock:
            self._attr_check(owner_only=not (atime_ns is None and mtime_ns is None))
            if atime_ns is OMIT and mtime_ns is OMIT:
                return
            if self._file is not None:
                self._file.set_attrs(None, atime_ns, mtime_ns)
            else:
                self._mount.fs.setattr(self._node, None, atime_ns, mtime_ns)

    def chmod(self, mode: int) -> None:
        """Raises: EBADF, EROFS, EPERM (not the owner)."""
        with self._lock:
            self._attr_check(owner_only=True)
            if self._file is not None:
                self._file.set_attrs(mode & 0o7777)
            else:
                self._mount.fs.setattr(self._node, mode & 0o7777)

    def close(self) -> None:
        """Release the handle.  Idempotent."""
        with self._lock, self._io_lock:
            if self._closed:
                return
            self._closed = True
            self._mount.open_handles -= 1
            self._drop_snapshot()
            if self._shared is not None:
                self._pos = self._shared.host_file(-1, 0)  # nothing native reads the fd after this
            if self._file is not None:
                self._file.close()
