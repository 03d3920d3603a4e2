"""Fixtures for host ABI unit tests: a real kernel and process, a real wasm memory,
and the registered host functions called through the same wrapper the linker
installs (so KernelError -> errno mapping and EFAULT are exercised). No guest code
runs here except in the end-to-end tests, which use the real runtime."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import wasmtime

import agentvm_sidecar.wasm.host  # noqa: F401 -- registers the functions
from agentvm_sidecar.kernel.fstypes import USER, Cred
from agentvm_sidecar.kernel.kernel import Kernel
from agentvm_sidecar.kernel.limits import Limits
from agentvm_sidecar.kernel.process import ExitStatus, ProcessState
from agentvm_sidecar.wasm.abi import HOST_FUNCTIONS, WASI_ERRNO, _wrap
from agentvm_sidecar.wasm.context import GuestContext, GuestExit, set_current_context

PAGES = 2
MEMORY_WAT = f'(module (memory (export "memory") {PAGES}))'
E = WASI_ERRNO
PRE0 = 0x40000003  # tagged preopen #0 (cwd)
PRE1 = 0x40000004  # tagged preopen #1 ("/") when cwd != "/"
BAD_PTR = PAGES * 65536 - 2  # a pointer whose u32 runs off the end of memory

_ENGINE = wasmtime.Engine()
_FAKES: dict[int, list] = {}  # kernel -> fake processes (no thread ever ends them)
_MEMORY_MODULE = wasmtime.Module(_ENGINE, wasmtime.wat2wasm(MEMORY_WAT))


class Guest:
    """One fake guest process: call host functions and poke at its memory."""

    def __init__(self, kernel: Kernel, *, cwd: str = "/tmp", cred: Cred = USER, ppid: int = 0,
                 env: dict[str, str] | None = None) -> None:
        self.kernel = kernel
        self.proc = kernel.processes.create(
            ppid=ppid, argv=["prog"], env=env if env is not None else {"PATH": "/bin"},
            cwd=cwd, fds=kernel.new_fd_table(), cred=cred,
        )
        self.store = wasmtime.Store(_ENGINE)
        instance = wasmtime.Instance(self.store, _MEMORY_MODULE, [])
        self.ctx = GuestContext(kernel, self.proc, self.store)
        memory = instance.exports(self.store)["memory"]
        assert isinstance(memory, wasmtime.Memory)
        self.ctx.memory = memory
        self._next = 1024
        _FAKES.setdefault(id(kernel), []).append(self.proc)

    # -- memory -----------------------------------------------------------------------
    def alloc(self, size: int, data: bytes | None = None) -> int:
        ptr = self._next
        self._next = (ptr + max(size, 1) + 7) & ~7
        assert self._next < PAGES * 65536 - 64
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

    def out(self, n: int = 1, fill: int = 0xAB) -> list[int]:
        """``n`` u32 out-slots pre-filled with a marker byte."""
        return [self.alloc(4, bytes([fill]) * 4) for _ in range(n)]

    # -- calls --------------------------------------------------------------------------
    def call(self, module: str, name: str, *args: int) -> int:
        """Call ``module.name`` as the linker would; returns its result."""
        fn = _wrap(HOST_FUNCTIONS[(module, name)])
        set_current_context(self.ctx)
        try:
            return fn(*args)
        finally:
            set_current_context(None)

    def p(self, name: str, *args: int) -> int:
        return self.call("host_process", name, *args)

    def f(self, name: str, *args: int) -> int:
        return self.call("host_fs", name, *args)

    def u(self, name: str, *args: int) -> int:
        return self.call("host_user", name, *args)

    def call_exit(self, module: str, name: str, *args: int):
        with pytest.raises(GuestExit):
            self.call(module, name, *args)
        return self.ctx.exit_status


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    k = Kernel(Limits())
    yield k
    for proc in _FAKES.pop(id(k), []):
        if proc.state is ProcessState.RUNNING:
            k.processes.exit(proc, ExitStatus(0))
    k.shutdown()


@pytest.fixture
def guest(kernel: Kernel) -> Guest:
    """A process running as USER with cwd /tmp (preopens: #0 /tmp, #1 /)."""
    return Guest(kernel)
