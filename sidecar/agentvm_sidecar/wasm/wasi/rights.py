"""WASI preview1 rights and the fdflags the kernel does not keep, per description.

Rights (witx ``$rights``) are what ``fd_fdstat_get`` reports; they follow how the fd
was opened, as wasmtime's preview1 does:
  * a directory has the directory operations as base rights (no ``fd_read``,
    ``fd_write``, ``fd_seek``, ``fd_filestat_set_size``...) and everything as
    inheriting rights, which wasi-libc's ``openat`` intersects with what it asks
    for (so a file opened below a directory can be read and written);
  * a file, pipe, device or socket has the file operations, minus ``fd_read``
    when not open for reading, minus the writing ones when not open for writing,
    minus ``fd_seek``/``fd_tell`` when it cannot seek (pipes, sockets, terminals:
    wasi-libc's ``isatty`` is "a character device without those two"); it hands
    down nothing (inheriting 0).
``fd_fdstat_set_rights`` may only drop rights ("this function may only be used to
reduce the set of rights", docs.md; ENOTCAPABLE for an attempt to add one), and a
dropped right is enforced: the calls it names answer ENOTCAPABLE.

Rights and the sync flags (DSYNC, RSYNC, SYNC: accepted and reported, every write
is durable in the kernel anyway) belong to the open description, so they live
beside it here, keyed weakly, instead of in the kernel, which knows nothing of
WASI.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

from ...kernel.descriptions import Description
from ...kernel.errors import KernelError
from ...kernel.fstypes import FileKind
from . import layouts as L

__all__ = [
    "DIRECTORY_BASE",
    "DIRECTORY_INHERITING",
    "SYNC_FLAGS",
    "drop_rights",
    "fdstat_fields",
    "require",
    "rights_of",
    "set_sync_flags",
]

DIRECTORY_BASE = (
    L.RIGHT_FD_FDSTAT_SET_FLAGS | L.RIGHT_FD_SYNC | L.RIGHT_FD_ADVISE | L.RIGHT_PATH_CREATE_DIRECTORY
    | L.RIGHT_PATH_CREATE_FILE | L.RIGHT_PATH_LINK_SOURCE | L.RIGHT_PATH_LINK_TARGET | L.RIGHT_PATH_OPEN
    | L.RIGHT_FD_READDIR | L.RIGHT_PATH_READLINK | L.RIGHT_PATH_RENAME_SOURCE | L.RIGHT_PATH_RENAME_TARGET
    | L.RIGHT_PATH_FILESTAT_GET | L.RIGHT_PATH_FILESTAT_SET_SIZE | L.RIGHT_PATH_FILESTAT_SET_TIMES
    | L.RIGHT_FD_FILESTAT_GET | L.RIGHT_FD_FILESTAT_SET_TIMES | L.RIGHT_PATH_SYMLINK
    | L.RIGHT_PATH_REMOVE_DIRECTORY | L.RIGHT_PATH_UNLINK_FILE | L.RIGHT_POLL_FD_READWRITE
)
DIRECTORY_INHERITING = L.RIGHTS_ALL
_FILE_BASE = (
    L.RIGHT_FD_DATASYNC | L.RIGHT_FD_READ | L.RIGHT_FD_SEEK | L.RIGHT_FD_FDSTAT_SET_FLAGS | L.RIGHT_FD_SYNC
    | L.RIGHT_FD_TELL | L.RIGHT_FD_WRITE | L.RIGHT_FD_ADVISE | L.RIGHT_FD_ALLOCATE | L.RIGHT_FD_FILESTAT_GET
    | L.RIGHT_FD_FILESTAT_SET_SIZE | L.RIGHT_FD_FILESTAT_SET_TIMES | L.RIGHT_POLL_FD_READWRITE
)
_WRITING = L.RIGHT_FD_WRITE | L.RIGHT_FD_DATASYNC | L.RIGHT_FD_ALLOCATE | L.RIGHT_FD_FILESTAT_SET_SIZE
_SEEKING = L.RIGHT_FD_SEEK | L.RIGHT_FD_TELL
_SOCKET = L.RIGHT_SOCK_SHUTDOWN | L.RIGHT_SOCK_ACCEPT
_UNSEEKABLE = (FileKind.FIFO, FileKind.SOCKET)
SYNC_FLAGS = L.FDFLAGS_DSYNC | L.FDFLAGS_RSYNC | L.FDFLAGS_SYNC


@dataclass
class _Extra:
    dropped_base: int = 0
    dropped_inheriting: int = 0
    sync_flags: int = 0


_extras: weakref.WeakKeyDictionary[Description, _Extra] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _extra(desc: Description) -> _Extra:
    with _lock:
        extra = _extras.get(desc)
        if extra is None:
            extra = _extras[desc] = _Extra()
        return extra


def _full_rights(desc: Description) -> tuple[int, int]:
    if desc.kind is FileKind.DIRECTORY:
        return DIRECTORY_BASE, DIRECTORY_INHERITING
    base = _FILE_BASE
    if not desc.readable:
        base &= ~L.RIGHT_FD_READ
    if not desc.writable:
        base &= ~_WRITING
    if desc.kind in _UNSEEKABLE or getattr(desc, "is_tty", False):
        base &= ~_SEEKING
    if desc.kind is FileKind.SOCKET:
        base |= _SOCKET
    return base, 0


def _extra_of(desc: Description) -> _Extra | None:
    # Most guests never drop a right nor set a sync flag: skip the weak lookup
    # (it builds a weakref per call) while no description has extras at all.
    return _extras.get(desc) if _extras else None


def rights_of(desc: Description) -> tuple[int, int]:
    """(base, inheriting) rights of ``desc`` as fd_fdstat_get reports them."""
    return _rights(desc, _extra_of(desc))


def _rights(desc: Description, extra: _Extra | None) -> tuple[int, int]:
    base, inheriting = _full_rights(desc)
    if extra is not None:
        base &= ~extra.dropped_base
        inheriting &= ~extra.dropped_inheriting
    return base, inheriting


def fdstat_fields(desc: Description) -> tuple[int, int, int]:
    """(base rights, inheriting rights, sync flags) of ``desc``, with one lookup."""
    extra = _extra_of(desc)
    base, inheriting = _rights(desc, extra)
    return base, inheriting, extra.sync_flags if extra is not None else 0


def drop_rights(desc: Description, base: int, inheriting: int) -> None:
    """Keep only ``base``/``inheriting`` of the rights ``desc`` has.

    Raises: ENOTCAPABLE when either names a right ``desc`` does not have.
    """
    have_base, have_inheriting = rights_of(desc)
    if base & ~have_base or inheriting & ~have_inheriting:
        raise KernelError("ENOTCAPABLE", "rights can only be dropped")
    extra = _extra(desc)
    extra.dropped_base |= have_base & ~base
    extra.dropped_inheriting |= have_inheriting & ~inheriting


def require(desc: Description, right: int) -> None:
    """Raises: ENOTCAPABLE when ``right`` was dropped from ``desc``."""
    extra = _extra_of(desc)
    if extra is not None and extra.dropped_base & right:
        raise KernelError("ENOTCAPABLE", "the fd's rights do not allow this")


def set_sync_flags(desc: Description, flags: int) -> None:
    flags &= SYNC_FLAGS
    if flags or _extra_of(desc) is not None:  # every path_open asks
        _extra(desc).sync_flags = flags
