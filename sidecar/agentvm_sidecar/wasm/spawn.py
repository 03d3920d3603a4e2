"""Starting a process: the one path used by the wire (process.spawn/exec) and by
guests (host_process.proc_spawn_v3).

The caller prepares the child's fd table (a copy of the parent's with file actions
applied, or fresh pipes for the wire); spawn checks the argv/env budget, resolves
the program, creates the process record and starts its thread. Every error is
synchronous (no process is created) and the fd table is closed on failure, so a
failed spawn leaks nothing.

``create_process`` is the first half alone: the wire runs it on the new guest thread
itself (GuestRuntime.create_and_run), so starting a process costs one thread hand-off
(trio -> guest) instead of two (trio -> worker -> guest).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import wasmtime

from ..kernel.errors import KernelError
from ..kernel.fdtable import FdTable
from ..kernel.fstypes import Cred
from ..kernel.process import Process
from .programs import Program, resolve_program
from .runtime import shared_runtime

if TYPE_CHECKING:
    from ..kernel.kernel import Kernel

__all__ = ["argv_env_bytes", "create_process", "initial_memory_bytes", "spawn"]

WASM_PAGE_BYTES = 65536


def argv_env_bytes(argv: list[str], env: dict[str, str]) -> int:
    """Bytes argv and env occupy as NUL-terminated strings (what ARG_MAX bounds)."""
    return sum(len(a.encode("utf-8", "surrogateescape")) + 1 for a in argv) + sum(
        len(k.encode("utf-8", "surrogateescape")) + len(v.encode("utf-8", "surrogateescape")) + 2
        for k, v in env.items()
    )


def initial_memory_bytes(module: wasmtime.Module) -> int:
    """Bytes of linear memory ``module`` starts with (its defined memories).

    Remembered per module: listing a module's exports goes through the C API
    once per export (~20-30 us for `sh`), on every spawn otherwise."""
    size = _initial_memory.get(module)
    if size is None:
        size = _initial_memory[module] = sum(
            e.type.limits.min * WASM_PAGE_BYTES for e in module.exports if isinstance(e.type, wasmtime.MemoryType)
        )
    return size


# module -> initial_memory_bytes; weak, as modules are evicted from the cache.
# A lost race computes the same value twice, so no lock.
_initial_memory: weakref.WeakKeyDictionary[wasmtime.Module, int] = weakref.WeakKeyDictionary()


def spawn(kernel: Kernel, **how: Any) -> Process:
    """Create and start a process running ``exec_path``; takes ownership of ``fds``.
    Arguments and errors as ``create_process``."""
    proc, program = create_process(kernel, **how)
    shared_runtime().start(kernel, proc, program)
    return proc


def create_process(
    kernel: Kernel,
    *,
    ppid: int,
    exec_path: str,
    argv: list[str],
    env: dict[str, str],
    cwd: str,
    fds: FdTable,
    cred: Cred,
    umask: int = 0o022,
    sigmask: int = 0,
    spawned_by_client: bool = False,
    spawn_gate: Callable[[list[str], str], None] | None = None,
) -> tuple[Process, Program]:
    """Create the process that will run ``exec_path`` (not started: give both to
    GuestRuntime.start); takes ownership of ``fds``.

    Raises: KernelError E2BIG (argv+env over the limit), ENOENT/EACCES/ENOEXEC (program),
    EAGAIN (process limit, or the VM's memory budget cannot hold the program's
    initial memory). ``spawn_gate`` becomes the process's before it runs (see
    Process.spawn_gate).
    """
    try:
        # The guest libc takes its cwd from $PWD, so it must name the spawn cwd even
        # when the parent passed its own, older PWD along (find -execdir does).
        env = {**env, "PWD": cwd}
        if argv_env_bytes(argv, env) > kernel.limits.max_argv_env_bytes:
            raise KernelError("E2BIG", "argument list and environment too long")
        program = resolve_program(kernel, exec_path, argv, env, cwd, cred)
        # A guest-built module is not compiled (nor parsed) yet: its memory is
        # charged when the process instantiates it, which fails there instead.
        if program.module is not None and not kernel.guest_memory.fits(initial_memory_bytes(program.module)):
            raise KernelError.eagain(message="the VM's memory budget cannot hold another process")
        proc = kernel.processes.create(
            ppid=ppid, argv=program.argv, env=env, cwd=cwd, fds=fds, cred=cred, umask=umask,
            sigmask=sigmask, spawned_by_client=spawned_by_client,
        )
    except BaseException:
        fds.close_all()
        raise
    proc.spawn_gate = spawn_gate
    return proc, program
