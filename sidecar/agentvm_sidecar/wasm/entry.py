"""Entering a program: its ``memory`` and ``_start`` looked up by name, and ``_start``
called, without wasmtime-py's generic paths.

Why: ``Instance.exports(store)`` lists every export through the C API to build a
mapping (~24 us of `sh`'s start) where a process needs two, and ``Func.__call__``
asks the function for its type and converts values on every call (~5 us more); a
process makes one such call, so every command paid them.
"""

from __future__ import annotations

import ctypes

import wasmtime
from wasmtime import _bindings as ffi
from wasmtime._extern import wrap_extern

__all__ = ["call_start", "export"]


def export(store: wasmtime.Store, instance: wasmtime.Instance, name: str) -> wasmtime.AsExtern | None:
    """The export ``name`` of ``instance``, or None."""
    raw = name.encode()
    item = ffi.wasmtime_extern_t()
    found = ffi.wasmtime_instance_export_get(
        store._context(), ctypes.byref(instance._instance), raw, len(raw), ctypes.byref(item)
    )
    return wrap_extern(item) if found else None


def call_start(store: wasmtime.Store, start: wasmtime.Func) -> wasmtime.Trap | None:
    """Run ``start`` (no parameters, no results) to its end: None when it
    returned, or the trap that ended it (a guest's exit unwinds as one).

    Raises: wasmtime.WasmtimeError (the call could not be made)."""
    trap = ctypes.POINTER(ffi.wasm_trap_t)()
    error = ffi.wasmtime_func_call(store._context(), ctypes.byref(start._func), None, 0, None, 0, ctypes.byref(trap))
    if error:
        raise wasmtime.WasmtimeError._from_ptr(error)
    return wasmtime.Trap._from_ptr(trap) if trap else None
