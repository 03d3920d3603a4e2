"""WASI preview1 constants and struct layouts (little-endian, wasm32).

Reference: https://github.com/WebAssembly/WASI/blob/main/legacy/preview1/docs.md
(``typenames.witx``). Only layouts the host writes or reads live here; each packer
returns the exact bytes the guest expects so the functions stay declarative.
"""

from __future__ import annotations

import stat as _stat
import struct

from ...kernel.fstypes import FileKind, Stat

# -- filetype -----------------------------------------------------------------------
FILETYPE_UNKNOWN = 0
FILETYPE_BLOCK_DEVICE = 1
FILETYPE_CHARACTER_DEVICE = 2
FILETYPE_DIRECTORY = 3
FILETYPE_REGULAR_FILE = 4
FILETYPE_SOCKET_DGRAM = 5
FILETYPE_SOCKET_STREAM = 6
FILETYPE_SYMBOLIC_LINK = 7

# Pipes are reported as UNKNOWN, as agentOS does (preview1 has no FIFO type; libc
# then takes the type bits from host_fs.fd_mode, which says S_IFIFO).
_FILETYPES = {
    FileKind.REGULAR: FILETYPE_REGULAR_FILE,
    FileKind.DIRECTORY: FILETYPE_DIRECTORY,
    FileKind.SYMLINK: FILETYPE_SYMBOLIC_LINK,
    FileKind.CHAR_DEVICE: FILETYPE_CHARACTER_DEVICE,
    FileKind.BLOCK_DEVICE: FILETYPE_BLOCK_DEVICE,
    FileKind.SOCKET: FILETYPE_SOCKET_STREAM,
    FileKind.FIFO: FILETYPE_UNKNOWN,
}


# The same, by a mode's S_IFMT bits: pack_filestat answers every stat, and a
# FileKind's hash is Python code (~0.5 us per stat with Stat.kind).
_FILETYPES_BY_BITS = {kind.type_bits: filetype for kind, filetype in _FILETYPES.items()}


def filetype(kind: FileKind) -> int:
    return _FILETYPES.get(kind, FILETYPE_UNKNOWN)


# -- fdflags (u16) ---------------------------------------------------------------------
FDFLAGS_APPEND = 1 << 0
FDFLAGS_DSYNC = 1 << 1
FDFLAGS_NONBLOCK = 1 << 2
FDFLAGS_RSYNC = 1 << 3
FDFLAGS_SYNC = 1 << 4

# -- oflags (u16) ----------------------------------------------------------------------
OFLAGS_CREAT = 1 << 0
OFLAGS_DIRECTORY = 1 << 1
OFLAGS_EXCL = 1 << 2
OFLAGS_TRUNC = 1 << 3

# -- lookupflags (u32) ------------------------------------------------------------------
LOOKUP_SYMLINK_FOLLOW = 1 << 0

# -- fstflags (u16) ----------------------------------------------------------------------
FSTFLAGS_ATIM = 1 << 0
FSTFLAGS_ATIM_NOW = 1 << 1
FSTFLAGS_MTIM = 1 << 2
FSTFLAGS_MTIM_NOW = 1 << 3

# -- whence (u8) -----------------------------------------------------------------------
WHENCE_SET = 0
WHENCE_CUR = 1
WHENCE_END = 2

# -- advice (u8) -----------------------------------------------------------------------
ADVICE_MAX = 5  # normal, sequential, random, willneed, dontneed, noreuse

# -- clockid (u32) ------------------------------------------------------------------------
CLOCK_REALTIME = 0
CLOCK_MONOTONIC = 1
CLOCK_PROCESS_CPUTIME_ID = 2
CLOCK_THREAD_CPUTIME_ID = 3

# -- rights (u64) -------------------------------------------------------------------------
RIGHT_FD_DATASYNC = 1 << 0
RIGHT_FD_READ = 1 << 1
RIGHT_FD_SEEK = 1 << 2
RIGHT_FD_FDSTAT_SET_FLAGS = 1 << 3
RIGHT_FD_SYNC = 1 << 4
RIGHT_FD_TELL = 1 << 5
RIGHT_FD_WRITE = 1 << 6
RIGHT_FD_ADVISE = 1 << 7
RIGHT_FD_ALLOCATE = 1 << 8
RIGHT_PATH_CREATE_DIRECTORY = 1 << 9
RIGHT_PATH_CREATE_FILE = 1 << 10
RIGHT_PATH_LINK_SOURCE = 1 << 11
RIGHT_PATH_LINK_TARGET = 1 << 12
RIGHT_PATH_OPEN = 1 << 13
RIGHT_FD_READDIR = 1 << 14
RIGHT_PATH_READLINK = 1 << 15
RIGHT_PATH_RENAME_SOURCE = 1 << 16
RIGHT_PATH_RENAME_TARGET = 1 << 17
RIGHT_PATH_FILESTAT_GET = 1 << 18
RIGHT_PATH_FILESTAT_SET_SIZE = 1 << 19
RIGHT_PATH_FILESTAT_SET_TIMES = 1 << 20
RIGHT_FD_FILESTAT_GET = 1 << 21
RIGHT_FD_FILESTAT_SET_SIZE = 1 << 22
RIGHT_FD_FILESTAT_SET_TIMES = 1 << 23
RIGHT_PATH_SYMLINK = 1 << 24
RIGHT_PATH_REMOVE_DIRECTORY = 1 << 25
RIGHT_PATH_UNLINK_FILE = 1 << 26
RIGHT_POLL_FD_READWRITE = 1 << 27
RIGHT_SOCK_SHUTDOWN = 1 << 28
RIGHT_SOCK_ACCEPT = 1 << 29
RIGHTS_ALL = (1 << 30) - 1  # 0x3FFFFFFF, what wasi-libc asks for on O_RDWR

# -- eventtype / subscription / event --------------------------------------------------------
EVENTTYPE_CLOCK = 0
EVENTTYPE_FD_READ = 1
EVENTTYPE_FD_WRITE = 2
SUBCLOCKFLAGS_ABSTIME = 1 << 0
EVENTRWFLAGS_FD_READWRITE_HANGUP = 1 << 0

SUBSCRIPTION_SIZE = 48
EVENT_SIZE = 32
# subscription: u64 userdata @0; u8 tag @8; union @16:
#   clock: u32 id @16, u64 timeout @24, u64 precision @32, u16 flags @40
#   fd_read / fd_write: u32 fd @16
_SUB_HEAD = struct.Struct("<QB")
_SUB_CLOCK = struct.Struct("<I4xQQH")  # at offset 16
_SUB_FD = struct.Struct("<I")  # at offset 16
# event: u64 userdata @0; u16 error @8; u8 type @10; u64 nbytes @16; u16 flags @24
_EVENT = struct.Struct("<QHB5xQH6x")
assert _EVENT.size == EVENT_SIZE


def unpack_subscription(raw: bytes, offset: int) -> tuple[int, int, tuple[int, ...]]:
    """(userdata, tag, fields): clock fields (id, timeout, precision, flags), fd fields (fd,)."""
    userdata, tag = _SUB_HEAD.unpack_from(raw, offset)
    if tag == EVENTTYPE_CLOCK:
        return userdata, tag, _SUB_CLOCK.unpack_from(raw, offset + 16)
    return userdata, tag, _SUB_FD.unpack_from(raw, offset + 16)


def pack_event(userdata: int, error: int, type_: int, nbytes: int = 0, flags: int = 0) -> bytes:
    return _EVENT.pack(userdata, error, type_, nbytes & 0xFFFFFFFFFFFFFFFF, flags)


# -- fdstat (24 bytes): u8 filetype @0; u16 fs_flags @2; u64 rights_base @8; u64 inheriting @16
_FDSTAT = struct.Struct("<BxHxxxxQQ")
assert _FDSTAT.size == 24


def pack_fdstat(filetype_: int, fs_flags: int, rights_base: int, rights_inheriting: int) -> bytes:
    return _FDSTAT.pack(filetype_, fs_flags, rights_base, rights_inheriting)


# -- filestat (64 bytes) ------------------------------------------------------------------------
_FILESTAT = struct.Struct("<QQB7xQQQQQ")
assert _FILESTAT.size == 64


def pack_filestat(st: Stat) -> bytes:
    mask = 0xFFFFFFFFFFFFFFFF
    return _FILESTAT.pack(
        st.dev & mask, st.ino & mask, _FILETYPES_BY_BITS.get(_stat.S_IFMT(st.mode), FILETYPE_UNKNOWN),
        st.nlink & mask, st.size & mask,
        st.atime_ns & mask, st.mtime_ns & mask, st.ctime_ns & mask,
    )


# -- prestat (8 bytes): u8 tag (0 = dir); u32 name_len @4 ----------------------------------------
PREOPENTYPE_DIR = 0
_PRESTAT = struct.Struct("<B3xI")


def pack_prestat(name_len: int, tag: int = PREOPENTYPE_DIR) -> bytes:
    return _PRESTAT.pack(tag, name_len)


# -- dirent (24 bytes + name): u64 d_next; u64 d_ino; u32 d_namlen; u8 d_type ----------------------
DIRENT_SIZE = 24
_DIRENT = struct.Struct("<QQIB3x")
assert _DIRENT.size == DIRENT_SIZE


def pack_dirent(next_cookie: int, ino: int, name: bytes, type_: int) -> bytes:
    return _DIRENT.pack(next_cookie, ino & 0xFFFFFFFFFFFFFFFF, len(name), type_) + name
