# Value types shared by every filesystem, and the contract a filesystem obeys.
#
# The split of work is the point of this file:
#
#  * The VFS (vfs.py) owns *paths*: it splits them, handles '.', '..',
#    symlinks, mount crossings, permission checks and read-only mounts.
#  * A FileSystem (memfs.py, hostfs.py) owns *nodes*: it is only ever asked
#    about ONE name inside a directory node it handed out earlier.  It never
#    parses a path and never follows a symlink.  That is what makes host_dir
#    confinement checkable: no host call ever sees a multi-component path.
#
# Nodes are opaque to the VFS except for `node.kind` (a FileKind).  Each
# filesystem documents what its node type is.
#
# Times are integer nanoseconds since the epoch.  Modes carry the file-type
# bits (S_IFREG...) like st_mode.  `Cred` is (uid, gid); uid 0 bypasses rwx
# checks.  Guests run as uid/gid 1000 (USER).

from __future__ import annotations

import enum
import itertools
import stat as _stat
from typing import Any, NamedTuple, Protocol

__all__ = [
    "CLIENT",
    "NAME_MAX",
    "OMIT",
    "PATH_MAX",
    "ROOT",
    "SYMLOOP_MAX",
    "S_IFBLK",
    "S_IFCHR",
    "S_IFDIR",
    "S_IFIFO",
    "S_IFLNK",
    "S_IFMT",
    "S_IFREG",
    "S_IFSOCK",
    "S_ISGID",
    "S_ISUID",
    "S_ISVTX",
    "USER",
    "Cred",
    "DirEntry",
    "FileKind",
    "FileSystem",
    "OpenFile",
    "OpenFlags",
    "Stat",
    "allocate_dev",
    "kind_of_mode",
]

NAME_MAX = 255  # bytes in one path component (UTF-8)
PATH_MAX = 4096  # bytes in a whole path, including the terminating NUL in POSIX
SYMLOOP_MAX = 40  # symlink expansions per resolution (Linux's value)

_devs = itertools.count(1)


def allocate_dev() -> int:
    """A fresh device number for a new filesystem instance (thread-safe in CPython)."""
    return next(_devs)


S_IFMT = 0o170000
S_IFSOCK = 0o140000
S_IFLNK = 0o120000
S_IFREG = 0o100000
S_IFBLK = 0o060000
S_IFDIR = 0o040000
S_IFCHR = 0o020000
S_IFIFO = 0o010000
S_ISUID = 0o4000
S_ISGID = 0o2000
S_ISVTX = 0o1000


class FileKind(enum.Enum):
    """The type of a filesystem node."""

    REGULAR = "file"
    DIRECTORY = "dir"
    SYMLINK = "symlink"
    FIFO = "fifo"
    CHAR_DEVICE = "chardev"
    BLOCK_DEVICE = "blockdev"
    SOCKET = "socket"

    @property
    def type_bits(self) -> int:
        return _KIND_TO_BITS[self]

    @classmethod
    def from_mode(cls, mode: int) -> FileKind:
        """Kind of an st_mode value; raises ValueError for unknown type bits."""
        return _BITS_TO_KIND[_stat.S_IFMT(mode)]


_KIND_TO_BITS = {
    FileKind.REGULAR: S_IFREG,
    FileKind.DIRECTORY: S_IFDIR,
    FileKind.SYMLINK: S_IFLNK,
    FileKind.FIFO: S_IFIFO,
    FileKind.CHAR_DEVICE: S_IFCHR,
    FileKind.BLOCK_DEVICE: S_IFBLK,
    FileKind.SOCKET: S_IFSOCK,
}
_BITS_TO_KIND = {bits: kind for kind, bits in _KIND_TO_BITS.items()}


def kind_of_mode(mode: int) -> FileKind | None:
    """The kind of an st_mode value, None for unknown type bits."""
    return _BITS_TO_KIND.get(mode & S_IFMT)


class Stat(NamedTuple):
    """POSIX-style file status.  `mode` includes the S_IF* type bits.

    A NamedTuple, not a frozen dataclass: every stat a guest asks builds one,
    and a frozen dataclass costs 1.1 us to build against 0.3 us."""

    ino: int
    dev: int
    mode: int
    nlink: int
    uid: int
    gid: int
    size: int
    atime_ns: int
    mtime_ns: int
    ctime_ns: int

    @property
    def kind(self) -> FileKind:
        return FileKind.from_mode(self.mode)

    @property
    def perm(self) -> int:
        """Permission bits only (including setuid/setgid/sticky)."""
        return self.mode & 0o7777

    @property
    def is_dir(self) -> bool:
        return self.mode & S_IFMT == S_IFDIR

    @property
    def is_file(self) -> bool:
        return self.mode & S_IFMT == S_IFREG

    @property
    def is_symlink(self) -> bool:
        return self.mode & S_IFMT == S_IFLNK


class DirEntry(NamedTuple):
    """One directory entry (name is a single component); a NamedTuple as Stat
    is, for the same reason (every listed name builds one)."""

    name: str
    kind: FileKind
    ino: int


class Cred(NamedTuple):
    """The identity an operation runs as, and who owns what it creates
    (``owner``; None means the identity itself)."""

    uid: int
    gid: int
    owner: tuple[int, int] | None = None

    @property
    def new_owner(self) -> tuple[int, int]:
        """(uid, gid) of the files, directories and symlinks this identity creates."""
        return self.owner or (self.uid, self.gid)


ROOT = Cred(0, 0)
USER = Cred(1000, 1000)
# The trusted client: root's rights, but what it creates belongs to the VM's user,
# so a guest can edit, replace and delete the files the client put there.
CLIENT = Cred(0, 0, (USER.uid, USER.gid))


class _Omit:
    __slots__ = ()

    def __repr__(self) -> str:
        return "OMIT"


OMIT: Any = _Omit()
"""Sentinel for utimes/set_times: leave this timestamp unchanged (UTIME_OMIT)."""


class OpenFlags(enum.IntFlag):
    """Flags for Vfs.open.

    Neither READ nor WRITE means read-only (O_RDONLY is 0 in POSIX).
    APPEND implies WRITE; every write through the handle goes to the end.
    """

    NONE = 0
    READ = 1
    WRITE = 2
    APPEND = 4
    CREAT = 8
    EXCL = 16
    TRUNC = 32
    DIRECTORY = 64
    NOFOLLOW = 128


class OpenFile(Protocol):
    """An open regular file inside one filesystem (no position: the VFS keeps it).

    All methods raise KernelError; EBADF after close().
    """

    def pread(self, n: int, offset: int) -> bytes: ...
    def pwrite(self, data: bytes, offset: int) -> int: ...
    def append(self, data: bytes) -> int:
        """Write at the current end; return the new end offset."""
        ...

    def size(self) -> int: ...
    def truncate(self, size: int) -> None: ...
    def stat(self) -> Stat: ...
    def set_attrs(
        self, mode: int | None = None, atime_ns: Any = OMIT, mtime_ns: Any = OMIT
    ) -> None: ...
    def sync(self) -> None: ...
    def close(self) -> None: ...


class FileSystem(Protocol):
    """The node-level contract every mountable filesystem implements.

    `name` arguments are always a single component: never empty, never '.',
    '..', never containing '/' or NUL.  Implementations re-check this anyway.
    Mutating methods raise EROFS when the filesystem is read-only.
    """

    dev: int
    read_only: bool

    def root(self) -> Any: ...
    def lookup(self, dir: Any, name: str) -> Any | None:
        """The child node called `name`, or None if absent.  Never follows symlinks."""
        ...

    def access_info(self, node: Any) -> tuple[int, int, int]:
        """(mode, uid, gid) for permission checks; may be cached from lookup."""
        ...

    def getattr(self, node: Any) -> Stat: ...
    def readlink(self, node: Any) -> str: ...
    def readdir(self, dir: Any) -> list[DirEntry]: ...
    def create(self, dir: Any, name: str, mode: int, uid: int, gid: int) -> Any: ...
    def mkdir(self, dir: Any, name: str, mode: int, uid: int, gid: int) -> Any: ...
    def symlink(self, dir: Any, name: str, target: str, uid: int, gid: int) -> Any: ...
    def link(self, node: Any, dir: Any, name: str) -> None: ...
    def unlink(self, dir: Any, name: str) -> None: ...
    def rmdir(self, dir: Any, name: str) -> None: ...
    def rename(
        self, old_dir: Any, old_name: str, new_dir: Any, new_name: str
    ) -> None: ...
    def setattr(
        self,
        node: Any,
        mode: int | None = None,
        atime_ns: Any = OMIT,
        mtime_ns: Any = OMIT,
    ) -> None: ...
    def truncate(self, node: Any, size: int) -> None: ...
    def open(self, node: Any, readable: bool, writable: bool) -> OpenFile: ...
    def same_node(self, a: Any, b: Any) -> bool: ...
    def close(self) -> None: ...
