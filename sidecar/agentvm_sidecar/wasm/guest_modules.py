"""Compiling a guest-built program, as a cost of the process that runs it.

A module the shared layer does not provide is hostile input to the compiler (issue 8:
a 24 KB nest of loops compiles for a minute in most of a GiB, a 5 MB module of empty
functions for 100 s in 5.5 GiB). So it is compiled:
- on the guest process's own thread, after the process exists (spawn found the
  file, saw the wasm magic number and returned its pid): never on a VM worker
  thread that serves wire requests, and the exec timeout, ``process.kill`` and VM dispose all reach it
  through the process's pending kill, polled while the compile runs;
- in a helper process (wasm/compile_helper.py) limited to the VM's
  ``compile_memory_bytes`` and to what is left of the process's CPU budget; the
  helper's CPU time is charged to that budget whether the compile succeeds or not;
- at most ``COMPILES_PER_VM`` at a time per VM, so one VM's processes cannot hold
  more than that many helpers' memory; the others wait, still killable.

The result is mapped from the helper's output (milliseconds) and admitted to the
module cache for this VM (wasm/module_cache.py), budgeted by compiled size and
released when the VM is disposed.

Outcomes: the process runs the module, or it ends: killed (the signal), CPU budget
spent (exit 124, as for running code), out of compile memory or otherwise
uncompilable, e.g. not a valid module (exit 126, a shell's "cannot execute"), with a
line on its stderr.
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from typing import TYPE_CHECKING

from ..kernel.errors import KernelError
from ..kernel.limits import CPU_LIMIT_EXIT_CODE
from ..kernel.process import ExitStatus, Process
from .compile_helper import POLL_SECONDS, CompileError, compile_in_helper
from .module_cache import shared_module_cache

if TYPE_CHECKING:
    from ..kernel.kernel import Kernel
    from .programs import Program

__all__ = ["CANNOT_EXECUTE_EXIT_CODE", "COMPILES_PER_VM", "CompileFailed", "compile_program"]

COMPILES_PER_VM = 2
CANNOT_EXECUTE_EXIT_CODE = 126

_slots_lock = threading.Lock()
_slots: weakref.WeakKeyDictionary[Kernel, threading.BoundedSemaphore] = weakref.WeakKeyDictionary()


class CompileFailed(Exception):
    """The process cannot run its program; it ends with ``status``."""

    def __init__(self, status: ExitStatus) -> None:
        super().__init__(status)
        self.status = status


def compile_program(kernel: Kernel, proc: Process, program: Program, cpu_seconds: float) -> tuple[Program, float]:
    """Compile ``program.source`` for ``proc``; blocks the calling (guest) thread.

    Args:
        cpu_seconds: what is left of ``proc``'s CPU budget.

    Returns:
        The program with its module, and the CPU seconds the compile took.

    Raises:
        CompileFailed: killed, out of CPU time or memory; the reason is on stderr.
    """
    source = program.source
    assert source is not None
    cache = shared_module_cache()
    module = cache.lookup(source.sha256, owner=kernel)  # another process may have compiled it
    spent = 0.0
    if module is None:
        with _compile_slot(kernel, proc):
            try:
                compiled = compile_in_helper(
                    source.wasm, memory_bytes=kernel.limits.compile_memory_bytes, cpu_seconds=cpu_seconds,
                    interrupted=proc.interrupted,
                )
            except CompileError as exc:
                raise _failure(proc, program, exc) from None
        module, spent = compiled.module, compiled.cpu_seconds
        if not proc.interrupted():
            cache.admit(source.sha256, module, compiled.size, owner=kernel)
    return dataclasses.replace(program, module=module, source=None), spent


class _compile_slot:
    """One of the VM's ``COMPILES_PER_VM`` compile slots, waited for while the
    process is not killed (CompileFailed with the signal otherwise)."""

    def __init__(self, kernel: Kernel, proc: Process) -> None:
        with _slots_lock:
            self._slot = _slots.get(kernel)
            if self._slot is None:
                self._slot = _slots[kernel] = threading.BoundedSemaphore(COMPILES_PER_VM)
        self._proc = proc

    def __enter__(self) -> None:
        while not self._slot.acquire(timeout=POLL_SECONDS):
            if self._proc.interrupted():
                raise CompileFailed(ExitStatus(0, self._proc.pending_kill))

    def __exit__(self, *_exc: object) -> None:
        self._slot.release()


def _failure(proc: Process, program: Program, exc: CompileError) -> CompileFailed:
    if exc.reason == "interrupted":
        return CompileFailed(ExitStatus(0, proc.pending_kill))
    code = CPU_LIMIT_EXIT_CODE if exc.reason == "cpu_time" else CANNOT_EXECUTE_EXIT_CODE
    detail = "CPU time limit exceeded while compiling" if exc.reason == "cpu_time" else f"cannot compile: {exc}"
    try:
        proc.fds.get(2).write(f"{program.path}: {detail}\n".encode(), proc.interrupted)
    except KernelError:
        pass
    return CompileFailed(ExitStatus(code))
