"""Compiling untrusted wasm in a helper process the caller can bound and kill.

wasm/compiler.py is the helper program; this module runs one compile in it for a
calling thread (the guest process's own thread, see wasm/guest_modules.py) and
enforces, while it waits:
- memory: RLIMIT_AS of the helper is its address space when it became ready plus
  ``memory_bytes``, so cranelift's allocations fail (and the helper dies) beyond it;
  RLIMIT_FSIZE bounds the artifact it writes by the same amount;
- CPU time: the helper's utime+stime since it became ready is read from
  /proc/<pid>/stat every poll and the helper is killed once ``cpu_seconds`` are
  spent; RLIMIT_CPU (whole seconds, a little above) is the backstop;
- interruption: ``interrupted()`` (a kill, an exec timeout, a VM dispose) is
  checked every ``POLL_SECONDS`` and the helper is SIGKILLed at once.

A compile's cost is the helper's CPU time, returned in ``Compiled.cpu_seconds`` so
the caller charges it to whoever asked.

The artifact never passes through the sidecar's heap: the helper's stdout is a
memfd, and ``Module.deserialize_file`` maps the module's code straight from it (a
copy through Python bytes would cost the sidecar up to four times the artifact:
our buffer, wasmtime-py's ctypes copy, wasmtime's own mapping).

Spawn cost: starting Python and importing wasmtime takes ~0.05 s of CPU, about as
much as compiling hello.wasm. So one helper is kept warm: it starts, builds its
engine, reports ready (one byte on stderr) and blocks reading stdin. A compile
takes the warm one (or starts one if another compile has it) and starts its
replacement (~2 ms for fork+exec; its Python start-up overlaps the compile). Each
helper compiles one module and exits, so a compile's memory is always returned to
the system, and no compile can see another's.

A helper never outlives its sidecar, even one that is SIGKILLed mid-compile: every
helper inherits the read end of one lifeline pipe whose only write end the sidecar
holds (non-inheritable, never closed), and a thread in the helper exits the process
when that read sees EOF, which the kernel delivers the moment the sidecar is gone
(wasm/compiler.py). PR_SET_PDEATHSIG would not do: it fires when the *thread* that
forked the helper exits, and helpers are started from guest threads (and the warm
spare outlives the compile whose thread started it).

SECURITY: ``deserialize_file`` trusts the artifact (machine code). The helper is
our program compiling with the sidecar's settings, and the memfd is private to the
sidecar and that helper; the guest chooses only the compiler's input, as it did
when compiling in-process.
"""

from __future__ import annotations

import json
import math
import os
import resource
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import wasmtime

from . import compiler
from .compiler import EXIT_INVALID_MODULE, EXIT_OUT_OF_MEMORY, EXIT_TOO_LARGE, READY
from .engine import ENGINE_SETTINGS, shared_engine

__all__ = ["POLL_SECONDS", "CompileError", "Compiled", "compile_in_helper"]

POLL_SECONDS = 0.02
# A helper that is not ready by then is broken (it starts in ~0.1 s; the bound only
# stops a compile from waiting forever on a wedged one).
READY_TIMEOUT_SECONDS = 30.0
_CHUNK = 1 << 20
_DIAGNOSTICS = 4096  # bytes of the helper's stderr kept for the error message
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# The lifeline (see the module comment): os.pipe() fds are non-inheritable, so the
# write end stays in this process alone; each helper gets the read end explicitly.
_LIFELINE_READ, _LIFELINE_WRITE = os.pipe()
_HELPER_COMMAND = [sys.executable, compiler.__file__, json.dumps(dict(ENGINE_SETTINGS)), str(_LIFELINE_READ)]

Reason = Literal["interrupted", "cpu_time", "memory", "invalid", "crashed"]


@dataclass(frozen=True)
class Compiled:
    """A finished compile: the module (of ``shared_engine()``), the size of its
    serialized form, and the helper's CPU time."""

    module: wasmtime.Module
    size: int
    cpu_seconds: float


class CompileError(Exception):
    """A compile that produced no module.

    ``reason``: ``interrupted`` (the caller's ``interrupted()`` turned true),
    ``cpu_time`` (budget spent), ``memory`` (the helper ran out of its address
    space, or the artifact out of its size limit), ``invalid`` (not a valid
    module), ``crashed`` (the helper could not start or died otherwise).
    ``cpu_seconds``: what the helper had used, charged to the caller all the same.
    """

    def __init__(self, reason: Reason, message: str, cpu_seconds: float = 0.0) -> None:
        super().__init__(message)
        self.reason = reason
        self.cpu_seconds = cpu_seconds


def compile_in_helper(
    wasm: bytes, *, memory_bytes: int, cpu_seconds: float, interrupted: Callable[[], bool]
) -> Compiled:
    """Compile ``wasm`` in a helper process; blocks the calling thread until done.

    Args:
        wasm: a wasm module (validated or not: the helper reports invalid ones).
        memory_bytes: address space the compile may use beyond the helper's own,
            and the largest artifact it may write.
        cpu_seconds: CPU time the compile may use.
        interrupted: polled every ``POLL_SECONDS``; true ends the compile at once.

    Raises:
        CompileError: see its ``reason``.
    """
    try:
        helper = _spares.take()
    except OSError as exc:  # fork failed (EAGAIN, ENOMEM)
        raise CompileError("crashed", f"cannot start the compiler: {exc}") from None
    try:
        return _HelperRun(helper, memory_bytes, cpu_seconds, interrupted).run(wasm)
    except OSError as exc:  # the helper vanished between two steps
        raise CompileError("crashed", f"the compiler failed: {exc}") from None
    finally:
        helper.close()


class _Helper:
    """A helper process and the memfd that is its stdout (the artifact)."""

    def __init__(self) -> None:
        self.artifact = os.memfd_create("agentvm-module", os.MFD_CLOEXEC)
        try:
            # stdin: the module; stdout: the artifact; stderr: READY, then
            # diagnostics (an allocation failure's abort message), never the
            # sidecar's own stderr, which carries structured logs only.
            self.process = subprocess.Popen(
                _HELPER_COMMAND,
                stdin=subprocess.PIPE,
                stdout=self.artifact,
                stderr=subprocess.PIPE,
                pass_fds=(_LIFELINE_READ,),
            )
        except BaseException:
            os.close(self.artifact)
            raise

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        """Kill (if still running), reap, close every pipe and the memfd."""
        if self.process.returncode is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stderr):
            if stream is not None:
                stream.close()
        if self.artifact >= 0:
            os.close(self.artifact)
            self.artifact = -1


class _Spares:
    """The one warm helper of this sidecar (see the module comment)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spare: _Helper | None = None

    def take(self) -> _Helper:
        """The warm helper (or a new one if there is none, or it died); a
        replacement starts at once, so back-to-back compiles all find one warm."""
        replacement = _Helper()
        with self._lock:
            helper, self._spare = self._spare, replacement
        if helper is not None and helper.alive():
            return helper
        if helper is not None:
            helper.close()
        return _Helper()


_spares = _Spares()


class _HelperRun:
    """One compile in one helper process, driven by the calling thread."""

    def __init__(self, helper: _Helper, memory_bytes: int, cpu_seconds: float, interrupted: Callable[[], bool]) -> None:
        process = helper.process
        assert process.stdin is not None and process.stderr is not None
        self._helper = helper
        self._process = process
        self._stdin = process.stdin.fileno()
        self._stderr = process.stderr.fileno()
        self._memory_bytes = memory_bytes
        self._cpu_seconds = max(cpu_seconds, 0.0)
        self._interrupted = interrupted
        self._cpu_base = 0.0

    def run(self, wasm: bytes) -> Compiled:
        selector = selectors.DefaultSelector()
        try:
            selector.register(self._stderr, selectors.EVENT_READ)
            self._await_ready(selector)
            self._apply_limits()
            os.set_blocking(self._stdin, False)
            selector.register(self._stdin, selectors.EVENT_WRITE)
            diagnostics = self._exchange(selector, memoryview(wasm))
        finally:
            selector.close()
        status, cpu = self._wait()
        if status == 0:
            size = os.fstat(self._helper.artifact).st_size
            try:
                module = wasmtime.Module.deserialize_file(shared_engine(), f"/proc/self/fd/{self._helper.artifact}")
            except wasmtime.WasmtimeError as exc:
                raise CompileError("crashed", f"the compiled module was rejected: {exc}", cpu) from None
            return Compiled(module, size, cpu)
        if status == EXIT_INVALID_MODULE:
            raise CompileError("invalid", "not a valid wasm module", cpu)
        if status in (EXIT_OUT_OF_MEMORY, -signal.SIGABRT):
            raise CompileError("memory", f"compiling needs more than {self._memory_bytes} bytes", cpu)
        if status == EXIT_TOO_LARGE:
            raise CompileError("memory", f"the compiled module exceeds {self._memory_bytes} bytes", cpu)
        if status in (-signal.SIGXCPU, -signal.SIGKILL):
            raise CompileError("cpu_time", "compiling exceeded the CPU time limit", cpu)
        detail = diagnostics.decode("utf-8", "replace").strip().splitlines()
        raise CompileError("crashed", f"the compiler failed (status {status}): {detail[-1] if detail else ''}", cpu)

    def _await_ready(self, selector: selectors.BaseSelector) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not selector.select(POLL_SECONDS):
            self._check(0.0)
            if time.monotonic() > deadline:
                raise CompileError("crashed", "the compiler did not start")
        if os.read(self._stderr, len(READY)) != READY:
            raise CompileError("crashed", "the compiler did not start")
        self._cpu_base = _cpu_time(self._process.pid)

    def _apply_limits(self) -> None:
        pid = self._process.pid
        address_space = _address_space(pid) + self._memory_bytes
        resource.prlimit(pid, resource.RLIMIT_AS, (address_space, address_space))
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (self._memory_bytes, self._memory_bytes))
        cpu_limit = math.ceil(self._cpu_base + self._cpu_seconds) + 1
        resource.prlimit(pid, resource.RLIMIT_CPU, (cpu_limit, cpu_limit))

    def _exchange(self, selector: selectors.BaseSelector, pending: memoryview) -> bytes:
        """Write the module, then drain stderr until EOF (the helper exited),
        checking the limits between polls. Returns the start of the diagnostics."""
        diagnostics = bytearray()
        if not pending:
            self._close_stdin(selector)
        while True:
            for key, _ in selector.select(POLL_SECONDS):
                if key.fd == self._stdin:
                    try:
                        pending = pending[os.write(self._stdin, pending[:_CHUNK]):]
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:
                        pending = pending[:0]  # the helper died: its exit status says why
                    if not pending:
                        self._close_stdin(selector)
                    continue
                chunk = os.read(self._stderr, _CHUNK)
                if not chunk:
                    return bytes(diagnostics)
                diagnostics += chunk[: _DIAGNOSTICS - len(diagnostics)]
            self._check(_cpu_time(self._process.pid) - self._cpu_base)

    def _close_stdin(self, selector: selectors.BaseSelector) -> None:
        selector.unregister(self._stdin)
        assert self._process.stdin is not None
        self._process.stdin.close()

    def _check(self, cpu_used: float) -> None:
        if self._interrupted():
            raise CompileError("interrupted", "interrupted by a signal", cpu_used)
        if cpu_used >= self._cpu_seconds:
            raise CompileError("cpu_time", "compiling exceeded the CPU time limit", cpu_used)

    def _wait(self) -> tuple[int, float]:
        """Reap the helper (it closed stderr: it is exiting); its status and CPU time."""
        _, status, usage = os.wait4(self._process.pid, 0)
        self._process.returncode = code = os.waitstatus_to_exitcode(status)
        return code, max(usage.ru_utime + usage.ru_stime - self._cpu_base, 0.0)


def _cpu_time(pid: int) -> float:
    """utime + stime of a running process, in seconds (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    # after "pid (comm)": state is field 3, utime 14 and stime 15 (proc(5))
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _address_space(pid: int) -> int:
    """VmSize of a process, in bytes."""
    with open(f"/proc/{pid}/status", "rb") as f:
        for line in f:
            if line.startswith(b"VmSize:"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no VmSize for pid {pid}")
