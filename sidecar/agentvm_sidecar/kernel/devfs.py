# DevFs: the VM's /dev, a fixed set of character devices.
#
#   null     reads end of file, writes vanish
#   zero     reads zero bytes, writes vanish
#   random, urandom   reads host CSPRNG bytes, writes vanish
#   fd/N     the calling process's fd N (a directory of per-process aliases)
#   stdin, stdout, stderr   symlinks to fd/0, fd/1, fd/2
#
# The set is fixed: creating, removing or renaming entries fails with EPERM.
# Devices ignore offsets, as on Linux.  One instance is shared by every VM (it
# has no state), mounted at /dev.
#
# /dev/fd/N depends on who asks, which a filesystem cannot know, so DevFs only
# names it: the node is an alias (`fd_alias`) and the kernel's process-aware
# open/stat (Kernel.open_as / stat_as) substitute the caller's own fd N. Resolving
# through the VFS first means symlinks to /dev/stdin and `/dev/./fd/3` work too.
# Opening an alias shares the fd's open description (as on the BSDs) rather than
# reopening the file as Linux does; for pipes, the case shells care about
# (`<(cmd)`, `> /dev/stderr`), the two are the same.

from __future__ import annotations

import os
from typing import Any

from .errors import KernelError
from .fstypes import OMIT, S_IFCHR, S_IFDIR, S_IFLNK, DirEntry, FileKind, Stat, allocate_dev

__all__ = ["DevFs"]

_MAX_READ = 1 << 20
_FD_ALIAS_INO = 1 << 32  # inode of fd/N is this + N
_MAX_FD_ALIAS = 1 << 20


class _Device:
    __slots__ = ("ino", "kind", "name", "rdev", "target")

    def __init__(
        self, name: str, ino: int, rdev: int, kind: FileKind = FileKind.CHAR_DEVICE, target: str = ""
    ) -> None:
        self.name, self.ino, self.rdev, self.kind, self.target = name, ino, rdev, kind, target

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
        devices = [
            _Device(name, ino, rdev)
            for ino, (name, rdev) in enumerate(
                [("null", 0x103), ("zero", 0x105), ("random", 0x108), ("urandom", 0x109)], start=2
            )
        ]
        self._fd_dir = _Device("fd", 6, 0, FileKind.DIRECTORY)
        links = [
            _Device(name, 7 + n, 0, FileKind.SYMLINK, target=f"fd/{n}")
            for n, name in enumerate(("stdin", "stdout", "stderr"))
        ]
        self._devices = {d.name: d for d in (*devices, self._fd_dir, *links)}

    def root(self) -> _Device:
        return self._root

    def lookup(self, dir: _Device, name: str) -> _Device | None:
        if dir is self._root:
            return self._devices.get(name)
        if dir is self._fd_dir and name.isdigit() and name.isascii() and int(name) < _MAX_FD_ALIAS:
            n = int(name)
            return _Device(str(n), _FD_ALIAS_INO + n, 0)
        return None

    def access_info(self, node: _Device) -> tuple[int, int, int]:
        return (0o755 if node.kind is FileKind.DIRECTORY else 0o777 if node.target else 0o666), 0, 0

    def getattr(self, node: _Device) -> Stat:
        if node.kind is FileKind.DIRECTORY:
            mode, nlink = S_IFDIR | 0o755, 2
        elif node.target:
            mode, nlink = S_IFLNK | 0o777, 1
        else:
            mode, nlink = S_IFCHR | 0o666, 1
        return Stat(ino=node.ino, dev=self.dev, mode=mode, nlink=nlink,
                    uid=0, gid=0, size=len(node.target), atime_ns=0, mtime_ns=0, ctime_ns=0)

    def rdev(self, node: _Device) -> int:
        return node.rdev

    def readlink(self, node: _Device) -> str:
        if not node.target:
            raise KernelError.einval()
        return node.target

    def readdir(self, dir: _Device) -> list[DirEntry]:
        if dir is self._fd_dir:
            # Who is listing is unknown here; the standard three always exist.
            return [DirEntry(str(n), FileKind.CHAR_DEVICE, _FD_ALIAS_INO + n) for n in range(3)]
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
        return a is b or (a.ino == b.ino and a.ino >= _FD_ALIAS_INO)

    def fd_alias(self, st: Stat) -> int | None:
        """N when ``st`` is the stat of /dev/fd/N, else None."""
        return st.ino - _FD_ALIAS_INO if st.dev == self.dev and st.ino >= _FD_ALIAS_INO else None

    def close(self) -> None:
        """Stateless."""
