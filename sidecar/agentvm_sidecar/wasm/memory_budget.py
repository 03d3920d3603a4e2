# Guest linear memories, allocated by us so each is charged to its VM's budget.
#
# `Store.set_limits(memory_size=...)` bounds one process; a VM may run many
# processes, so a VM-wide bound needs to see every allocation and growth of every
# store. wasmtime's C API offers no ResourceLimiter callback, but it lets the
# embedder allocate linear memories itself (`wasmtime_config_host_memory_creator_set`,
# present in wasmtime-py's `_bindings`): wasmtime calls `new_memory` when an
# instance is created and `grow_memory` on every `memory.grow`. Both run on the
# guest's own thread, so the VM is the calling thread's GuestContext's kernel, and
# both charge `kernel.guest_memory` (a MemoryBudget) before anything changes:
#  * a failed charge in `grow_memory` makes `memory.grow` return -1 (wasmtime turns
#    a creator's growth error into a failed grow, not a trap), so malloc fails
#    inside the guest, as with the per-process limit;
#  * a failed charge in `new_memory` fails instantiation (the process exits 1 with
#    the reason on stderr); spawn checks the budget before that (wasm/spawn.py),
#    so a process that cannot fit does not start (EAGAIN);
#  * the charge is given back when wasmtime frees the memory (the finalizer runs
#    when the Store is dropped, at the latest when the process's thread ends).
#
# The finalizer only queues the memory (``_freed``); ``settle_freed_memories``
# gives it back, called where no lock is held (the runtime right after it drops a
# process's Store, and every new memory and zeroing pass). Why: a Store in a
# reference cycle (a trapped guest's exception and traceback hold its context) is
# dropped by Python's cyclic GC, which runs at an allocation on any thread,
# including one inside ``_memories_lock`` or a budget's lock. A finalizer taking
# those locks then waited forever for its own thread: seen as every guest thread
# stuck in ``_take_spare`` behind one whose allocation had collected such a Store,
# each exec ending at its timeout and other VMs starved. ``deque.append`` takes no
# lock a thread can hold.
#
# Memory layout is what wasmtime would do itself with the engine settings
# (engine.py): the whole `reserved_size` plus guard is reserved PROT_NONE with
# MAP_NORESERVE, and growth makes pages read-write in place, so a memory never
# moves (context.py relies on that). Fresh anonymous pages are zero, as wasm
# requires. wasmtime cannot build copy-on-write memory images over a memory it
# did not map, so the engine sets memory_init_cow off: data segments are copied
# at instantiation (measured in the commit that added this module).
#
# A memory created without a guest context on the thread (a test harness
# instantiating directly) is charged to no budget.
#
# Spare memories: a process's start is dominated by first-touch page faults (the
# kernel zero-fills each 4 KiB page the data-segment copy and the program's start
# write to; instantiating `sh` took ~0.44 ms in a fresh mapping and ~0.12 ms in a
# resident one, measured in the commit that added this), so a freed memory is kept mapped, up to
# SPARE_MEMORIES of them, for the next process, as wasmtime's pooling allocator
# does with its "keep resident" setting. Before it goes back to the spares it is
# made all zero again (by `zero_freed_memories`, after the process's exit is
# reported): its first KEEP_RESIDENT_BYTES with memset (those pages
# stay resident, so the next process does not fault on them), the rest dropped
# with MADV_DONTNEED (anonymous private pages read back as zero). Its accessible
# (read-write) prefix stays so and is recorded with it; reuse makes exactly the
# new process's initial size accessible, changing the protection of the
# difference only (none at all for the same program: an mprotect of sh's 1.7 MiB
# each way costs ~30 us), so a reused memory is exactly what a fresh mmap would
# give: all zero, accessible up to its size. Spares are charged to no VM (a VM is charged for what
# its processes use, from `new_memory` to the finalizer), and are bounded:
# SPARE_MEMORIES x KEEP_RESIDENT_BYTES of resident memory per sidecar at most.

from __future__ import annotations

import collections
import ctypes
import threading
from dataclasses import dataclass

import wasmtime
from wasmtime import _bindings as ffi

from .. import native
from ..kernel.errors import KernelError
from ..kernel.limits import MemoryBudget
from .context import current_context

__all__ = [
    "KEEP_RESIDENT_BYTES", "SPARE_MEMORIES", "install_memory_creator", "settle_freed_memories", "zero_freed_memories",
]

_PROT_NONE, _PROT_READ_WRITE = 0, 3
_MAP_PRIVATE, _MAP_ANONYMOUS, _MAP_NORESERVE = 0x02, 0x20, 0x4000
_MAP_FAILED = ctypes.c_void_p(-1).value

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]


@dataclass(eq=False)
class _LinearMemory:
    base: int
    mapped: int  # bytes reserved (reservation + guard)
    size: int  # bytes accessible, all of them charged to ``budget``
    maximum: int
    budget: MemoryBudget | None


SPARE_MEMORIES = 4
KEEP_RESIDENT_BYTES = 2 << 20

_memories: dict[int, _LinearMemory] = {}  # env (its avm_linear record, native/) -> memory
_spares: list[tuple[int, int, int]] = []  # (base, mapped, accessible bytes) of zeroed memories
_dirty: list[_LinearMemory] = []  # freed, not zeroed yet; with _spares at most SPARE_MEMORIES
_freed: collections.deque[int] = collections.deque()  # env keys the finalizer queued (header)
_memories_lock = threading.Lock()


def _error(message: str) -> int:
    error = ffi.wasmtime_error_new(ctypes.c_char_p(message.encode()))
    return ctypes.cast(error, ctypes.c_void_p).value or 0


def _budget_of_caller() -> MemoryBudget | None:
    try:
        ctx = current_context()
    except AttributeError:
        return None
    return ctx.kernel.guest_memory if ctx is not None else None


@ffi.wasmtime_memory_grow_callback_t
def _grow_memory(env, new_size):  # type: ignore[no-untyped-def]
    memory = _memories[env]
    delta = new_size - memory.size
    if delta <= 0:
        return 0
    if memory.budget is not None:
        try:
            memory.budget.reserve(delta)
        except KernelError as exc:
            return _error(exc.message)
    if _libc.mprotect(memory.base, new_size, _PROT_READ_WRITE) != 0:
        if memory.budget is not None:
            memory.budget.release(delta)
        return _error(f"mprotect failed: errno {ctypes.get_errno()}")
    memory.size = new_size
    native.library().avm_linear_set_size(env, new_size)
    native.thread_grown(memory.base, new_size)
    return 0


def _zeroed(memory: _LinearMemory) -> bool:
    """Make ``memory`` all zero, its protection unchanged (one C call without
    the GIL: native.avm_zero_memory)."""
    return native.library().avm_zero_memory(memory.base, memory.size, KEEP_RESIDENT_BYTES) == 0


def _take_spare(mapped: int) -> tuple[int, int] | None:
    """(base, accessible bytes) of a zeroed spare of ``mapped`` bytes, if any."""
    with _memories_lock:
        for i, (base, size, accessible) in enumerate(_spares):
            if size == mapped:
                del _spares[i]
                return base, accessible
    return None


def _accessible(base: int, now: int, wanted: int) -> bool:
    """Make bytes [0, wanted) of the memory at ``base`` read-write and the rest
    of what was (``now``) inaccessible again."""
    if now > wanted:
        return _libc.mprotect(base + wanted, now - wanted, _PROT_NONE) == 0
    if now < wanted:
        return _libc.mprotect(base + now, wanted - now, _PROT_READ_WRITE) == 0
    return True


@ctypes.CFUNCTYPE(None, ctypes.c_void_p)
def _free_memory(env):  # type: ignore[no-untyped-def]
    _freed.append(env)  # no lock: this may run inside any critical section (header)


def settle_freed_memories() -> None:
    """Give back the memories whose Stores were dropped: each one's charge to its
    VM, and the memory to the spares (once zeroed) or to the system. Call with
    no lock of this module or of a MemoryBudget held."""
    while _freed:  # empty on nearly every call: no exception raised for it
        try:
            env = _freed.popleft()
        except IndexError:  # another thread settled it meanwhile
            return
        with _memories_lock:
            memory = _memories.pop(env)
            native.library().avm_linear_free(env)  # wasmtime asks it nothing more after the finalizer
            keep = len(_spares) + len(_dirty) < SPARE_MEMORIES
            if keep:
                _dirty.append(memory)  # zeroed by zero_freed_memories, never reused before
        if not keep:
            _libc.munmap(memory.base, memory.mapped)
        if memory.budget is not None:
            memory.budget.release(memory.size)


def zero_freed_memories() -> None:
    """Zero the memories freed since the last call and keep them as spares.

    The guest runtime calls this on a process's thread once the exit is
    reported, so the zeroing (about 0.1 ms for `sh`'s 1.7 MiB) is not on the
    path from the guest's exit to the client's answer; a memory not zeroed yet
    is simply not reused yet.
    """
    settle_freed_memories()
    with _memories_lock:
        dirty = list(_dirty)
        _dirty.clear()
    for memory in dirty:
        kept = False
        if _zeroed(memory):
            with _memories_lock:
                # memories being zeroed are in neither list: check the bound again
                kept = len(_spares) + len(_dirty) < SPARE_MEMORIES
                if kept:
                    _spares.append((memory.base, memory.mapped, memory.size))
        if not kept:
            _libc.munmap(memory.base, memory.mapped)


@ffi.wasmtime_new_memory_callback_t
def _new_memory(_env, _ty, minimum, maximum, reserved_size, guard_size, ret):  # type: ignore[no-untyped-def]
    settle_freed_memories()  # what a collected Store still holds counts against no one
    budget = _budget_of_caller()
    if budget is not None:
        try:
            budget.reserve(minimum)
        except KernelError as exc:
            return _error(exc.message)
    mapped = max(reserved_size, minimum) + guard_size
    spare = _take_spare(mapped)
    if spare is None:
        base, accessible = _libc.mmap(None, mapped, _PROT_NONE, _MAP_PRIVATE | _MAP_ANONYMOUS | _MAP_NORESERVE, -1, 0), 0
    else:
        base, accessible = spare
    if base is None or base == _MAP_FAILED or not _accessible(base, accessible, minimum):
        errno = ctypes.get_errno()
        if base not in (None, _MAP_FAILED):
            _libc.munmap(base, mapped)
        if budget is not None:
            budget.release(minimum)
        return _error(f"cannot map a linear memory: errno {errno}")
    # the key is the C record wasmtime's get_memory reads (native: avm_linear_get)
    key = native.library().avm_linear_new(base, minimum, maximum)
    if not key:
        _libc.munmap(base, mapped)
        if budget is not None:
            budget.release(minimum)
        return _error("cannot allocate a linear memory's record")
    with _memories_lock:
        _memories[key] = _LinearMemory(base, mapped, minimum, maximum, budget)
    linear = ret[0]
    linear.env = key
    linear.get_memory = _native_get_memory()
    linear.grow_memory = _grow_memory
    linear.finalizer = _free_memory
    return 0


_get_memory: list[object] = []  # the native get_memory, once the library is loaded


def _native_get_memory() -> object:
    if not _get_memory:
        _get_memory.append(ffi.wasmtime_memory_get_callback_t(native.library().function_pointer("avm_linear_get")))
    return _get_memory[0]


@ctypes.CFUNCTYPE(None, ctypes.c_void_p)
def _no_finalizer(_env):  # type: ignore[no-untyped-def]
    return None


_CREATOR = ffi.wasmtime_memory_creator_t(None, _new_memory, _no_finalizer)


def install_memory_creator(config: wasmtime.Config) -> None:
    """Make engines built from ``config`` allocate linear memories here. The
    config must have memory_init_cow off (see the header)."""
    ffi.wasmtime_config_host_memory_creator_set(config.ptr(), ctypes.byref(_CREATOR))
