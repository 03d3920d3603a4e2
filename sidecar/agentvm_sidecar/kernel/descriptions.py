# Open file descriptions: what an fd refers to.
#
# POSIX distinguishes the fd (a per-process number with the FD_CLOEXEC flag) from
# the open file description it names (offset, access mode, status flags such as
# O_APPEND/O_NONBLOCK), which dup() and process creation share.  Here every kind of
# description offers one interface so WASI and the host ABI never switch on types:
#
#   FileDescription  a FileHandle from the VFS (regular files, directories, devices)
#   PipeReader / PipeWriter  the two ends of a kernel Pipe
#
# A description is reference-counted by the fd tables holding it (`retain` /
# `release`); the last release closes the underlying object, which for a pipe end
# is what makes readers see EOF or writers see EPIPE.
#
# Blocking operations take `interrupted`, polled while waiting, so a killed process
# leaves with EINTR.  Regular files never block.

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from ..native import NativeDescription
from .dir_snapshot import DirSnapshot
from .errors import KernelError
from .fstypes import S_IFIFO, FileKind, Stat
from .handle import FileHandle
from .pipes import Interrupted, Pipe, PipeBudget, never_interrupted

__all__ = ["Description", "FileDescription", "PipeReader", "PipeWriter", "fifo_stat", "next_pipe_inode", "pipe_pair"]

_pipe_inodes = iter(range(1 << 40, 1 << 62))


def next_pipe_inode() -> int:
    """A new inode number for a pipe (or what a guest sees as one)."""
    return next(_pipe_inodes)


def fifo_stat(ino: int, size: int) -> Stat:
    """What fstat answers for a pipe end: ``size`` is the bytes buffered."""
    return Stat(
        ino=ino, dev=0, mode=S_IFIFO | 0o600, nlink=1, uid=1000, gid=1000,
        size=size, atime_ns=0, mtime_ns=0, ctime_ns=0,
    )


class Description:
    """Base of every open file description."""

    kind: FileKind = FileKind.REGULAR
    readable = False
    writable = False
    # Readiness may change without a watch() callback (a host socket): waiters
    # re-check it every few milliseconds instead of relying on wake-ups.
    needs_polling = False
    # The C side of the description, which fd tables mirror for the native
    # fd_read, fd_write and fd_fdstat_get (native/__init__.py); None for sockets,
    # which the native functions must never answer for.
    native: NativeDescription | None = None

    def __init__(self) -> None:
        self._refs = 0
        self._refs_lock = threading.Lock()
        self.append = False
        self.nonblocking = False

    def retain(self) -> None:
        with self._refs_lock:
            self._refs += 1

    def release(self) -> None:
        with self._refs_lock:
            self._refs -= 1
            last = self._refs == 0
        if last:
            self._close()

    def discard(self) -> None:
        """Close a description no fd table ever took (a failed install): one
        reference taken and dropped, so the last-release path closes it."""
        self.retain()
        self.release()

    def _close(self) -> None:
        raise NotImplementedError

    def read(self, n: int, interrupted: Interrupted = never_interrupted) -> bytes:
        """Raises: EBADF (not readable), EISDIR, EAGAIN, EINTR."""
        raise KernelError.ebadf()

    def write(self, data: bytes | memoryview, interrupted: Interrupted = never_interrupted) -> int:
        """Raises: EBADF (not writable), EPIPE, ENOSPC, EAGAIN, EINTR."""
        raise KernelError.ebadf()

    def pread(self, n: int, offset: int) -> bytes:
        raise KernelError.espipe()

    def pwrite(self, data: bytes | memoryview, offset: int) -> int:
        raise KernelError.espipe()

    def seek(self, offset: int, whence: int) -> int:
        raise KernelError.espipe()

    def tell(self) -> int:
        raise KernelError.espipe()

    def stat(self) -> Stat:
        raise NotImplementedError

    def truncate(self, size: int) -> None:
        raise KernelError.einval(message="not a regular file")

    def sync(self) -> None:
        """Nothing to flush for in-kernel objects."""

    def readdir_snapshot(self, refresh: bool = False) -> DirSnapshot:
        """Raises: ENOTDIR, ENOMEM (see FileHandle.readdir_snapshot)."""
        raise KernelError.enotdir()

    @property
    def path(self) -> str | None:
        """VM path the description was opened at (None for pipes)."""
        return None

    def ready(self, for_write: bool) -> bool:
        """An operation in that direction would not block."""
        return True

    def watch(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after state changes that may affect readiness."""

    def unwatch(self, callback: Callable[[], None]) -> None:
        """Stop calling ``callback``."""


class FileDescription(Description):
    """A VFS FileHandle: regular file, directory or device. Never blocks."""

    def __init__(self, handle: FileHandle) -> None:
        super().__init__()
        self.handle = handle
        self.native = NativeDescription()
        handle.share_position(self.native)  # a read-only host file: the native fd_read reads it
        self.kind = handle.kind
        self.readable = handle.is_readable
        self.writable = handle.is_writable

    @property
    def path(self) -> str:
        return self.handle.path

    def _close(self) -> None:
        self.handle.close()

    def read(self, n: int, interrupted: Interrupted = never_interrupted) -> bytes:
        return self.handle.read(n)

    def write(self, data: bytes | memoryview, interrupted: Interrupted = never_interrupted) -> int:
        if self.append:
            self.handle.seek(0, os.SEEK_END)
        return self.handle.write(data)

    def pread(self, n: int, offset: int) -> bytes:
        return self.handle.pread(n, offset)

    def pwrite(self, data: bytes | memoryview, offset: int) -> int:
        return self.handle.pwrite(data, offset)

    def seek(self, offset: int, whence: int) -> int:
        return self.handle.seek(offset, whence)

    def tell(self) -> int:
        return self.handle.tell()

    def stat(self) -> Stat:
        return self.handle.stat()

    def truncate(self, size: int) -> None:
        self.handle.truncate(size)

    def sync(self) -> None:
        self.handle.sync()

    def readdir_snapshot(self, refresh: bool = False) -> DirSnapshot:
        return self.handle.readdir_snapshot(refresh)


class _PipeEnd(Description):
    kind = FileKind.FIFO

    def __init__(self, pipe: Pipe, ino: int) -> None:
        super().__init__()
        self.pipe = pipe
        self._ino = ino
        self.native = pipe.native_end(self.writable)

    def stat(self) -> Stat:
        return fifo_stat(self._ino, self.pipe.buffered())

    def watch(self, callback: Callable[[], None]) -> None:
        self.pipe.watch(callback)

    def unwatch(self, callback: Callable[[], None]) -> None:
        self.pipe.unwatch(callback)


class PipeReader(_PipeEnd):
    readable = True

    def _close(self) -> None:
        self.pipe.close_reader()

    def read(self, n: int, interrupted: Interrupted = never_interrupted) -> bytes:
        return self.pipe.read(n, nonblocking=self.nonblocking, interrupted=interrupted)

    def ready(self, for_write: bool) -> bool:
        return not for_write and self.pipe.readable()


class PipeWriter(_PipeEnd):
    writable = True

    def _close(self) -> None:
        self.pipe.close_writer()

    def write(self, data: bytes | memoryview, interrupted: Interrupted = never_interrupted) -> int:
        return self.pipe.write(data, nonblocking=self.nonblocking, interrupted=interrupted)

    def ready(self, for_write: bool) -> bool:
        return for_write and self.pipe.writable()


def pipe_pair(capacity: int, max_capacity: int, budget: PipeBudget | None = None) -> tuple[PipeReader, PipeWriter]:
    """A new pipe's two ends (each not yet retained by any fd table)."""
    pipe = Pipe(capacity, max_capacity, budget)
    ino = next_pipe_inode()
    return PipeReader(pipe, ino), PipeWriter(pipe, ino)
