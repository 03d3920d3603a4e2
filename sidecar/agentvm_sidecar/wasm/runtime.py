"""Running guest programs: one thread per process, one Store per program image.

Concurrency: each guest process runs ``_start`` on its own thread (a spare one that
waited for work when there is one: spare_threads.py). wasmtime-py
calls into the engine through ctypes, which releases the GIL while wasm runs, so
guests run in parallel with each other and with the trio loop; host functions run on
the guest's thread and call the synchronous kernel directly.

Preemption: one ticker thread bumps the engine epoch every ``TICK_SECONDS``. Each
Store has a deadline of one tick and a deadline callback (the C API
``wasmtime_store_epoch_deadline_callback``, via wasmtime-py's bindings) that runs on
the guest thread whenever the deadline passes inside wasm. It either extends the
deadline by one tick, or traps the guest because the process was killed or its CPU
budget (``time.thread_time()`` of the guest thread, which includes its host calls)
is spent. A guest blocked in a kernel wait notices a kill through ``interrupted()``.
So ``kill`` ends even ``while true`` promptly, without fuel's per-block cost. The
same callback is where a guest passes its run slot on at the end of its time slice
(scheduler.py: only a few guest threads run at once, sidecar-wide).

Outcomes (ExitStatus): ``proc_exit(n)`` -> n; return from ``_start`` -> 0; a
terminating signal s -> signal s (a shell shows 128+s); CPU budget spent -> exit code
124 (as ``timeout`` reports); any other trap (unreachable after a Rust panic, stack
overflow, out-of-bounds, a failed ``memory.grow`` the guest did not handle) or an
instantiation failure -> exit code 1, with the reason written to the process's
stderr. The failure is confined to that process.

Imports outside the agentOS ABI that a module may declare are stubs returning
ENOSYS, so an unexpected import never prevents a program from starting or traps it.
Such a module gets a linker of its own (the shared one is never changed after
start-up: defining into it while other threads instantiate from it would race, and
one module's stub signature would clash with another's).
"""

from __future__ import annotations

import ctypes
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

import wasmtime
from wasmtime import _bindings as ffi

from ..kernel.attrcache import process_cache
from ..kernel.errors import KernelError
from ..kernel.limits import CPU_LIMIT_EXIT_CODE
from ..kernel.process import ExitStatus, Process
from ..logs import get_logger
from . import (
    host,  # noqa: F401  (registers the agentOS host modules)
    wasi,  # noqa: F401  (registers WASI preview1)
)
from .abi import (
    HOST_FUNCTIONS,
    SIGNATURES,
    WASI_ERRNO,
    HostFunction,
    define_host_function,
    define_host_functions,
    signature_of,
)
from .context import GuestContext, GuestExit, current_context, set_current_context
from .engine import shared_engine
from .entry import call_start, export
from .guest_modules import CompileFailed, compile_program
from .memory_budget import settle_freed_memories, zero_freed_memories
from .plain_preopens import ABSOLUTE_PATHS_EXPORT, install_plain_preopens
from .scheduler import Seat, Unscheduled, enter_guest_thread, leave_guest_thread, watch_stalls
from .spare_threads import shared_spare_threads

if TYPE_CHECKING:
    from ..kernel.kernel import Kernel
    from .programs import Program

__all__ = ["TICK_SECONDS", "GuestRuntime", "shared_runtime"]

log = get_logger("wasm.runtime")

TICK_SECONDS = 0.005
# Rust and C programs use one function table of a few thousand entries.
MAX_TABLE_ELEMENTS = 100_000
MAX_TABLES = 4
TRAP_EXIT_CODE = 1

_DeadlineCallback = ctypes.CFUNCTYPE(
    ctypes.c_size_t,
    ctypes.POINTER(ffi.wasmtime_context_t),
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_uint64),
    ctypes.POINTER(ffi.wasmtime_update_deadline_kind_t),
)
_Finalizer = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


def _trap(message: bytes) -> int:
    error = ffi.wasmtime_error_new(ctypes.c_char_p(message))
    return ctypes.cast(error, ctypes.c_void_p).value or 0


@_DeadlineCallback
def _on_deadline(_context, _data, delta, kind):  # type: ignore[no-untyped-def]
    ctx = current_context()
    ctx.seat.safe_point()  # may pass the slot on and wait for it (scheduler.py)
    sig = ctx.proc.pending_kill
    if sig:
        ctx.exit(ExitStatus(0, sig))
        return _trap(b"agentvm: killed")
    if time.thread_time() >= ctx.cpu_deadline:
        ctx.cpu_exceeded = True
        return _trap(b"agentvm: cpu time limit")
    delta[0] = 1
    kind[0] = 0  # WASMTIME_UPDATE_DEADLINE_CONTINUE
    return 0


@_Finalizer
def _no_finalizer(_data):  # type: ignore[no-untyped-def]
    return None


class GuestRuntime:
    """The engine, the shared linker of host functions, and the epoch ticker."""

    def __init__(self) -> None:
        self.engine = shared_engine()
        self.linker = wasmtime.Linker(self.engine)
        define_host_functions(self.linker)
        self._prepare_lock = threading.Lock()
        # module -> (it with its imports resolved, speaks the agentOS ABI, resolves
        # paths absolutely); weak, as modules are evicted
        self._prepared: weakref.WeakKeyDictionary[wasmtime.Module, tuple[wasmtime.InstancePre, bool, bool]] = (
            weakref.WeakKeyDictionary()
        )
        self._guests = 0  # running guest threads; the ticker sleeps while there are none
        self.threads = shared_spare_threads()  # where processes run (spare_threads.py)
        self._guests_changed = threading.Condition()
        ticker = threading.Thread(target=self._tick, name="agentvm-epoch", daemon=True)
        ticker.start()

    def _tick(self) -> None:
        # An idle sidecar must not wake 200 times a second, and every wake-up
        # competes for the GIL with the guests' host calls.
        while True:
            with self._guests_changed:
                while not self._guests:
                    self._guests_changed.wait()
            time.sleep(TICK_SECONDS)
            self.engine.increment_epoch()
            watch_stalls()  # lends a stalled holder's slot (scheduler.py)

    def _count_guest(self, delta: int) -> None:
        with self._guests_changed:
            self._guests += delta
            self._guests_changed.notify()

    def start(self, kernel: Kernel, proc: Process, program: Program) -> None:
        """Run ``program`` as ``proc`` on a thread of its own; returns at once."""
        self.threads.run(self._run_process, kernel, proc, program)

    def create_and_run(
        self, kernel: Kernel, create: Callable[[], tuple[Process, Program]],
        report: Callable[[Process | BaseException], None],
    ) -> None:
        """Run ``create`` on a thread of its own, then the process it made on that same
        thread; returns at once. ``report`` gets the process before it runs, or what
        ``create`` raised (the thread is then done). Starting a process from a thread
        that must not wait (trio's) costs one hand-off this way, instead of creating it
        on a worker thread that then starts the guest's."""
        self.threads.run(self._create_and_run, kernel, create, report)

    def _create_and_run(
        self, kernel: Kernel, create: Callable[[], tuple[Process, Program]],
        report: Callable[[Process | BaseException], None],
    ) -> None:
        try:
            proc, program = create()
        except BaseException as exc:
            report(exc)
            return
        report(proc)
        self._run_process(kernel, proc, program)

    def _run_process(self, kernel: Kernel, proc: Process, program: Program) -> None:
        status = ExitStatus(TRAP_EXIT_CODE)
        self._count_guest(1)
        seat = enter_guest_thread(proc)  # waits for a run slot (scheduler.py)
        # One CPU budget for the process's whole life: exec does not refill it
        # (as RLIMIT_CPU), and every image runs on this same thread.
        cpu_deadline = time.thread_time() + kernel.limits.cpu_time_ms_per_process / 1000
        try:
            with process_cache(kernel.guest_memory):  # what it saw of host_dir nodes (attrcache.py)
                while True:
                    if program.module is None:  # guest-built: compiled in the process's own time
                        seat.release()  # the compile helper does the work; this thread waits
                        program, spent = compile_program(kernel, proc, program, cpu_deadline - time.thread_time())
                        cpu_deadline -= spent
                        seat.take()
                    if proc.pending_kill:  # killed while queued for a slot: the image never starts
                        status = ExitStatus(0, proc.pending_kill)
                        break
                    ctx = self._run_image(kernel, proc, program, cpu_deadline, seat)
                    exec_request, exit_status = ctx.exec_request, ctx.exit_status
                    # Drop the image's Store now: its linear memory goes back to the
                    # VM's memory budget before a new image (or the exit) happens.
                    del ctx
                    set_current_context(None)
                    settle_freed_memories()
                    if exec_request is None:
                        status = exit_status or ExitStatus(TRAP_EXIT_CODE)
                        break
                    program, env = exec_request
                    proc.argv, proc.env = program.argv, env
                    proc.fds.close_cloexec()
        except CompileFailed as exc:
            status = exc.status
        except BaseException:
            log.exception("guest_runner_failed", pid=proc.pid)
        finally:
            set_current_context(None)
            leave_guest_thread(seat)
            self._count_guest(-1)
            kernel.processes.exit(proc, status)
            zero_freed_memories()  # its memory, for the next process (after the exit is reported)

    def _run_image(
        self, kernel: Kernel, proc: Process, program: Program, cpu_deadline: float, seat: Seat | Unscheduled
    ) -> GuestContext:
        store = wasmtime.Store(self.engine)
        # Everything a module can grow is bounded, not only its linear memory:
        # one instance, one memory, few tables of bounded size.
        store.set_limits(
            memory_size=kernel.limits.memory_bytes_per_process,
            table_elements=MAX_TABLE_ELEMENTS,
            instances=1,
            tables=MAX_TABLES,
            memories=1,
        )
        ctx = GuestContext(kernel, proc, store)
        ctx.cpu_deadline = cpu_deadline
        ctx.seat = seat
        set_current_context(ctx)
        store.set_epoch_deadline(1)
        ffi.wasmtime_store_epoch_deadline_callback(store.ptr(), _on_deadline, None, _no_finalizer)
        try:
            linked, agentos, ctx.absolute_paths = self._prepare(program.module)
            if not agentos:
                ctx.plain_wasi = True
                install_plain_preopens(ctx)
            instance = linked.instantiate(store)
            memory, start = export(store, instance, "memory"), export(store, instance, "_start")
            if not isinstance(memory, wasmtime.Memory) or not isinstance(start, wasmtime.Func):
                raise KeyError("a program exports its memory and _start")
            ctx.memory = memory
            trap = call_start(store, start)
            if trap is None:
                ctx.exit(ExitStatus(0))
            else:
                self._classify_failure(ctx, program, trap)
        except GuestExit:
            pass
        except (wasmtime.WasmtimeError, wasmtime.Trap, KeyError) as exc:
            self._classify_failure(ctx, program, exc)
        return ctx

    def _classify_failure(self, ctx: GuestContext, program: Program, exc: BaseException) -> None:
        if ctx.exit_status is not None or ctx.exec_request is not None:
            return  # a host function already decided (exit, kill, exec) before unwinding
        if ctx.cpu_exceeded:
            ctx.exit(ExitStatus(CPU_LIMIT_EXIT_CODE))
            _write_stderr(ctx, f"{program.path}: CPU time limit exceeded\n")
            return
        if ctx.proc.pending_kill:
            ctx.exit(ExitStatus(0, ctx.proc.pending_kill))
            return
        reason = str(exc).strip().splitlines()
        _write_stderr(ctx, f"{program.path}: {reason[-1] if reason else type(exc).__name__}\n")
        ctx.exit(ExitStatus(TRAP_EXIT_CODE))

    def _prepare(self, module: wasmtime.Module) -> tuple[wasmtime.InstancePre, bool, bool]:
        """``module`` linked, to instantiate (its imports resolved and checked once,
        not at every process start); whether it was built with
        the agentOS libc, which probes tagged preopens (that libc routes every
        read()/write() through ``host_net.net_send``/``net_recv``, so every agentOS
        program imports ``host_net.net_send`` and plain wasi-libc programs, which
        probe preopens at fd 3, never do); and whether it exports
        ``ABSOLUTE_PATHS_EXPORT`` (plain_preopens.py)."""
        with self._prepare_lock:
            prepared = self._prepared.get(module)
            if prepared is not None:
                return prepared
        imports = module.imports
        agentos = any((imp.module, imp.name) == ("host_net", "net_send") for imp in imports)
        absolute = any(exp.name == ABSOLUTE_PATHS_EXPORT for exp in module.exports)
        unknown: list[wasmtime.ImportType] = []
        alternates: dict[tuple[str, str], HostFunction] = {}
        for imp in imports:
            if not isinstance(imp.type, wasmtime.FuncType):
                continue
            name = (imp.module, imp.name or "")
            primary = HOST_FUNCTIONS.get(name)
            if primary is None:
                unknown.append(imp)
                continue
            signature = signature_of(imp.type)
            if signature is not None and signature != (primary.params, primary.results):
                # another published signature of the same import (see abi.SIGNATURES);
                # a signature nobody published still fails to link, as it should
                alternate = SIGNATURES.get((*name, *signature))
                if alternate is not None:
                    alternates[name] = alternate
        linker = self.linker
        if unknown or alternates:
            linker = wasmtime.Linker(self.engine)
            linker.allow_shadowing = True
            define_host_functions(linker)
            for alternate in alternates.values():
                define_host_function(linker, alternate)
            stubbed: set[tuple[str, str]] = set()
            for imp in unknown:
                name = (imp.module, imp.name or "")
                if name not in stubbed:  # a module may import one name twice
                    stubbed.add(name)
                    linker.define_func(*name, imp.type, _enosys_stub(imp.type))
                    log.info("import_stubbed", module=imp.module, name=imp.name)
        prepared = (linker.instantiate_pre(module), agentos, absolute)
        with self._prepare_lock:
            self._prepared[module] = prepared
        return prepared


def _enosys_stub(ty: wasmtime.FuncType):  # type: ignore[no-untyped-def]
    results = ty.results
    enosys = WASI_ERRNO["ENOSYS"]

    def stub(*_args: int):  # type: ignore[no-untyped-def]
        if not results:
            return None
        values = [enosys if i == 0 else 0 for i in range(len(results))]
        return values[0] if len(values) == 1 else values

    return stub


def _write_stderr(ctx: GuestContext, message: str) -> None:
    try:
        ctx.proc.fds.get(2).write(message.encode(), ctx.interrupted)
    except KernelError:
        pass


_lock = threading.Lock()
_runtime: GuestRuntime | None = None


def shared_runtime() -> GuestRuntime:
    """The sidecar-wide runtime (created on first use)."""
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = GuestRuntime()
        return _runtime
