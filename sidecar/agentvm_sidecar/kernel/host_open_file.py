# HostOpenFile: a real host fd for a regular file of a HostFs (hostfs.py), and the
# fd-level attribute changes both share.
#
# The fd was opened by HostFs under its confinement rules (O_NOFOLLOW relative to
# a re-walked parent, verified to be a regular file), so everything here acts on
# the fd alone and never on a path.  Writes are charged to the mount's quota
# through the HostFs that opened the file (rule 7 in hostfs.py): growth is checked
# before it is made, shrinking gives back only what was charged.

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from . import attrcache
from .errors import KernelError
from .fstypes import OMIT, Stat

if TYPE_CHECKING:
    from .hostfs import HostFs

__all__ = ["HOST_MODE_BITS", "HostOpenFile", "fd_setattr"]

HOST_MODE_BITS = 0o777  # hostfs rule 5b: no setuid, setgid or sticky bit on the host


def fd_setattr(fd: int, mode: int | None, atime_ns: Any, mtime_ns: Any) -> None:
    try:
        if mode is not None:
            os.fchmod(fd, mode & HOST_MODE_BITS)
        if atime_ns is not OMIT or mtime_ns is not OMIT:
            if atime_ns is None and mtime_ns is None:
                os.utime(fd)
            else:
                # os.utime has no UTIME_OMIT; fill omitted values from fstat.
                s = os.fstat(fd)
                now = None

                def pick(v: Any, old: int) -> int:
                    nonlocal now
                    if v is OMIT:
                        return old
                    if v is None:
                        import time

                        now = now or time.time_ns()
                        return now
                    return int(v)

                os.utime(
                    fd,
                    ns=(pick(atime_ns, s.st_atime_ns), pick(mtime_ns, s.st_mtime_ns)),
                )
    except OSError as exc:
        raise KernelError.from_oserror(exc) from None


class HostOpenFile:
    """A real host fd for a regular file inside a HostFs."""

    __slots__ = ("_fd", "_fs")
    # pread/size/fstat touch only the host fd: FileHandle may read without the VM lock.
    concurrent_reads = True

    def __init__(self, fs: HostFs, fd: int) -> None:
        self._fs = fs
        self._fd: int | None = fd

    def fileno(self) -> int:
        """The host fd (FileHandle.share_position hands it to the native reads).
        Raises: EBADF (closed)."""
        return self._live()

    def _live(self) -> int:
        if self._fd is None:
            raise KernelError.ebadf()
        return self._fd

    def pread(self, n: int, offset: int) -> bytes:
        fd = self._live()
        if n < 0 or offset < 0:
            raise KernelError.einval()
        try:
            return os.pread(fd, n, offset)
        except OSError as exc:
            raise KernelError.from_oserror(exc) from None

    def preadinto(self, buffer: memoryview, offset: int) -> int:
        """pread into ``buffer`` (FileHandle.readinto); returns the bytes read."""
        fd = self._live()
        if offset < 0:
            raise KernelError.einval()
        try:
            return os.preadv(fd, (buffer,), offset)
        except OSError as exc:
            raise KernelError.from_oserror(exc) from None

    @attrcache.changes_nodes
    def pwrite(self, data: bytes, offset: int) -> int:
        fd = self._live()
        self._fs._writable()
        if offset < 0:
            raise KernelError.einval()
        view = memoryview(data)
        done = 0
        growth = offset + len(view) - self.size() if view else 0
        try:
            with self._fs._charged(growth):
                while done < len(view):
                    done += os.pwrite(fd, view[done:], offset + done)
        except OSError as exc:
            raise KernelError.from_oserror(exc) from None
        if growth > 0:
            self._fs._note(self._ino(), growth)
        return done

    def _ino(self) -> int:
        try:
            return os.fstat(self._live()).st_ino
        except OSError as exc:
            raise KernelError.from_oserror(exc) from None

    def append(self, data: bytes) -> int:
        # Atomic with respect to this VM (the caller holds the VM lock); the
        # fd is not O_APPEND because Linux would then ignore pwrite offsets.
        offset = self.size()
        self.pwrite(data, offset)
        return offset + len(data)

    def size(self) -> int:
        try:
            return os.fstat(self._live()).st_size
        except OSError as exc:
            raise KernelError.from_oserror(exc) from None

    @attrcache.changes_nodes
    def truncate(self, size: int) -> None:
        fd = self._live()
        self._fs._writable()
        if size < 0:
            raise KernelError.einval()
        delta = size - self.size()
        try:
            with self._fs._charged(delta):
                os.ftruncate(fd, size)
        except OSError as exc:
            raise KernelError.from_oserror(exc) from None
        if delta > 0:
            self._fs._note(self._ino(), delta)
        elif delta < 0:
            self._fs._give_back(self._ino(), -delta)

    def stat(self) -> Stat:
        try:
            return self._fs._to_stat(os.fstat(self._live()))
        except OSError as exc:
            raise KernelError.from_oserror(exc) from None

    @attrcache.changes_nodes
    def set_attrs(
        self, mode: int | None = None, atime_ns: Any = OMIT, mtime_ns: Any = OMIT
    ) -> None:
        fd = self._live()
        self._fs._writable()
        fd_setattr(fd, mode, atime_ns, mtime_ns)

    def sync(self) -> None:
        try:
            os.fsync(self._live())
        except OSError as exc:
            raise KernelError.from_oserror(exc) from None

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
