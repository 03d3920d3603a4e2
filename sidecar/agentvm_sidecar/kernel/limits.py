# Per-VM resource limits and filesystem accounting.
#
# `Limits` is one frozen record whose defaults are the DEFAULT_* constants
# below (agent-os `ResourceLimits`).  Every limit is bounded by default and
# only raised by client config; the kernel never grows a limit on its own.
#
# `FsAccounting` counts the bytes of file data and the inodes a VM's writable
# in-memory filesystems hold.  The rule (from agent-os resource_accounting) is
# *check before change*: `check_and_reserve` raises ENOSPC before anything is
# modified, so a failed write leaves state exactly as it was.  Callers reserve
# first, then mutate, and `release` when data or inodes go away.
#
# What is counted: logical file sizes (also for files whose bytes come from a
# shared read-only backing: the quota is about what the guest can see, not
# about sharing), plus one inode per file/dir/symlink.  A shared read-only
# layer (e.g. /bin) is built with accounting=None and costs the VM nothing.
#
# Directory entries (hard links included) and symlink targets are charged as
# bytes by memfs.py.
#
# XX: host_dir mounts are not charged here; writes there are bounded only by
# the host disk.
#
# `MemoryBudget` counts sidecar memory a VM's guests make the sidecar hold outside
# the filesystem, all-or-nothing like `FsAccounting` but failing with ENOMEM:
# directory snapshots of open directory fds (handle.py) and the guests' linear
# memories (wasm/memory_budget.py).

from __future__ import annotations

import threading
from dataclasses import dataclass

from .errors import KernelError

__all__ = [
    "CPU_LIMIT_EXIT_CODE",
    "DEFAULT_COMPILE_MEMORY_BYTES",
    "DEFAULT_CPU_TIME_MS_PER_PROCESS",
    "DEFAULT_DIR_SNAPSHOT_BYTES_PER_VM",
    "DEFAULT_FS_MAX_BYTES",
    "DEFAULT_FS_MAX_INODES",
    "DEFAULT_MAX_ARGV_ENV_BYTES",
    "DEFAULT_MAX_FDS_PER_PROCESS",
    "DEFAULT_MAX_FDS_PER_VM",
    "DEFAULT_MAX_PIPES",
    "DEFAULT_MAX_PROCESSES",
    "DEFAULT_MAX_PROGRAM_BYTES",
    "DEFAULT_MAX_READ_BYTES",
    "DEFAULT_MAX_SOCKETS",
    "DEFAULT_MEMORY_BYTES_PER_PROCESS",
    "DEFAULT_MEMORY_BYTES_PER_VM",
    "DEFAULT_PIPE_BUFFER_BUDGET_BYTES",
    "DEFAULT_PIPE_BUFFER_BYTES",
    "DEFAULT_PIPE_MAX_BUFFER_BYTES",
    "DEFAULT_SOCKET_BUFFER_BYTES",
    "FsAccounting",
    "FsUsage",
    "Limits",
    "MemoryBudget",
]

MiB = 1024 * 1024
# a process whose CPU time limit ran out (running or compiling) exits with this,
# as `timeout` reports
CPU_LIMIT_EXIT_CODE = 124

DEFAULT_FS_MAX_BYTES = 256 * MiB
DEFAULT_FS_MAX_INODES = 65536
DEFAULT_MEMORY_BYTES_PER_PROCESS = 128 * MiB
# All linear memories of a VM's processes together (4 processes at the full
# per-process size; a pipeline of small commands uses a few MiB each).
DEFAULT_MEMORY_BYTES_PER_VM = 512 * MiB
# Directory listings held for open directory fds (fd_readdir's snapshots), all
# together: about 200k entries, while one listing of a full 65536-inode
# filesystem takes about 11 MiB.
DEFAULT_DIR_SNAPSHOT_BYTES_PER_VM = 32 * MiB
DEFAULT_CPU_TIME_MS_PER_PROCESS = 60_000
DEFAULT_MAX_PROCESSES = 128
DEFAULT_MAX_FDS_PER_PROCESS = 256
DEFAULT_MAX_FDS_PER_VM = 4096
DEFAULT_MAX_PIPES = 256
# 4x Linux's 64 KiB: a pipe handoff between two guest threads costs ~100 us here,
# so fewer, larger ones (cat 10 MB | wc -c: 80 -> 60 ms).
DEFAULT_PIPE_BUFFER_BYTES = 256 * 1024
DEFAULT_PIPE_MAX_BUFFER_BYTES = 16 * MiB
DEFAULT_PIPE_BUFFER_BUDGET_BYTES = 64 * MiB
DEFAULT_MAX_ARGV_ENV_BYTES = 262_144
DEFAULT_MAX_PROGRAM_BYTES = 64 * MiB
# Every endpoint inside a VM (socket, queued or accepted connection, host
# connection) counts; a connection buffers at most 2 x socket_buffer_bytes.
DEFAULT_MAX_SOCKETS = 128
DEFAULT_SOCKET_BUFFER_BYTES = 256 * 1024
# What one whole-file read by the sidecar itself (not a guest's read(2)) may return.
DEFAULT_MAX_READ_BYTES = 64 * MiB
# the 3 MB `sh` compiles in ~120 MiB; hostile modules of a few KB want GiBs
DEFAULT_COMPILE_MEMORY_BYTES = 512 * MiB


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits of one VM.  All fields are bounded by default."""

    fs_max_bytes: int = DEFAULT_FS_MAX_BYTES
    fs_max_inodes: int = DEFAULT_FS_MAX_INODES
    memory_bytes_per_process: int = DEFAULT_MEMORY_BYTES_PER_PROCESS
    memory_bytes_per_vm: int = DEFAULT_MEMORY_BYTES_PER_VM
    dir_snapshot_bytes_per_vm: int = DEFAULT_DIR_SNAPSHOT_BYTES_PER_VM
    cpu_time_ms_per_process: int = DEFAULT_CPU_TIME_MS_PER_PROCESS
    max_processes: int = DEFAULT_MAX_PROCESSES
    max_fds_per_process: int = DEFAULT_MAX_FDS_PER_PROCESS
    max_fds_per_vm: int = DEFAULT_MAX_FDS_PER_VM
    max_pipes: int = DEFAULT_MAX_PIPES
    pipe_buffer_bytes: int = DEFAULT_PIPE_BUFFER_BYTES
    pipe_max_buffer_bytes: int = DEFAULT_PIPE_MAX_BUFFER_BYTES
    pipe_buffer_budget_bytes: int = DEFAULT_PIPE_BUFFER_BUDGET_BYTES
    max_argv_env_bytes: int = DEFAULT_MAX_ARGV_ENV_BYTES
    max_program_bytes: int = DEFAULT_MAX_PROGRAM_BYTES
    max_sockets: int = DEFAULT_MAX_SOCKETS
    socket_buffer_bytes: int = DEFAULT_SOCKET_BUFFER_BYTES
    compile_memory_bytes: int = DEFAULT_COMPILE_MEMORY_BYTES

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(
                    f"Limits.{name} must be a non-negative int, got {value!r}"
                )


@dataclass(frozen=True, slots=True)
class FsUsage:
    """A snapshot of a VM's filesystem accounting."""

    bytes_used: int
    inodes_used: int
    max_bytes: int
    max_inodes: int


class FsAccounting:
    """Thread-safe byte and inode counters for one VM's writable filesystems."""

    __slots__ = ("_bytes", "_inodes", "_lock", "max_bytes", "max_inodes")

    def __init__(
        self,
        max_bytes: int | Limits = DEFAULT_FS_MAX_BYTES,
        max_inodes: int = DEFAULT_FS_MAX_INODES,
    ) -> None:
        if isinstance(max_bytes, Limits):  # FsAccounting(limits) is accepted too
            max_bytes, max_inodes = max_bytes.fs_max_bytes, max_bytes.fs_max_inodes
        self._lock = threading.Lock()
        self._bytes = 0
        self._inodes = 0
        self.max_bytes = max_bytes
        self.max_inodes = max_inodes

    @classmethod
    def from_limits(cls, limits: Limits) -> FsAccounting:
        return cls(limits.fs_max_bytes, limits.fs_max_inodes)

    def check_and_reserve(self, bytes_delta: int = 0, inodes_delta: int = 0) -> None:
        """Reserve space, or raise without changing anything.

        Negative deltas are allowed (they release) and never fail.

        Raises:
            KernelError: ENOSPC if either counter would exceed its maximum.
        """
        with self._lock:
            new_bytes = self._bytes + bytes_delta
            new_inodes = self._inodes + inodes_delta
            if bytes_delta > 0 and new_bytes > self.max_bytes:
                raise KernelError.enospc(
                    message=f"filesystem byte limit reached ({self.max_bytes} bytes)"
                )
            if inodes_delta > 0 and new_inodes > self.max_inodes:
                raise KernelError.enospc(
                    message=f"filesystem inode limit reached ({self.max_inodes} inodes)"
                )
            self._bytes = max(0, new_bytes)
            self._inodes = max(0, new_inodes)

    def release(self, bytes_delta: int = 0, inodes_delta: int = 0) -> None:
        """Give back previously reserved bytes/inodes (positive amounts)."""
        with self._lock:
            self._bytes = max(0, self._bytes - bytes_delta)
            self._inodes = max(0, self._inodes - inodes_delta)

    def usage(self) -> FsUsage:
        with self._lock:
            return FsUsage(self._bytes, self._inodes, self.max_bytes, self.max_inodes)

    statistics = usage


class MemoryBudget:
    """Bytes of sidecar memory one VM may hold for one purpose. Thread-safe."""

    __slots__ = ("_lock", "_used", "limit", "what")

    def __init__(self, limit: int, what: str) -> None:
        self.limit = limit
        self.what = what
        self._used = 0
        self._lock = threading.Lock()

    def reserve(self, n: int) -> None:
        """Take ``n`` bytes, or raise without taking any.

        Raises: ENOMEM when the budget cannot cover them.
        """
        with self._lock:
            if self._used + n > self.limit:
                raise KernelError("ENOMEM", f"{self.what} budget of {self.limit} bytes is spent")
            self._used += n

    def release(self, n: int) -> None:
        with self._lock:
            self._used = max(0, self._used - n)

    def fits(self, n: int) -> bool:
        """``n`` more bytes would fit right now (a check before costly work;
        ``reserve`` is what takes them)."""
        return self._used + n <= self.limit

    @property
    def used(self) -> int:
        return self._used
