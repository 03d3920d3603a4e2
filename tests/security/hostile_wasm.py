"""Wasm modules that are cheap to write and expensive to compile (issue 8, rows 6-8).

Built as bytes here, in the test, so the suite carries no binaries. Measured with
the sidecar's engine settings on the 2-core test machine (one thread):
- ``nested_loops(1000, 2000)``, 24 KB: ~5 s and ~500 MB to compile; each extra
  loop level costs more than the last (cranelift's liveness over the loop nest);
- ``many_functions(1_000_000)``, 4 MB: wasmparser's largest function count; about
  100 s and 5.5 GiB to compile unbounded.
"""

from __future__ import annotations

import wasmtime

__all__ = ["many_functions", "nested_loops"]


def nested_loops(depth: int, nlocals: int) -> bytes:
    """``_start`` is ``depth`` nested loops, each updating one of ``nlocals`` locals."""
    heads = "".join(
        f"(loop $l{i} (local.set {i % nlocals} (i32.add (local.get {i * 7 % nlocals}) "
        f"(local.get {(i * 13 + 1) % nlocals})))"
        for i in range(depth)
    )
    tails = "".join(f"(br_if $l{i} (local.get {i % nlocals})))" for i in reversed(range(depth)))
    locals_ = " ".join(["i32"] * nlocals)
    return wasmtime.wat2wasm(
        f'(module (memory (export "memory") 1) (func (export "_start") (local {locals_}) {heads}{tails}))'
    )


def many_functions(count: int) -> bytes:
    """A module of ``count`` empty functions (and no ``_start``)."""
    types = _section(1, _leb(1) + b"\x60\x00\x00")  # one type: [] -> []
    functions = _section(3, _leb(count) + b"\x00" * count)
    bodies = _section(10, _leb(count) + b"\x02\x00\x0b" * count)  # size 2: no locals, end
    return b"\0asm\x01\0\0\0" + types + functions + bodies


def _section(section_id: int, body: bytes) -> bytes:
    return bytes([section_id]) + _leb(len(body)) + body


def _leb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if not value:
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)
