"""Host functions: how Python functions become wasm imports.

Every import a guest may use (WASI preview1 and the agentOS host modules) is a plain
Python function registered with :func:`host_function`. It receives the calling
process's :class:`~.context.GuestContext` first, then the wasm arguments as ints.

The wrapper installed in the linker does the boilerplate once:
- finds the caller's context (thread-local: each guest process runs on its own thread,
  so the shared Linker needs no per-store closures);
- for errno-returning functions (the default), maps ``KernelError`` to the WASI errno
  number, :class:`GuestFault` (a pointer outside guest memory) to EFAULT, and returns 0
  when the function returns None;
- lets :class:`GuestExit` through: it unwinds the wasm stack as a trap, and the runtime
  reads the recorded reason from the context, never from the exception object;
- on return, takes a run slot again when the call gave its slot up to block
  (scheduler.py): the one safe point where a host call holds no lock.

The wrapper is installed with wasmtime's *unchecked* host-function API
(``wasmtime_linker_define_func_unchecked``) through our own ctypes callback, which
reads and writes the raw argument slots directly. wasmtime-py's generic trampoline
builds a ``Caller`` and a ``Val`` per argument and result: 15 us per call here,
against about 1 us this way, and every read, write and clock call of every guest
pays it. It also parks the last host exception in a process-wide global that
concurrent guests would race on; ours never passes Python exceptions through wasm.
A bug in a host function (any other exception) is logged and answered with EIO, so a
guest never traps because of an import; imports the guest may use but we do not
support return ENOSYS.

A few of the hottest functions (fd_write, fd_read, fd_fdstat_get, and the libc's
net_send/net_recv probe) are defined with a C function of native/ instead, whose
env is this Python callback: C serves the plain pipe case without the GIL and
calls the callback for everything else, so the Python function stays the one
implementation of every decision.

WASI errno numbers: https://github.com/WebAssembly/WASI/blob/main/legacy/preview1/docs.md#errno
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import wasmtime
from wasmtime import _bindings as ffi

from .. import native
from ..kernel.errors import KernelError
from ..logs import get_logger
from .context import GuestContext, GuestExit, GuestFault, current_context

__all__ = [
    "HOST_FUNCTIONS",
    "SIGNATURES",
    "WASI_ERRNO",
    "HostFunction",
    "define_host_function",
    "define_host_functions",
    "host_function",
    "signature_of",
    "wasi_errno",
]

log = get_logger("wasm.abi")

WASI_ERRNO: dict[str, int] = {
    "E2BIG": 1, "EACCES": 2, "EADDRINUSE": 3, "EADDRNOTAVAIL": 4, "EAFNOSUPPORT": 5, "EAGAIN": 6,
    "EALREADY": 7, "EBADF": 8, "EBADMSG": 9, "EBUSY": 10, "ECANCELED": 11, "ECHILD": 12,
    "ECONNABORTED": 13, "ECONNREFUSED": 14, "ECONNRESET": 15, "EDEADLK": 16, "EDESTADDRREQ": 17,
    "EDOM": 18, "EDQUOT": 19, "EEXIST": 20, "EFAULT": 21, "EFBIG": 22, "EHOSTUNREACH": 23,
    "EIDRM": 24, "EILSEQ": 25, "EINPROGRESS": 26, "EINTR": 27, "EINVAL": 28, "EIO": 29,
    "EISCONN": 30, "EISDIR": 31, "ELOOP": 32, "EMFILE": 33, "EMLINK": 34, "EMSGSIZE": 35,
    "EMULTIHOP": 36, "ENAMETOOLONG": 37, "ENETDOWN": 38, "ENETRESET": 39, "ENETUNREACH": 40,
    "ENFILE": 41, "ENOBUFS": 42, "ENODEV": 43, "ENOENT": 44, "ENOEXEC": 45, "ENOLCK": 46,
    "ENOLINK": 47, "ENOMEM": 48, "ENOMSG": 49, "ENOPROTOOPT": 50, "ENOSPC": 51, "ENOSYS": 52,
    "ENOTCONN": 53, "ENOTDIR": 54, "ENOTEMPTY": 55, "ENOTRECOVERABLE": 56, "ENOTSOCK": 57,
    "ENOTSUP": 58, "ENOTTY": 59, "ENXIO": 60, "EOVERFLOW": 61, "EOWNERDEAD": 62, "EPERM": 63,
    "EPIPE": 64, "EPROTO": 65, "EPROTONOSUPPORT": 66, "EPROTOTYPE": 67, "ERANGE": 68, "EROFS": 69,
    "ESPIPE": 70, "ESRCH": 71, "ESTALE": 72, "ETIMEDOUT": 73, "ETXTBSY": 74, "EXDEV": 75,
    "ENOTCAPABLE": 76,
}
_EIO = WASI_ERRNO["EIO"]
_EFAULT = WASI_ERRNO["EFAULT"]
MAX_LOGGED_FAILURES = 5  # per program, see _log_failure

_VALTYPES = {"i": wasmtime.ValType.i32, "I": wasmtime.ValType.i64}


def wasi_errno(exc: KernelError) -> int:
    """The WASI errno number for a kernel error (EIO for names WASI lacks)."""
    return WASI_ERRNO.get(exc.errno, _EIO)


@dataclass(frozen=True)
class HostFunction:
    module: str
    name: str
    params: str
    results: str
    fn: Callable[..., Any]
    returns_errno: bool


HOST_FUNCTIONS: dict[tuple[str, str], HostFunction] = {}
# Every registered signature of every import, keyed (module, name, params, results):
# published modules disagree on some signatures (net_tls_connect takes 3 arguments
# in the Codex CLI build and 4 in agentOS's curl), so one name may have several
# implementations. HOST_FUNCTIONS holds the first one registered, which the shared
# linker defines; the runtime links a module declaring another by that signature.
SIGNATURES: dict[tuple[str, str, str, str], HostFunction] = {}


def host_function(
    module: str, name: str, params: str, results: str = "i", *, returns_errno: bool = True
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn(ctx, *args)`` as the import ``module.name``.

    Args:
        params, results: wasm types, one letter each: ``i`` = i32, ``I`` = i64.
        returns_errno: the single i32 result is a WASI errno (errors are mapped
            automatically); False for functions returning a value (they handle errors).
    """

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        signature = (module, name, params, results)
        if signature in SIGNATURES:
            raise KeyError(f"{module}.{name}({params}) registered twice")
        hf = HostFunction(module, name, params, results, fn, returns_errno and results == "i")
        SIGNATURES[signature] = hf
        HOST_FUNCTIONS.setdefault((module, name), hf)
        return fn

    return register


def _wrap(hf: HostFunction) -> Callable[..., Any]:
    fn = hf.fn
    if hf.returns_errno:

        def call_errno(*args: int) -> int:
            ctx = current_context()
            try:
                result = fn(ctx, *args)
            except KernelError as exc:
                result = wasi_errno(exc)
            except GuestFault:
                result = _EFAULT
            except (GuestExit, KeyboardInterrupt):
                raise
            except Exception:
                _log_failure(ctx, hf)
                result = _EIO
            if not ctx.seat.holding:
                _queue_again(ctx)
            return 0 if result is None else result

        return call_errno

    def call_value(*args: int) -> Any:
        ctx = current_context()
        try:
            result = fn(ctx, *args)
        except (GuestExit, KeyboardInterrupt):
            raise
        except Exception:
            _log_failure(ctx, hf)
            result = -1 if hf.results == "I" else 0
        if not ctx.seat.holding:
            _queue_again(ctx)
        return result

    return call_value


def _queue_again(ctx: GuestContext) -> None:
    """The call gave its run slot up to block: queue for one here, where it holds no
    lock, and end here if it was killed while queued."""
    ctx.seat.take()
    ctx.check_signals()


def _log_failure(ctx: GuestContext, hf: HostFunction) -> None:
    """Log a host function's unexpected exception, with its traceback, at most
    MAX_LOGGED_FAILURES times per program: a guest can trigger the same failure
    in a loop, and the sidecar's log must not become its megaphone."""
    ctx.host_failures += 1
    if ctx.host_failures <= MAX_LOGGED_FAILURES:
        log.exception("host_function_failed", function=f"{hf.module}.{hf.name}", pid=ctx.proc.pid)
    elif ctx.host_failures == MAX_LOGGED_FAILURES + 1:
        log.warning("host_function_failures_suppressed", pid=ctx.proc.pid)


_RawCallback = ffi.wasmtime_func_unchecked_callback_t
_RAW_FIELD = {"i": "i32", "I": "i64"}
_callbacks: dict[tuple[str, str, str, str], Any] = {}  # ctypes callbacks must outlive every linker


def _trap(message: bytes) -> int:
    trap = ffi.wasmtime_trap_new(ctypes.c_char_p(message), len(message))
    return ctypes.cast(trap, ctypes.c_void_p).value or 0


def _slot_reader(params: str) -> Callable[[Any, Callable[..., Any]], Any]:
    """``read(slots, call)``: ``call`` with the argument slots of a ``params``
    signature, each read as its type. Generated per signature (as namedtuple and
    dataclasses generate code): a generic loop of getattr calls cost ~0.4 us more
    per host call, and every read, write and stat of every guest makes one."""
    args = ", ".join(f"slots[{i}].{_RAW_FIELD[c]}" for i, c in enumerate(params))
    # the source holds only slot indexes and the field names of _RAW_FIELD
    return eval(f"lambda slots, call: call({args})")


def _raw_callback(hf: HostFunction) -> Any:
    """The unchecked ctypes callback of ``hf``: raw slots in, result in slot 0."""
    call = _wrap(hf)
    read = _slot_reader(hf.params)
    result_field = _RAW_FIELD[hf.results] if hf.results else None

    @_RawCallback
    def callback(_env, _caller, slots, _count):  # type: ignore[no-untyped-def]
        try:
            result = read(slots, call)
            if result_field is not None:
                setattr(slots[0], result_field, result)
            return 0
        except GuestExit:
            return _trap(b"agentvm: guest exit")  # the reason is on the context
        except BaseException:  # _wrap answered every Exception; this is e.g. KeyboardInterrupt
            return _trap(b"agentvm: host function interrupted")

    return callback


def signature_of(ty: wasmtime.FuncType) -> tuple[str, str] | None:
    """(params, results) of a wasm function type in this module's letters, or None
    when it uses types no host function takes (floats, references)."""
    letters = {str(wasmtime.ValType.i32()): "i", str(wasmtime.ValType.i64()): "I"}
    try:
        return "".join(letters[str(t)] for t in ty.params), "".join(letters[str(t)] for t in ty.results)
    except KeyError:
        return None


def define_host_function(linker: wasmtime.Linker, hf: HostFunction) -> None:
    """Define ``hf`` in ``linker`` (through the unchecked API, see the module doc)."""
    key = (hf.module, hf.name, hf.params, hf.results)
    callback = _callbacks.get(key)
    if callback is None:
        callback = _callbacks[key] = _raw_callback(hf)
    ty = wasmtime.FuncType([_VALTYPES[c]() for c in hf.params], [_VALTYPES[c]() for c in hf.results])
    module, name = hf.module.encode(), hf.name.encode()
    env = None
    native_name = native.NATIVE_HOST_FUNCTIONS.get(key)
    if native_name is not None:  # C first, the Python callback as its fallback
        env = ctypes.cast(callback, ctypes.c_void_p).value
        callback = _RawCallback(native.library().function_pointer(native_name))
    error = ffi.wasmtime_linker_define_func_unchecked(
        linker.ptr(), module, len(module), name, len(name), ty.ptr(), callback, env, _no_finalizer
    )
    if error:
        raise wasmtime.WasmtimeError._from_ptr(error)


def define_host_functions(linker: wasmtime.Linker) -> None:
    """Define every registered host function (its first signature) in ``linker``."""
    for hf in HOST_FUNCTIONS.values():
        define_host_function(linker, hf)


@ctypes.CFUNCTYPE(None, ctypes.c_void_p)
def _no_finalizer(_env):  # type: ignore[no-untyped-def]
    return None
