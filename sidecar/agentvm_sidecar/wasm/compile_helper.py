"""Compiling untrusted wasm in a helper process the caller can bound and kill.

wasm/compiler.py is the helper program; this module runs one compile in it for a
calling thread (the guest process's own thread, see wasm/guest_modules.py) and
enforces, while it waits:
- memory: RLIMIT_AS of the helper is its address space when it became ready plus
  ``memory_bytes``, so cranelift's allocations fail (and the helper dies) beyond it.
  The artifact lives in that address space before it is written, so it is smaller
  than ``memory_bytes`` too, which bounds what the sidecar reads back;
- CPU time: the helper's utime+stime since it became ready is read from
  /proc/<pid>/stat every poll and the helper is killed once ``cpu_seconds`` are
  spent; RLIMIT_CPU (whole seconds, a little above) is the backstop;
- interruption: ``interrupted()`` (a kill, an exec timeout, a VM dispose) is
  checked every ``POLL_SECONDS`` and the helper is SIGKILLed at once.

A compile's cost is the helper's CPU time, returned in ``Compiled.cpu_seconds`` so
the caller charges it to whoever asked.

Spawn cost: starting Python and importing wasmtime takes ~0.1 s of CPU, more than
compiling a small module (~50 ms for hello.wasm). So one helper is kept warm: it
starts, builds its engine, reports ready (one byte on stdout) and blocks reading
stdin. A compile takes the warm one (or starts one if another compile has it) and
starts its replacement (~2 ms for fork+exec; its Python start-up overlaps the
compile). Each helper compiles one module and exits, so a compile's memory is
always returned to the system. An idle helper whose sidecar died reads EOF and
exits.

SECURITY: the artifact is ``wasmtime.Module.deserialize``d in the sidecar, which
trusts it (machine code). The helper is our program compiling with the sidecar's
settings; the guest chooses only its input, as it would for an in-process compile.
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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ..logs import get_logger
from . import compiler
from .compiler import EXIT_INVALID_MODULE, EXIT_OUT_OF_MEMORY, READY
from .engine import ENGINE_SETTINGS

__all__ = ["POLL_SECONDS", "CompileError", "Compiled", "compile_in_helper"]

log = get_logger("wasm.compile_helper")

POLL_SECONDS = 0.02
_CHUNK = 1 << 20
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_HELPER_COMMAND = [sys.executable, compiler.__file__, json.dumps(dict(ENGINE_SETTINGS))]

Reason = Literal["interrupted", "cpu_time", "memory", "invalid", "crashed"]


@dataclass(frozen=True)
class Compiled:
    """A finished compile: ``Module.serialize()`` output and the helper's CPU time."""

    artifact: bytes
    cpu_seconds: float


class CompileError(Exception):
    """A compile that produced no module.

    ``reason``: ``interrupted`` (the caller's ``interrupted()`` turned true),
    ``cpu_time`` (budget spent), ``memory`` (the helper ran out of its address
    space), ``invalid`` (not a valid module), ``crashed`` (the helper died otherwise).
    ``cpu_seconds``: what the helper had used, charged to the caller all the same.
    """

    def __init__(self, reason: Reason, message: str, cpu_seconds: float) -> None:
        super().__init__(message)
        self.reason = reason
        self.cpu_seconds = cpu_seconds


def compile_in_helper(
    wasm: bytes, *, memory_bytes: int, cpu_seconds: float, interrupted: Callable[[], bool]
) -> Compiled:
    """Compile ``wasm`` in a helper process; blocks the calling thread until done.

    Args:
        wasm: a wasm module (validated or not: the helper reports invalid ones).
        memory_bytes: address space the compile may use beyond the helper's own.
        cpu_seconds: CPU time the compile may use.
        interrupted: polled every ``POLL_SECONDS``; true ends the compile at once.

    Raises:
        CompileError: see its ``reason``.
    """
    helper = _spares.take()
    try:
        return _HelperRun(helper, memory_bytes, cpu_seconds, interrupted).run(wasm)
    finally:
        if helper.returncode is None:
            helper.kill()
        _reap(helper)


class _Spares:
    """The one warm helper of this sidecar (see the module comment)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spare: subprocess.Popen[bytes] | None = None

    def take(self) -> subprocess.Popen[bytes]:
        """The warm helper (or a new one if there is none, or it died); a
        replacement starts at once, so back-to-back compiles all find one warm."""
        replacement = _launch()
        with self._lock:
            helper, self._spare = self._spare, replacement
        if helper is not None and helper.poll() is None:
            return helper
        if helper is not None:
            _reap(helper)
        return _launch()


def _launch() -> subprocess.Popen[bytes]:
    # stderr is discarded: an allocation failure's abort message would otherwise
    # land in the sidecar's stderr, which carries structured logs only.
    return subprocess.Popen(
        _HELPER_COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )


_spares = _Spares()


class _HelperRun:
    """One compile in one helper process, driven by the calling thread."""

    def __init__(
        self, helper: subprocess.Popen[bytes], memory_bytes: int, cpu_seconds: float,
        interrupted: Callable[[], bool],
    ) -> None:
        assert helper.stdin is not None and helper.stdout is not None
        self._helper = helper
        self._stdin = helper.stdin.fileno()
        self._stdout = helper.stdout.fileno()
        self._memory_bytes = memory_bytes
        self._cpu_seconds = max(cpu_seconds, 0.0)
        self._interrupted = interrupted
        self._cpu_base = 0.0

    def run(self, wasm: bytes) -> Compiled:
        selector = selectors.DefaultSelector()
        try:
            selector.register(self._stdout, selectors.EVENT_READ)
            self._await_ready(selector)
            self._apply_limits()
            os.set_blocking(self._stdin, False)
            selector.register(self._stdin, selectors.EVENT_WRITE)
            artifact = self._exchange(selector, memoryview(wasm))
        finally:
            selector.close()
        status, cpu = self._wait()
        if status == 0:
            return Compiled(artifact, cpu)
        if status == EXIT_INVALID_MODULE:
            raise CompileError("invalid", "not a valid wasm module", cpu)
        if status in (EXIT_OUT_OF_MEMORY, -signal.SIGABRT):
            raise CompileError("memory", f"compiling needs more than {self._memory_bytes} bytes", cpu)
        if status in (-signal.SIGXCPU, -signal.SIGKILL):
            raise CompileError("cpu_time", "compiling exceeded the CPU time limit", cpu)
        raise CompileError("crashed", f"the compiler failed (status {status})", cpu)

    def _await_ready(self, selector: selectors.BaseSelector) -> None:
        while not selector.select(POLL_SECONDS):
            self._check(0.0)
        ready = os.read(self._stdout, 1)
        if ready != READY:
            raise CompileError("crashed", "the compiler did not start", 0.0)
        self._cpu_base = _cpu_time(self._helper.pid)

    def _apply_limits(self) -> None:
        pid = self._helper.pid
        address_space = _address_space(pid) + self._memory_bytes
        resource.prlimit(pid, resource.RLIMIT_AS, (address_space, address_space))
        cpu_limit = math.ceil(self._cpu_base + self._cpu_seconds) + 1
        resource.prlimit(pid, resource.RLIMIT_CPU, (cpu_limit, cpu_limit))

    def _exchange(self, selector: selectors.BaseSelector, pending: memoryview) -> bytes:
        """Write the module, read the artifact until EOF; check limits between polls."""
        out = bytearray()
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
                chunk = os.read(self._stdout, _CHUNK)
                if not chunk:
                    return bytes(out)
                out += chunk
                if len(out) > self._memory_bytes:  # cannot happen under RLIMIT_AS; never trust it
                    self._kill()
                    raise CompileError("memory", f"compiled module exceeds {self._memory_bytes} bytes", 0.0)
            self._check(_cpu_time(self._helper.pid) - self._cpu_base)

    def _close_stdin(self, selector: selectors.BaseSelector) -> None:
        selector.unregister(self._stdin)
        assert self._helper.stdin is not None
        self._helper.stdin.close()

    def _check(self, cpu_used: float) -> None:
        if self._interrupted():
            self._kill()
            raise CompileError("interrupted", "interrupted by a signal", cpu_used)
        if cpu_used >= self._cpu_seconds:
            self._kill()
            raise CompileError("cpu_time", "compiling exceeded the CPU time limit", cpu_used)

    def _kill(self) -> None:
        self._helper.kill()
        self._helper.wait()

    def _wait(self) -> tuple[int, float]:
        """Reap the helper (it closed stdout: it is exiting); its status and CPU time."""
        _, status, usage = os.wait4(self._helper.pid, 0)
        self._helper.returncode = code = os.waitstatus_to_exitcode(status)
        return code, max(usage.ru_utime + usage.ru_stime - self._cpu_base, 0.0)


def _reap(helper: subprocess.Popen[bytes]) -> None:
    if helper.returncode is None:
        helper.wait()
    for stream in (helper.stdin, helper.stdout):
        if stream is not None:
            stream.close()


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
