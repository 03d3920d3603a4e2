"""The compile helper process: results load in the sidecar's engine, and every
bound (memory, CPU time, interruption) fires and leaves no helper behind."""

from __future__ import annotations

import os
import threading

import pytest
import wasmtime

from agentvm_sidecar.wasm.compile_helper import CompileError, compile_in_helper
from agentvm_sidecar.wasm.engine import shared_engine
from tests.process.conftest import guest_bytes
from tests.security.hostile_wasm import nested_loops

MiB = 1 << 20
# ~5 s of CPU and ~500 MB to compile: every bound below fires long before
SLOW = nested_loops(1000, 2000)
NOP = wasmtime.wat2wasm('(module (func (export "answer") (result i32) (i32.const 42)))')


def helper_pids() -> set[int]:
    """Our children running the compile helper (the warm spare included)."""
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if ppid == os.getpid() and b"agentvm_sidecar/wasm/compiler.py" in cmdline:
            pids.add(int(entry))
    return pids


def compile_(wasm: bytes, *, memory_bytes: int = 512 * MiB, cpu_seconds: float = 60.0, interrupted=lambda: False):
    return compile_in_helper(wasm, memory_bytes=memory_bytes, cpu_seconds=cpu_seconds, interrupted=interrupted)


def test_the_module_loads_in_the_sidecar_engine_and_runs() -> None:
    compiled = compile_(NOP)
    module = compiled.module
    assert compiled.size == len(module.serialize())
    store = wasmtime.Store(shared_engine())
    store.set_epoch_deadline(1)
    answer = wasmtime.Instance(store, module, []).exports(store)["answer"]
    assert isinstance(answer, wasmtime.Func)
    assert answer(store) == 42


def test_the_settings_must_match_so_the_helper_uses_the_sidecar_engines() -> None:
    # wasmtime refuses an artifact compiled with other settings (here: without
    # epoch interruption), so the tests that load the helper's prove its engine matches
    other = wasmtime.Module(wasmtime.Engine(), NOP).serialize()
    with pytest.raises(wasmtime.WasmtimeError):
        wasmtime.Module.deserialize(shared_engine(), other)


def test_a_real_program_compiles_within_the_default_limits() -> None:
    compiled = compile_(guest_bytes("hello"))
    assert compiled.module.imports
    assert compiled.cpu_seconds > 0


def test_an_invalid_module_is_reported_invalid() -> None:
    with pytest.raises(CompileError) as err:
        compile_(b"\0asm\x01\0\0\0garbage")
    assert err.value.reason == "invalid"


def test_running_out_of_memory_fails_the_compile() -> None:
    with pytest.raises(CompileError) as err:
        compile_(SLOW, memory_bytes=64 * MiB)
    assert err.value.reason == "memory"


def test_the_cpu_budget_ends_the_compile_and_is_what_it_charges() -> None:
    with pytest.raises(CompileError) as err:
        compile_(SLOW, cpu_seconds=0.3)
    assert err.value.reason == "cpu_time"
    assert err.value.cpu_seconds >= 0.3


def test_interruption_kills_the_helper() -> None:
    compile_(NOP)  # leaves a warm helper: the next compile runs in it
    (warm,) = helper_pids()
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    with pytest.raises(CompileError) as err:
        compile_(SLOW, interrupted=stop.is_set)
    assert err.value.reason == "interrupted"
    assert warm not in helper_pids()

