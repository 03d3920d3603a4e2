# DevFs: the VM's /dev, a fixed set of character devices.
#
#   null     reads end of file, writes vanish
#   zero     reads zero bytes, writes vanish
#   random, urandom   reads host CSPRNG bytes, writes vanish
#
# The set is fixed: creating, removing or renaming entries fails with EPERM.
# Devices ignore offsets, as on Linux.  One instance is shared by every VM (it
# has no state), mounted at /dev.

from __future__ import annotations

import os
from typing import Any

from .errors import KernelError
from .fstypes import OMIT, S_IFCHR, S_IFDIR, DirEntry, FileKind, Stat, allocate_dev

__all__ = ["DevFs"]

_MAX_READ = 1 << 20


class _Device:
    __slots__ = ("ino", "kind", "name", "rdev")

    def __init__(self, name: str, ino: int, rdev: int, kind: FileKind = FileKind.CHAR_DEVICE) -> None:
        self.name, self.ino, self.rdev, self.kind = name, ino, rdev, kind

    def produce(self, n: int) -> bytes:
        n = min(n, _MAX_READ)
        if self.name == "null":
            return b""
        if self.name == "zero":
            return bytes(n)
        return os.urandom(n)


class _DeviceFile:
    """An open device: offsets are ignored, writes are discarded."""

    def __init__(self, fs: DevFs, dev: _Device) -> None:
        self._fs, self._dev = fs, dev

    def pread(self, n: int, offset: int) -> bytes:
        return self._dev.produce(n)

    def pwrite(self, data: bytes, offset: int) -> int:
        return len(data)

    def append(self, data: bytes) -> int:
        return 0

    def size(self) -> int:
        return 0

    def truncate(self, size: int) -> None:
        """Truncating a device does nothing (``> /dev/null`` opens with O_TRUNC)."""

    def stat(self) -> Stat:
        return self._fs.getattr(self._dev)

    def set_attrs(self, mode: int | None = None, atime_ns: Any = OMIT, mtime_ns: Any = OMIT) -> None:
        raise KernelError.eperm()

    def sync(self) -> None:
        """Nothing to flush."""

    def close(self) -> None:
        """Nothing to release."""


class DevFs:
    """The fixed /dev filesystem (see module header)."""

    read_only = False

    def __init__(self) -> None:
        self.dev = allocate_dev()
        self._root = _Device("", 1, 0, FileKind.DIRECTORY)
        self._devices = {
            name: _Device(name, ino, rdev)
            for ino, (name, rdev) in enumerate(
                [("null", 0x103), ("zero", 0x105), ("random", 0x108), ("urandom", 0x109)], start=2
            )
        }

    def root(self) -> _Device:
        return self._root

    def lookup(self, dir: _Device, name: str) -> _Device | None:
        return self._devices.get(name) if dir is self._root else None

    def access_info(self, node: _Device) -> tuple[int, int, int]:
        return (0o755 if node is self._root else 0o666), 0, 0

    def getattr(self, node: _Device) -> Stat:
        mode = S_IFDIR | 0o755 if node is self._root else S_IFCHR | 0o666
        return Stat(ino=node.ino, dev=self.dev, mode=mode, nlink=2 if node is self._root else 1,
                    uid=0, gid=0, size=0, atime_ns=0, mtime_ns=0, ctime_ns=0)

    def rdev(self, node: _Device) -> int:
        return node.rdev

    def readlink(self, node: _Device) -> str:
        raise KernelError.einval()

    def readdir(self, dir: _Device) -> list[DirEntry]:
        return [DirEntry(d.name, d.kind, d.ino) for d in self._devices.values()]

    def _fixed(self, *args: Any, **kwargs: Any) -> Any:
        raise KernelError.eperm(message="/dev entries are fixed")

    create = mkdir = symlink = link = unlink = rmdir = rename = _fixed

    def setattr(self, node: _Device, mode: int | None = None, atime_ns: Any = OMIT, mtime_ns: Any = OMIT) -> None:
        raise KernelError.eperm()

    def truncate(self, node: _Device, size: int) -> None:
        """Truncating a device does nothing."""

    def open(self, node: _Device, readable: bool, writable: bool) -> _DeviceFile:
        return _DeviceFile(self, node)

    def same_node(self, a: Any, b: Any) -> bool:
        return a is b

    def close(self) -> None:
        """Stateless."""
