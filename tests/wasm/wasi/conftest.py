"""Fixtures for WASI preview1 unit tests: a real kernel and process, a real wasm
memory, and the registered host functions called through the same wrapper the
linker installs (so KernelError -> errno mapping and EFAULT are exercised), but
without the runtime: no guest code runs."""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator

import pytest
import wasmtime

import agentvm_sidecar.wasm.wasi  # noqa: F401 -- registers the functions
from agentvm_sidecar import native
from agentvm_sidecar.kernel.fstypes import USER
from agentvm_sidecar.kernel.kernel import Kernel
from agentvm_sidecar.kernel.limits import Limits
from agentvm_sidecar.kernel.process import ExitStatus, ProcessState
from agentvm_sidecar.wasm.abi import HOST_FUNCTIONS, WASI_ERRNO, _wrap
from agentvm_sidecar.wasm.context import GuestContext, GuestExit, set_current_context

PAGES = 4
MEMORY_WAT = f'(module (memory (export "memory") {PAGES}))'
E = WASI_ERRNO
PRE0 = 0x40000003  # tagged preopen #0 (cwd)
PRE1 = 0x40000004  # tagged preopen #1 ("/") when cwd != "/"


_ENGINE = wasmtime.Engine()
_MODULE = wasmtime.Module(_ENGINE, wasmtime.wat2wasm(MEMORY_WAT))


class Guest:
    """One fake guest process: call WASI functions and poke at its memory."""

    def __init__(self, kernel: Kernel, cwd: str = "/tmp", argv: list[str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.kernel = kernel
        self.proc = kernel.processes.create(
            ppid=0, argv=argv or ["prog"], env=env if env is not None else {"HOME": "/home/user"},
            cwd=cwd, fds=kernel.new_fd_table(), cred=USER,
        )
        self.store = wasmtime.Store(_ENGINE)
        instance = wasmtime.Instance(self.store, _MODULE, [])
        self.ctx = GuestContext(kernel, self.proc, self.store)
        memory = instance.exports(self.store)["memory"]
        assert isinstance(memory, wasmtime.Memory)
        self.ctx.memory = memory
        self._next = 1024
        self._wrapped: dict[str, object] = {}

    # -- memory -----------------------------------------------------------------------
    @property
    def mem_size(self) -> int:
        assert self.ctx.memory is not None
        return self.ctx.memory.data_len(self.store)

    def alloc(self, size: int, data: bytes | None = None) -> int:
        ptr = self._next
        self._next = (ptr + max(size, 1) + 7) & ~7
        assert self._next < self.mem_size
        self.ctx.write(ptr, b"\0" * size if data is None else data)
        return ptr

    def put(self, data: bytes | str) -> tuple[int, int]:
        raw = data.encode() if isinstance(data, str) else data
        return self.alloc(len(raw), raw), len(raw)

    def read(self, ptr: int, size: int) -> bytes:
        return self.ctx.read(ptr, size)

    def u32(self, ptr: int) -> int:
        return self.ctx.u32(ptr)

    def u64(self, ptr: int) -> int:
        return self.ctx.u64(ptr)

    def iovecs(self, *buffers: tuple[int, int]) -> tuple[int, int]:
        raw = b"".join(struct.pack("<II", p, n) for p, n in buffers)
        return self.alloc(len(raw), raw), len(buffers)

    # -- calls --------------------------------------------------------------------------
    def call(self, name: str, *args: int) -> int:
        """Call wasi_snapshot_preview1.<name> as the linker would; returns its result."""
        fn = self._wrapped.get(name)
        if fn is None:
            fn = self._wrapped[name] = _wrap(HOST_FUNCTIONS[("wasi_snapshot_preview1", name)])
        set_current_context(self.ctx)
        try:
            return fn(*args)  # type: ignore[operator]
        finally:
            set_current_context(None)

    def call_exit(self, name: str, *args: int):
        with pytest.raises(GuestExit):
            self.call(name, *args)
        return self.ctx.exit_status

    # -- conveniences -------------------------------------------------------------------
    def open(self, path: str, *, oflags: int = 0, rights: int = 0x3FFFFFFF, fdflags: int = 0,
             dirfd: int = PRE0, lookup: int = 1) -> int:
        p, n = self.put(path)
        ret = self.alloc(4)
        err = self.call("path_open", dirfd, lookup, p, n, oflags, rights, 0x3FFFFFFF, fdflags, ret)
        assert err == 0, f"path_open({path!r}) -> errno {err}"
        return self.u32(ret)

    def open_errno(self, path: str, *, oflags: int = 0, rights: int = 0x3FFFFFFF, fdflags: int = 0,
                   dirfd: int = PRE0, lookup: int = 1) -> int:
        p, n = self.put(path)
        ret = self.alloc(4)
        return self.call("path_open", dirfd, lookup, p, n, oflags, rights, 0x3FFFFFFF, fdflags, ret)

    def write(self, fd: int, data: bytes) -> tuple[int, int]:
        buf = self.put(data)
        iovs, cnt = self.iovecs(buf)
        ret = self.alloc(4)
        err = self.call("fd_write", fd, iovs, cnt, ret)
        return err, self.u32(ret)

    def read_fd(self, fd: int, size: int) -> tuple[int, bytes]:
        buf = self.alloc(size)
        iovs, cnt = self.iovecs((buf, size))
        ret = self.alloc(4)
        err = self.call("fd_read", fd, iovs, cnt, ret)
        return err, self.read(buf, self.u32(ret)) if err == 0 else b""


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    k = Kernel(Limits())
    yield k
    for proc in k.processes.all():  # no program runs them: end them like the runtime would
        if proc.state is ProcessState.RUNNING:
            k.processes.exit(proc, ExitStatus(0))
    k.shutdown()


@pytest.fixture
def guest(kernel: Kernel) -> Guest:
    """A process with cwd /tmp (preopens: #0 /tmp, #1 /)."""
    return Guest(kernel)


# Threads a test started itself (test_stat_memo.in_other_thread registers them).
TEST_THREADS: set[int] = set()


@pytest.fixture
def quiet_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only this test's threads move the sidecar-wide stat epoch (and memory
    filesystems' change counters): a thread another
    test left behind in this pytest process (a VM still shutting down) may bump
    it, and the stat memo then rightly answers nothing, which would fail a test
    counting what C answered. Nothing another test's VM does changes what this
    test's VM sees (its own temporary directories)."""
    real = native.stat_changed
    mine = threading.get_ident()

    def stat_changed() -> None:
        ident = threading.get_ident()
        if ident == mine or ident in TEST_THREADS:
            real()

    monkeypatch.setattr(native, "stat_changed", stat_changed)
    # the same for memory filesystems' change counters, which filesystems share
    # once a pytest process made more of them than there are counters
    real_fs_changed = native.FsCounters.changed

    def fs_changed(self: native.FsCounters, fs: int) -> None:
        ident = threading.get_ident()
        if ident == mine or ident in TEST_THREADS:
            real_fs_changed(self, fs)

    monkeypatch.setattr(native.FsCounters, "changed", fs_changed)
