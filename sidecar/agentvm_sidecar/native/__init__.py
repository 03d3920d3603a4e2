"""agentvm's compiled hot path (agentvm_native.c), loaded with ctypes.

Why C: streaming through a pipe costs the guests about three host calls per 8 KiB
chunk (fd_write, fd_read, fd_fdstat_get); in Python each is 4-16 us with the GIL
held, which caps a pipeline near 120 MB/s however the threads overlap. So pipe
buffers live in C (kernel/pipes.py keeps every rule and drives them), each process
has a C mirror of its fds (kernel/fdtable.py keeps it in step; sockets are left
out), and those three WASI functions (plus the agentOS libc's net_send/net_recv
probe) are C functions wasmtime calls directly: they serve the plain case (data
buffered, room in the buffer, an fdstat Python published) without the GIL, and
call the Python host function for everything else. The same holds for reads of
a host file opened read-only (its description keeps the host fd and the file
position; kernel/handle.py), for stats the stat memo answers (wasm/stat_memo.py),
and for host directory listings (kernel/hostfs.py: one record per entry instead
of os.scandir's Python objects).

The objects below own one C reference each and drop it when collected; C keeps its
own references between them (see the C file's header).
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import os
import struct
import threading
from collections.abc import Iterator
from ctypes import POINTER, c_char_p, c_int, c_int64, c_long, c_uint32, c_uint64, c_void_p

from ..logs import get_logger
from .build import build_library

__all__ = [
    "MEMO_HOSTFS",
    "MEMO_WASI",
    "NATIVE_HOST_FUNCTIONS",
    "NO_FS",
    "FdMirror",
    "FsCounters",
    "NativeDescription",
    "NativeLibrary",
    "StatMemo",
    "call_counts",
    "fs_counters",
    "library",
    "pack_dirent",
    "preopen_publish",
    "stat_changed",
    "stat_memo",
    "stats_changed_here",
    "thread_clear",
    "thread_set",
    "thread_strings",
]

# (module, name, params, results) -> the C function wasmtime calls for it
NATIVE_HOST_FUNCTIONS = {
    ("wasi_snapshot_preview1", "fd_write", "iiii", "i"): "avm_fd_write",
    ("wasi_snapshot_preview1", "fd_read", "iiii", "i"): "avm_fd_read",
    ("wasi_snapshot_preview1", "fd_fdstat_get", "ii", "i"): "avm_fd_fdstat_get",
    ("host_net", "net_send", "iiiii", "i"): "avm_net_send",
    ("host_net", "net_recv", "iiiii", "i"): "avm_net_recv",
    # answered from the stat memo (wasm/stat_memo.py fills it)
    ("wasi_snapshot_preview1", "path_filestat_get", "iiiii", "i"): "avm_path_filestat_get",
    ("host_fs", "path_mode", "iiii", "i"): "avm_path_mode",
    ("host_fs", "path_mode", "iii", "i"): "avm_path_mode_cwd",
    ("host_fs", "path_size", "iiii", "I"): "avm_path_size",
    # answered from what GuestContext publishes with the memory (thread_strings)
    ("wasi_snapshot_preview1", "args_sizes_get", "ii", "i"): "avm_args_sizes_get",
    ("wasi_snapshot_preview1", "args_get", "ii", "i"): "avm_args_get",
    ("wasi_snapshot_preview1", "environ_sizes_get", "ii", "i"): "avm_environ_sizes_get",
    ("wasi_snapshot_preview1", "environ_get", "ii", "i"): "avm_environ_get",
    ("wasi_snapshot_preview1", "fd_prestat_get", "ii", "i"): "avm_fd_prestat_get",
    ("wasi_snapshot_preview1", "fd_prestat_dir_name", "iii", "i"): "avm_fd_prestat_dir_name",
}
_CALL_NAMES = (
    "fd_write", "fd_read", "fd_fdstat_get", "net_send", "net_recv",
    "path_filestat_get", "path_mode", "path_mode_cwd", "path_size",
    "args_sizes_get", "args_get", "environ_sizes_get", "environ_get",
    "fd_prestat_get", "fd_prestat_dir_name",
)
_RAW_SLOT_BYTES = 16  # sizeof(wasmtime_val_raw_t)

_SLEEPING = {"avm_pipe_wait", "avm_list_dir", "avm_desc_read", "avm_zero_memory"}
_SIGNATURES: dict[str, tuple[object, list[object]]] = {
    "avm_budget_new": (c_void_p, [c_int64]),
    "avm_budget_unref": (None, [c_void_p]),
    "avm_budget_take": (c_int64, [c_void_p, c_int64]),
    "avm_budget_give": (None, [c_void_p, c_int64]),
    "avm_budget_used": (c_int64, [c_void_p]),
    "avm_pipe_new": (c_void_p, [c_int64, c_int64, c_void_p]),
    "avm_pipe_unref": (None, [c_void_p]),
    "avm_pipe_close_end": (c_int, [c_void_p, c_int]),
    "avm_pipe_write": (c_int64, [c_void_p, c_void_p, c_int64]),
    "avm_pipe_read": (c_int64, [c_void_p, c_void_p, c_int64]),
    "avm_pipe_wait": (None, [c_void_p, c_int, c_int64, c_uint64]),
    "avm_pipe_kicks": (c_uint64, [c_void_p]),
    "avm_pipe_kick": (None, [c_void_p]),
    "avm_pipe_state": (None, [c_void_p, POINTER(c_int64)]),
    "avm_pipe_buffered": (c_int64, [c_void_p]),
    "avm_pipe_set_elastic": (None, [c_void_p]),
    "avm_pipe_set_watched": (None, [c_void_p, c_int]),
    "avm_live_pipes": (c_long, []),
    "avm_desc_new": (c_void_p, [c_void_p, c_int]),
    "avm_desc_new_capture": (c_void_p, [c_int64]),
    "avm_desc_capture_write": (c_int64, [c_void_p, c_char_p, c_int64]),
    "avm_desc_captured": (c_int64, [c_void_p, c_void_p, c_int64, POINTER(c_int)]),
    "avm_desc_unref": (None, [c_void_p]),
    "avm_desc_publish": (None, [c_void_p, c_void_p, c_int]),
    "avm_desc_host_file": (c_int64, [c_void_p, c_int, c_int64]),
    "avm_desc_read": (c_int64, [c_void_p, c_void_p, c_int64]),
    "avm_desc_seek": (c_int64, [c_void_p, c_int64, c_int, c_int64]),
    "avm_mirror_new": (c_void_p, []),
    "avm_mirror_unref": (None, [c_void_p]),
    "avm_mirror_set": (None, [c_void_p, c_int64, c_void_p]),
    "avm_mirror_served": (c_uint64, [c_void_p, c_int]),
    "avm_thread_set": (None, [c_void_p, c_void_p, c_uint64, c_uint32]),
    "avm_thread_grown": (None, [c_void_p, c_uint64]),
    "avm_thread_strings": (
        None, [c_char_p, c_uint32, c_uint32, c_char_p, c_uint32, c_uint32, c_char_p, c_uint32, c_uint32],
    ),
    "avm_preopen_publish": (None, [c_char_p, c_uint32, c_uint32, c_uint32]),
    "avm_call_counts": (None, [POINTER(c_uint64)]),
    "avm_call_kinds": (c_int, []),
    "avm_stat_changed": (None, []),
    "avm_fs_counters": (c_int, []),
    "avm_fs_changed": (None, [c_uint32]),
    "avm_memo_forget": (None, []),
    "avm_memo_bytes": (c_int, []),
    "avm_memo_fill_bytes": (c_int, []),
    "avm_memo_fill": (c_int, [c_char_p]),
    "avm_listing_rec_bytes": (c_int, []),
    "avm_listing_fill": (c_int, [c_char_p, c_int64]),
    "avm_listed_dirent_bytes": (c_int, []),
    "avm_list_room": (c_int, []),
    "avm_list_dir": (c_int64, [c_int, c_int, POINTER(c_int64), c_int64, c_void_p, c_int64, POINTER(c_int)]),
    "avm_raw_size": (c_int, []),
    "avm_mirror_fds": (c_int, []),
    "avm_zero_memory": (c_int, [c_void_p, c_int64, c_int64]),
    "avm_linear_new": (c_void_p, [c_void_p, c_uint64, c_uint64]),
    "avm_linear_set_size": (None, [c_void_p, c_uint64]),
    "avm_linear_free": (None, [c_void_p]),
    "avm_records_have": (c_int, [c_char_p, c_int64, c_char_p, c_int64]),
    "avm_pack_dirents": (
        c_int64, [c_char_p, c_int64, c_uint64, c_uint64, c_uint64, c_uint64, c_char_p, c_void_p, c_int64, POINTER(c_uint64)],
    ),
}


class NativeLibrary:
    """The loaded library with its C signatures declared."""

    def __init__(self, path: str) -> None:
        # Through PyDLL the GIL stays held: every function here is short, and
        # releasing the GIL on each call would hand it to another busy thread
        # (none of them takes the GIL or blocks while holding a C lock). The calls
        # that wait, avm_pipe_wait, and avm_list_dir and avm_desc_read (on the
        # host filesystem), go through CDLL, which releases it.
        self.cdll = ctypes.PyDLL(path)
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(ctypes.CDLL(path) if name in _SLEEPING else self.cdll, name)
            fn.restype, fn.argtypes = restype, argtypes
            setattr(self, name, fn)
        if self.cdll.avm_raw_size() != _RAW_SLOT_BYTES:
            raise RuntimeError("agentvm_native.c disagrees with wasmtime on the raw slot size")
        if self.cdll.avm_listed_dirent_bytes() != _DIRENT.size or self.cdll.avm_list_room() * 2 != LIST_BYTES:
            raise RuntimeError("agentvm_native.c disagrees on listed_dirent")

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        raise AttributeError(name)  # every function is set in __init__ (mypy: dynamic attributes)

    def function_pointer(self, name: str) -> int:
        return ctypes.cast(getattr(self.cdll, name), c_void_p).value or 0


log = get_logger("native")

_lock = threading.Lock()
_library: NativeLibrary | None = None


def library() -> NativeLibrary:
    """The native library, compiled first if this machine has no build of it yet."""
    global _library
    if _library is None:
        with _lock:
            if _library is None:
                path, built = build_library()
                if built:
                    log.info("native_library_built", path=str(path))
                _library = NativeLibrary(str(path))
    return _library


class NativeDescription:
    """An open file description's C object, what fd mirror entries point at: a
    pipe end (``pipe_ptr``; native fd_read/fd_write serve it) or, with no pipe,
    any other description but a socket (native fd_fdstat_get only)."""

    __slots__ = ("_lib", "ptr")

    def __init__(self, pipe_ptr: int | None = None, is_write: bool = False, *, capture: int | None = None) -> None:
        """``capture``: an exec's output keeping its first ``capture`` bytes
        (native fd_write writes it too), instead of a pipe end or other description."""
        self._lib = library()
        self.ptr: int = (
            self._lib.avm_desc_new(pipe_ptr, int(is_write)) if capture is None else self._lib.avm_desc_new_capture(capture)
        )
        if not self.ptr:
            raise MemoryError("avm_desc_new")

    def capture_write(self, data: bytes | memoryview) -> None:
        """Write to a capture (what does not fit is counted, not kept).
        Raises: MemoryError."""
        if self._lib.avm_desc_capture_write(self.ptr, bytes(data), len(data)) < 0:
            raise MemoryError("avm_desc_capture_write")

    def captured(self) -> tuple[bytes, bool]:
        """What a capture kept, and whether more was written."""
        truncated = ctypes.c_int()
        while True:
            size = self._lib.avm_desc_captured(self.ptr, None, 0, ctypes.byref(truncated))
            buffer = ctypes.create_string_buffer(size)
            if self._lib.avm_desc_captured(self.ptr, buffer, size, ctypes.byref(truncated)) == size:
                return buffer.raw, bool(truncated.value)

    def host_file(self, fd: int, pos: int) -> int:
        """Read the read-only host regular file open at ``fd`` from ``pos`` (the
        native fd_read too), or with ``fd`` -1 stop: then nothing native uses the
        fd any more. Returns the position as it was (kernel/handle.py)."""
        return int(self._lib.avm_desc_host_file(self.ptr, fd, pos))

    def read_into(self, buffer: memoryview) -> int:
        """Read into ``buffer`` (writable) at the position, moving it on; the bytes
        read. Raises: OSError (EBADF: no host file)."""
        n = self._lib.avm_desc_read(self.ptr, (ctypes.c_char * len(buffer)).from_buffer(buffer), len(buffer))
        if n < 0:
            raise OSError(-n, os.strerror(-n))
        return int(n)

    def seek(self, offset: int, whence: int, size: int) -> int:
        """Move the position as lseek (``size`` for SEEK_END); the new one.
        Raises: OSError (EINVAL: negative, or no host file)."""
        pos = self._lib.avm_desc_seek(self.ptr, offset, whence, size)
        if pos < 0:
            raise OSError(-pos, os.strerror(-pos))
        return int(pos)

    def publish(self, fdstat: bytes | None, can_transfer: bool) -> None:
        """What native fd_fdstat_get answers (None: ask Python), and whether native
        fd_read/fd_write may serve a pipe end (False once its right was dropped)."""
        self._lib.avm_desc_publish(self.ptr, fdstat, int(can_transfer))

    def __del__(self) -> None:
        if getattr(self, "ptr", None):  # __init__ may have failed before
            self._lib.avm_desc_unref(self.ptr)


class FdMirror:
    """A process's pipe fds as C sees them (kernel/fdtable.py keeps it in step)."""

    __slots__ = ("_lib", "ptr")

    def __init__(self) -> None:
        self._lib = library()
        self.ptr: int = self._lib.avm_mirror_new()
        if not self.ptr:
            raise MemoryError("avm_mirror_new")

    def set(self, fd: int, desc: NativeDescription | None) -> None:
        """``fd`` now names ``desc`` (None: nothing native, e.g. a socket). Fds
        beyond the mirror are not mirrored."""
        # Called for every fd, mirrored or not: any change makes the stat memo stale.
        self._lib.avm_mirror_set(self.ptr, fd, desc.ptr if desc is not None else None)

    def served(self, name: str) -> int:
        """How many calls of this process the native ``name`` (as ``call_counts``
        names them) answered itself."""
        return int(self._lib.avm_mirror_served(self.ptr, _CALL_NAMES.index(name)))

    def __del__(self) -> None:
        if getattr(self, "ptr", None):  # __init__ may have failed before
            self._lib.avm_mirror_unref(self.ptr)


def thread_set(mirror: FdMirror, base: int, length: int, preopens: int) -> None:
    """Publish the calling guest thread's process, linear memory (again after it
    grows) and number of tagged preopens to the native host functions."""
    library().avm_thread_set(mirror.ptr, base, length, preopens)


def thread_strings(
    args: tuple[bytes, int] | None, env: tuple[bytes, int] | None, preopens: tuple[bytes, int] | None,
) -> None:
    """Publish the calling guest thread's process's argv and environment, each as
    (its entries NUL-terminated and joined, how many), and its plain preopens as
    (records of u32 fd, u32 name length and the name, how many), for the native
    args_*/environ_* and fd_prestat_* (None: Python answers). The caller keeps
    the bytes alive until ``thread_clear`` or the next call."""
    blobs = [blob or (None, 0) for blob in (args, env, preopens)]
    library().avm_thread_strings(*(x for blob, count in blobs for x in (blob, count, len(blob or b""))))


def thread_grown(base: int, length: int) -> None:
    """The linear memory at ``base`` is now ``length`` bytes (see avm_thread_grown)."""
    library().avm_thread_grown(base, length)


def thread_clear() -> None:
    """The calling thread runs no guest: every native host function falls back."""
    library().avm_thread_set(None, None, 0, 0)


def preopen_publish(fdstat: bytes, tag: int, mask: int, first: int) -> None:
    """What native fd_fdstat_get answers for a tagged preopen fd ``tag | n``,
    ``first <= n & mask < first + preopens`` (the first answer stays: it is the
    same for every preopen of every process)."""
    library().avm_preopen_publish(fdstat, tag, mask, first)


def call_counts() -> dict[str, tuple[int, int]]:
    """Per native host function: (calls served natively, calls passed to Python)."""
    lib = library()
    n = lib.avm_call_kinds()
    counts = (c_uint64 * (2 * n))()
    lib.avm_call_counts(counts)
    return {name: (counts[i], counts[n + i]) for i, name in enumerate(_CALL_NAMES)}


# avm_list_dir's records (listed_dirent): getdents' inode, then the lstat's ino,
# nlink, size, atime, mtime, ctime (ns), mode, uid, gid; name length, getdents
# type, lstat'd (0 no, 1 for its type only, 2 as asked); then the name
_DIRENT = struct.Struct("<QQQqqqqIIIHBB")
LIST_BYTES = 65536  # twice avm_list_room(): a small directory and its end in one call
# Listing buffers kept between listings (zeroing 64 KiB anew costs more than the
# listing of a small directory); a few, sidecar-wide: list.pop/append are atomic.
MAX_SPARE_LIST_BUFFERS = 4
_list_buffers: list[ctypes.Array[ctypes.c_char]] = []
LIST_NOTHING, LIST_DIRECTORIES, LIST_EVERYTHING = 0, 1, 2  # what avm_list_dir lstats beyond what types need


def list_dir(fd: int, what: int, stat_until: int) -> Iterator[bytes]:
    """The entries of the directory open at ``fd`` but "." and ".." (read on from
    its offset), as records, up to LIST_BYTES of them at a time (``dirents``
    reads them; avm_listing_fill takes them as they are), so a huge directory
    never sits in memory twice. Of the first ``stat_until`` entries those
    ``what`` says (``LIST_*``) are lstat'd, and any other whose type needs it.
    Raises: OSError."""
    lib = library()
    try:
        buf = _list_buffers.pop()
    except IndexError:
        buf = ctypes.create_string_buffer(LIST_BYTES)
    try:
        index, ended = c_int64(0), c_int(0)
        while not ended.value:
            used = lib.avm_list_dir(fd, what, ctypes.byref(index), stat_until, buf, LIST_BYTES, ctypes.byref(ended))
            if used < 0:
                raise OSError(-used, os.strerror(-used))
            yield ctypes.string_at(buf, used)
    finally:
        if len(_list_buffers) < MAX_SPARE_LIST_BUFFERS:
            _list_buffers.append(buf)


_NAME_LEN_AT, _STATED_AT = 68, 71  # offsets in _DIRENT: name length (u16), lstat'd (u8)


def dirents(records: bytes, kept_only: bool = False) -> Iterator[tuple[str, tuple[int, ...]]]:
    """(name, fields) of each record ``list_dir`` wrote: ``_DIRENT``'s fields,
    d_ino, ino, nlink, size, atime_ns, mtime_ns, ctime_ns, mode, uid, gid, name
    length, getdents type (``DT_*``), lstat'd (0 no, 1 for its type only, 2 as
    asked; an entry not lstat'd has only its d_ino and type). ``kept_only``:
    of the records lstat'd as asked only, the others stepped over unread."""
    unpack, size = _DIRENT.unpack_from, _DIRENT.size
    off, end = 0, len(records)
    while off < end:
        stop = off + size + (records[off + _NAME_LEN_AT] | records[off + _NAME_LEN_AT + 1] << 8)
        if not kept_only or records[off + _STATED_AT] == 2:
            yield records[off + size:stop].decode("utf-8", "surrogateescape"), unpack(records, off)
        off = stop


def records_have(records: bytes, name: bytes) -> bool:
    """Whether one of the records ``list_dir`` wrote is of ``name``."""
    found = library().avm_records_have(records, len(records), name, len(name))
    if found < 0:
        raise ValueError("malformed listing records")
    return found == 1


def pack_dirents(
    records: bytes, index: int, cookie: int, dot: int, dotdot: int, filetypes: bytes, out: int, cap: int
) -> tuple[int, int]:
    """WASI dirents of one piece of a listing (records as ``list_dir`` wrote
    them; a first piece, ``index`` 0, starts with "." and ".."), those from
    ``cookie`` on, written to ``cap`` bytes at address ``out`` (the last one
    cut off when it does not fit): (bytes written, the index after the last
    record walked). ``filetypes``: 16 bytes, the WASI filetype by S_IFMT >> 12
    (= DT_*). See avm_pack_dirents."""
    after = c_uint64(0)
    used = library().avm_pack_dirents(records, len(records), index, cookie, dot, dotdot, filetypes, out, cap, ctypes.byref(after))
    if used < 0:
        raise ValueError("malformed listing records")
    return used, after.value


MEMO_WASI = 1  # the memo's call forms (agentvm_native.c MEMO_WASI, MEMO_HOSTFS)
MEMO_HOSTFS = 2
# avm_memo_fill's one argument (memo_fill_rec): epoch, deadline_ns, fd, path_ptr,
# path_len, mode, size, follow, forms, fs counter, its count, the 64-byte WASI filestat
_MEMO_FILL = struct.Struct("<QqIIIIqBB2xIQ64s")


# avm_listing_fill's header (listing_rec): epoch, deadline_ns, dev, fd, records'
# length, forms, any fd table, prefix length, covered names, fs counter, its count;
# then the prefix, the filetype and sizeless tables, the covered names, the records
_LISTING = struct.Struct("<QqQIIBBHHIQ")

NO_FS = 0xFFFFFFFF  # an answer no filesystem counter covers (agentvm_native.c AVM_NO_FS)


def pack_dirent(
    ino: int, nlink: int, size: int, atime_ns: int, mtime_ns: int, ctime_ns: int, mode: int, uid: int, gid: int,
    name: bytes,
) -> bytes:
    """One record as ``list_dir`` writes it, lstat'd as asked (``stated`` 2), for
    a filesystem that lists itself (kernel/memfs.py)."""
    return _DIRENT.pack(ino, ino, nlink, size, atime_ns, mtime_ns, ctime_ns, mode, uid, gid, len(name), mode >> 12 & 15, 2) + name


class StatMemo:
    """The native stat memo's Python side, bound once (wasm/stat_memo.py calls
    it on every stat it may memoize, so no per-call lookups)."""

    __slots__ = ("_epoch", "_fill", "_fill_listing", "_pack")

    def __init__(self, lib: NativeLibrary) -> None:
        if lib.avm_memo_fill_bytes() != _MEMO_FILL.size or lib.avm_listing_rec_bytes() != _LISTING.size:
            raise RuntimeError("agentvm_native.c disagrees on the memo fill records")
        self._epoch = c_uint64.in_dll(lib.cdll, "avm_stat_epoch_now")
        self._fill = lib.avm_memo_fill
        self._fill_listing = lib.avm_listing_fill
        self._pack = _MEMO_FILL.pack

    def epoch(self) -> int:
        """The sidecar-wide stat epoch; read it BEFORE a stat whose answer is memoized."""
        return self._epoch.value

    def fill(
        self, epoch: int, deadline: float, fd: int, path_ptr: int, path_len: int, follow: bool, forms: int,
        filestat: bytes, mode: int, size: int, fs: int = NO_FS, fs_count: int = 0,
    ) -> None:
        """Memoize a successful stat of (fd, the path at path_ptr in the calling
        guest thread's memory, follow) in call ``forms``, answered at stat
        ``epoch`` until ``deadline`` (time.monotonic()) and, for an answer from a
        memory filesystem, while its counter ``fs`` stays at ``fs_count``
        (``FsCounters``); see wasm/stat_memo.py."""
        self._fill(self._pack(
            epoch, _deadline_ns(deadline), fd, path_ptr, path_len, mode & 0xFFFFFFFF, size, follow, forms, fs,
            fs_count, filestat,
        ))

    def fill_listing(
        self, epoch: int, deadline: float, fd: int, forms: int, any_fd_table: bool, prefix: bytes, dev: int,
        tables: bytes, covered: list[bytes], records: bytes, fs: int = NO_FS, fs_count: int = 0,
    ) -> int:
        """Memoize what stats of ``prefix/name`` from ``fd`` answer for the names
        of a listing: ``records``, as ``list_dir`` returned them (its lstat'd
        entries, from filesystem ``dev``), but the ``covered`` names; ``tables``:
        32 bytes, by S_IFMT >> 12 the WASI filetype then whether path_size answers
        -1. The other arguments as ``fill``'s (``any_fd_table``: valid whatever the
        fd table does, for a tagged preopen fd). Returns how many names C kept
        (-1: none)."""
        header = _LISTING.pack(
            epoch, _deadline_ns(deadline), dev & 0xFFFFFFFFFFFFFFFF, fd, len(records), forms, any_fd_table,
            len(prefix), len(covered), fs, fs_count,
        )
        data = b"".join([header, prefix, tables, *(bytes([len(name)]) + name for name in covered), records])
        return self._fill_listing(data, len(data))


def _deadline_ns(deadline: float) -> int:
    """A time.monotonic() deadline as C's CLOCK_MONOTONIC nanoseconds, 1 us early:
    never later than the attribute cache's own rule."""
    return int(deadline * 1e9) - 1000


@functools.cache
def stat_memo() -> StatMemo:
    return StatMemo(library())


class FsCounters:
    """The change counters of memory filesystems (agentvm_native.c avm_fs_changes):
    a filesystem whose files' stats change with no name changing counts each
    change in its counter, and an answer memoized from it holds while the count
    read before its stat is unchanged."""

    __slots__ = ("_changed", "_counts", "_next", "size")

    def __init__(self, lib: NativeLibrary) -> None:
        self.size = lib.avm_fs_counters()
        self._counts = (c_uint64 * self.size).in_dll(lib.cdll, "avm_fs_changes")
        self._changed = lib.avm_fs_changed
        self._next = itertools.count()

    def new(self) -> int:
        """A counter for a new filesystem (shared once there are more filesystems
        than counters: a needless miss for the others, never a stale answer)."""
        return next(self._next) % self.size

    def count(self, fs: int) -> int:
        """Read BEFORE what the answer is made of."""
        return self._counts[fs]

    def changed(self, fs: int) -> None:
        """Call AFTER the change."""
        self._changed(fs)


@functools.cache
def fs_counters() -> FsCounters:
    return FsCounters(library())


def stat_changed() -> None:
    """Something a stat answer depends on changed (a node, a name, a mount): every
    memoized stat answer is stale from now on."""
    library().avm_stat_changed()


def stats_changed_here() -> None:
    """Something the calling guest thread's process alone answers stats by
    changed (its cwd, its cred, an entry of its attribute cache): its memoized
    answers are stale from now on, and no other process's (everyone's when the
    thread runs no process)."""
    library().avm_memo_forget()
