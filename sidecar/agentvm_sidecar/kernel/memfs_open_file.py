# MemOpenFile: an open regular file of a MemoryFs (kernel/memfs.py), what a
# FileHandle reads and writes through.  It reaches into its filesystem for the
# accounting, copy-on-write and change counting that every change of a node
# goes through there.

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .errors import KernelError
from .fstypes import OMIT, Stat

if TYPE_CHECKING:
    from .memfs import MemNode, MemoryFs

__all__ = ["MemOpenFile"]


class MemOpenFile:
    """An open regular file of a MemoryFs (holds the inode alive after unlink)."""

    __slots__ = ("_closed", "_fs", "_node")

    def __init__(self, fs: MemoryFs, node: MemNode) -> None:
        self._fs = fs
        self._node = node
        self._closed = False

    def _live(self) -> MemNode:
        if self._closed:
            raise KernelError.ebadf()
        return self._node

    def pread(self, n: int, offset: int) -> bytes:
        """Raises: EBADF, EINVAL (negative n/offset)."""
        node = self._live()
        if n < 0 or offset < 0:
            raise KernelError.einval()
        out = bytes(node.data[offset : offset + n])
        self._fs._accessed(node)
        return out

    def pwrite(self, data: bytes, offset: int) -> int:
        """All-or-nothing write.  Raises: EBADF, EINVAL, EROFS, ENOSPC."""
        node = self._live()
        self._fs._writable()
        if offset < 0:
            raise KernelError.einval()
        n = len(data)
        old = len(node.data)
        end = offset + n
        if end > old:
            self._fs._reserve(end - old)
        if not old and not offset and type(data) is bytes:
            # The whole content of an empty file (fs.writeFile, the tools docs every
            # VM gets, a guest's first write): kept as it is, copied on the next write.
            node.data = data
        else:
            buf = self._fs._mutable(node)
            if offset > old:
                buf.extend(bytes(offset - old))
            buf[offset:end] = data
        node.mtime_ns = node.ctime_ns = time.time_ns()
        self._fs._changed()
        return n

    def append(self, data: bytes) -> int:
        node = self._live()
        offset = len(node.data)
        self.pwrite(data, offset)
        return offset + len(data)

    def size(self) -> int:
        return len(self._live().data)

    def truncate(self, size: int) -> None:
        self._fs.truncate(self._live(), size)

    def stat(self) -> Stat:
        return self._fs.getattr(self._live())

    def set_attrs(
        self, mode: int | None = None, atime_ns: Any = OMIT, mtime_ns: Any = OMIT
    ) -> None:
        self._fs.setattr(self._live(), mode, atime_ns, mtime_ns)

    def sync(self) -> None:
        self._live()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._node.open_count -= 1
        self._fs._maybe_free(self._node)
