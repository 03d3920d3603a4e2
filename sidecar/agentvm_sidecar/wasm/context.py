"""The calling process as host functions see it: kernel, process, guest memory.

Each guest process runs on its own thread, so the current :class:`GuestContext` is
thread-local (set by the runtime before the guest starts). Guest memory is read and
written through ctypes at the address wasmtime reports (memories never move: see
``_base``); every range is bounds-checked first and a bad pointer raises
:class:`GuestFault` (EFAULT), never touches host memory.

Preopens follow the agentOS libc convention for agentOS programs: hidden fds tagged
``0x40000000 | (3 + n)`` (not in the guest fd table), #0 being the process cwd and
#1 ``/`` (omitted when cwd is ``/``). A plain WASI program (standard wasi-libc, e.g.
our C test guests) probes fds 3, 4... instead; for those the runtime installs ordinary
directory fds (plain_preopens.py) and records them in ``plain_preopens``.
"""

from __future__ import annotations

import ctypes
import functools
import math
import struct
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

import wasmtime

from .. import native
from ..kernel.process import ExitStatus, Process
from .scheduler import UNSCHEDULED

if TYPE_CHECKING:
    from ..kernel.kernel import Kernel
    from .programs import Program
    from .scheduler import Seat, Unscheduled
    from .stat_memo import Listing, OpenedDirectory

__all__ = [
    "PREOPEN_TAG",
    "GuestContext",
    "GuestExit",
    "GuestFault",
    "current_context",
    "set_current_context",
]

PREOPEN_TAG = 0x40000000
PREOPEN_MASK = 0x3FFFFFFF
PREOPEN_BASE = 3

_local = threading.local()
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_IOVEC = struct.Struct("<II")


def _entries(strings: Iterable[str]) -> list[bytes]:
    """WASI's argv/environ entries: UTF-8 (surrogateescape keeps bytes that came in
    undecodable), each NUL-terminated."""
    return [s.encode("utf-8", "surrogateescape") + b"\0" for s in strings]


def _joined(entries: list[bytes]) -> tuple[bytes, int] | None:
    """``entries`` as the native args_*/environ_* take them (one blob, a count), or
    None when one has a NUL of its own: C finds the entries by their NULs."""
    blob = b"".join(entries)
    return (blob, len(entries)) if blob.count(0) == len(entries) else None


class GuestFault(Exception):
    """A guest pointer or length is outside its linear memory (EFAULT)."""


class GuestExit(BaseException):
    """Unwinds the guest's wasm stack (exit, kill, exec). The reason is recorded on the
    context before raising; a BaseException so ``except Exception`` never swallows it."""


def current_context() -> GuestContext:
    return _local.ctx


def set_current_context(ctx: GuestContext | None) -> None:
    _local.ctx = ctx
    if ctx is None:
        native.thread_clear()
    else:
        ctx._publish()


class GuestContext:
    """One running program of one process (a new one after each exec)."""

    def __init__(self, kernel: Kernel, proc: Process, store: wasmtime.Store) -> None:
        self.kernel = kernel
        self.proc = proc
        self.store = store
        self._memory: wasmtime.Memory | None = None
        self._address = 0  # of linear memory in the host, see _base
        self._length = 0
        self._view = memoryview(b"")
        self.exit_status: ExitStatus | None = None
        self.exec_request: tuple[Program, dict[str, str]] | None = None
        self.cpu_exceeded = False
        self.cpu_deadline = math.inf  # thread CPU seconds at which the budget is spent (set by the runtime)
        cwd = proc.cwd
        self.preopens: list[str] = [cwd] if cwd == "/" else [cwd, "/"]
        # fd -> (name the guest's libc sees, VM directory); see plain_preopens.py
        self.plain_preopens: dict[int, tuple[str, str]] = {}
        self.plain_wasi = False  # set by the runtime for programs without the agentOS libc
        self.absolute_paths = False  # set by the runtime: one "/" preopen will do (plain_preopens.py)
        self.tagged_preopens_probed = False  # the libc asked for a tagged preopen (fd_prestat_get)
        self.host_failures = 0  # unexpected host function exceptions (abi._log_failure)
        # the stat memo's listings (stat_memo.listed): the last path_open of a
        # directory, a listing not memoized yet, whether the program stats what it lists
        self.opened_directory: OpenedDirectory | None = None
        self.pending_listing: Listing | None = None
        self.stats_listings = False
        self.pending_listing_stats = 0  # stats of its entries so far
        # the fd path_open returned last, and whether the program asked
        # fd_fdstat_get about such an fd (path_open then publishes it)
        self.last_opened_fd = -1
        self.fdstat_after_open = False
        # waitpid(WNOHANG) back-off (host/process.py, NOHANG_GRACE)
        self.nohang_grace = 0.0
        self.nohang_missed_at = -1.0  # thread CPU time of the last miss, -1: none since a reap
        # The thread's run slot (scheduler.py), set by the runtime; unscheduled
        # for contexts made outside it (tests calling host functions directly).
        self.seat: Seat | Unscheduled = UNSCHEDULED

    # -- termination -------------------------------------------------------------
    def exit(self, status: ExitStatus) -> GuestExit:
        """Record ``status`` and return the exception to raise."""
        if self.exit_status is None:
            self.exit_status = status
        return GuestExit()

    def request_exec(self, program: Program, env: dict[str, str]) -> GuestExit:
        """Record an exec of ``program`` (same pid and fds) and return the exception
        that unwinds the current image; the runtime then starts the new one."""
        self.exec_request = (program, env)
        return GuestExit()

    def check_signals(self) -> None:
        """Raise GuestExit when a terminating signal is pending for this process."""
        sig = self.proc.pending_kill
        if sig:
            raise self.exit(ExitStatus(0, sig))

    def interrupted(self) -> bool:
        """For kernel waits: stop when this process must terminate."""
        return self.proc.pending_kill != 0

    def check_cpu(self) -> None:
        """Raise GuestExit when the CPU budget is spent (the runtime then exits
        124). For host calls that loop: the epoch callback checks only while wasm
        runs, and host work on the guest thread counts against the budget too."""
        if time.thread_time() >= self.cpu_deadline:
            self.cpu_exceeded = True
            raise GuestExit()

    # -- preopens -------------------------------------------------------------------
    def preopen_path(self, fd: int) -> str | None:
        """The VM path of preopen ``fd`` (tagged, or a plain WASI preopen), or None."""
        fd &= 0xFFFFFFFF
        if not fd & PREOPEN_TAG:
            plain = self.plain_preopens.get(fd)
            return plain[1] if plain is not None else None
        index = (fd & PREOPEN_MASK) - PREOPEN_BASE
        if 0 <= index < len(self.preopens):
            return self.preopens[index]
        return None

    def preopen_name(self, fd: int) -> str | None:
        """The name ``fd_prestat_dir_name`` reports for preopen ``fd``, or None."""
        plain = self.plain_preopens.get(fd & 0xFFFFFFFF)
        return plain[0] if plain is not None else self.preopen_path(fd)

    # -- argv, environment and plain preopens, as C answers them (from _publish) -------
    @functools.cached_property
    def argv_entries(self) -> list[bytes]:
        return _entries(self.proc.argv)

    @functools.cached_property
    def environ_entries(self) -> list[bytes]:
        return _entries(f"{k}={v}" for k, v in self.proc.env.items())

    @functools.cached_property
    def _native_strings(self) -> tuple[tuple[bytes, int] | None, ...]:
        # kept here: C reads these bytes for as long as they are published. The
        # plain preopens are installed before the memory is known (runtime.py);
        # any installed later (fd_prestat_get) are answered by Python.
        preopens = [(fd, name.encode("utf-8", "surrogateescape")) for fd, (name, _) in self.plain_preopens.items()]
        records = b"".join(_U32.pack(fd) + _U32.pack(len(name)) + name for fd, name in preopens)
        return _joined(self.argv_entries), _joined(self.environ_entries), (records, len(preopens))

    # -- memory ---------------------------------------------------------------------
    @property
    def memory(self) -> wasmtime.Memory | None:
        return self._memory

    @memory.setter
    def memory(self, memory: wasmtime.Memory | None) -> None:
        self._memory = memory
        if memory is not None:
            self._address = ctypes.cast(memory.data_ptr(self.store), ctypes.c_void_p).value or 0
            self._map(memory.data_len(self.store))

    def _publish(self) -> None:
        # The native host functions (native/__init__.py) see the process's fd
        # mirror and the memory as this context last saw it; on the guest's own
        # thread only, and never before the memory is known.
        if getattr(_local, "ctx", None) is not self:
            return
        if self._length:
            native.thread_set(self.proc.fds.native, self._address, self._length, len(self.preopens))
            native.thread_strings(*self._native_strings)
        else:
            native.thread_clear()

    def _map(self, length: int) -> None:
        # A memoryview over the linear memory: slicing it copies without leaving
        # Python, where ctypes.memmove (a CFUNCTYPE) drops and retakes the GIL on
        # every call, and retaking it waits behind every other busy guest thread.
        self._length = length
        self._view = memoryview((ctypes.c_ubyte * length).from_address(self._address)).cast("B") if length else memoryview(b"")
        self._publish()

    def _span(self, ptr: int, size: int) -> int:
        # The engine never moves a linear memory (engine.py: memory_may_move off),
        # so its address is read once; its length only grows, so it is re-read only
        # when a range looks out of bounds. Asking wasmtime on every access cost
        # ~4 us, more than the rest of a typical host call. Returns the masked ptr.
        ptr &= 0xFFFFFFFF
        end = ptr + size
        if size < 0 or end > self._length:
            assert self._memory is not None
            length = self._memory.data_len(self.store)
            if length != self._length:
                self._map(length)
            if size < 0 or end > self._length:
                raise GuestFault(f"range {ptr:#x}+{size} outside guest memory")
        return ptr

    def read(self, ptr: int, size: int) -> bytes:
        """Copy ``size`` bytes out of guest memory. Raises: GuestFault."""
        size &= 0xFFFFFFFF
        if not size:
            return b""
        start = self._span(ptr, size)
        return self._view[start : start + size].tobytes()

    def write(self, ptr: int, data: bytes | bytearray | memoryview) -> None:
        """Copy ``data`` into guest memory. Raises: GuestFault."""
        n = len(data)
        if n:
            start = self._span(ptr, n)
            self._view[start : start + n] = data if not isinstance(data, memoryview) else data.cast("B")

    def check(self, ptr: int, size: int) -> None:
        """Validate a range before side effects. Raises: GuestFault."""
        self._span(ptr, size & 0xFFFFFFFF)

    def u32(self, ptr: int) -> int:
        return _U32.unpack(self.read(ptr, 4))[0]

    def u64(self, ptr: int) -> int:
        return _U64.unpack(self.read(ptr, 8))[0]

    def set_u32(self, ptr: int, value: int) -> None:
        self.write(ptr, _U32.pack(value & 0xFFFFFFFF))

    def set_u64(self, ptr: int, value: int) -> None:
        self.write(ptr, _U64.pack(value & 0xFFFFFFFFFFFFFFFF))

    def string(self, ptr: int, size: int) -> str:
        """A (ptr, len) string; invalid UTF-8 is kept with surrogateescape."""
        return self.read(ptr, size).decode("utf-8", "surrogateescape")

    def buffer(self, ptr: int, size: int) -> memoryview:
        """A writable view of ``size`` bytes of guest memory, for reading straight
        into it (no intermediate bytes). Raises: GuestFault."""
        size &= 0xFFFFFFFF
        start = self._span(ptr, size)
        return self._view[start : start + size]

    def address(self, ptr: int, size: int) -> int:
        """The host address of ``size`` bytes of guest memory at ``ptr``, for C to
        write to (the memory never moves, see _span). Raises: GuestFault."""
        return self._address + self._span(ptr, size & 0xFFFFFFFF)

    def iovec(self, ptr: int) -> tuple[int, int]:
        """The (ptr, len) of the one WASI iovec at ``ptr``. Raises: GuestFault."""
        start = self._span(ptr, 8)
        return _IOVEC.unpack_from(self._view, start)  # type: ignore[return-value]

    def iovecs(self, iovs: int, count: int) -> list[tuple[int, int]]:
        """The (ptr, len) pairs of a WASI iovec array. Raises: GuestFault."""
        count &= 0xFFFFFFFF
        self._span(iovs, 8 * count)  # unmasked: 8 * count may not wrap past 4 GiB
        raw = self.read(iovs, 8 * count)
        return [struct.unpack_from("<II", raw, 8 * i) for i in range(count)]
