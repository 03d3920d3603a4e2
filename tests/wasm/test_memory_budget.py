"""Linear memories' finalizer (wasm/memory_budget.py): wasmtime calls it when a
Store is dropped, and Python's cyclic GC drops a Store in a reference cycle at any
allocation of any thread, including one made while this module's lock is held.
The finalizer must never wait for that lock: it queues the memory, and
``settle_freed_memories`` gives it back."""

from __future__ import annotations

import threading

import wasmtime

from agentvm_sidecar.wasm import memory_budget
from agentvm_sidecar.wasm.engine import shared_engine


def _store_with_a_memory() -> wasmtime.Store:
    engine = shared_engine()
    store = wasmtime.Store(engine)
    wasmtime.Instance(store, wasmtime.Module(engine, '(module (memory (export "memory") 1))'), [])
    return store


def test_a_store_dropped_while_the_lock_is_held_does_not_wait_for_it() -> None:
    existing = set(memory_budget._memories)
    stores = [_store_with_a_memory()]
    (key,) = set(memory_budget._memories) - existing
    dropped = threading.Event()

    def drop_inside_the_lock() -> None:
        with memory_budget._memories_lock:  # as a collection inside _take_spare does
            stores.clear()  # the last reference: wasmtime frees the memory here
        dropped.set()

    threading.Thread(target=drop_inside_the_lock, daemon=True).start()
    assert dropped.wait(10), "the finalizer waited for a lock its own thread holds"
    assert key in memory_budget._memories and key in memory_budget._freed  # queued, not given back yet
    memory_budget.settle_freed_memories()
    assert key not in memory_budget._memories and key not in memory_budget._freed
