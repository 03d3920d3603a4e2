# The one wasmtime Engine of a sidecar process.
#
# An Engine holds compiler settings and the global epoch counter. We use one per
# process: modules compiled once (wasm/module_cache.py) can be instantiated in
# any Store, and a single ticker thread bumping `engine.increment_epoch()`
# preempts every running guest (DESIGN.md, "Preemption").
#
# Settings, each one deliberate; everything else keeps wasmtime's defaults:
# - epoch_interruption: compiled code checks the engine epoch at loop headers
#   and function entries, so a CPU-bound guest can be stopped or time-sliced.
#   Consequence for callers: every Store must set a deadline
#   (`store.set_epoch_deadline(n)`) before running guest code.
# - cranelift_opt_level "speed": the default today, pinned so a wasmtime
#   upgrade cannot silently change it (it is part of the cache fingerprint).
# - wasm_multi_memory off: the per-Store memory limit applies to each linear
#   memory, so a module with many memories could multiply it; guests need one.
# - memory_may_move off, with a 4 GiB reservation (all a wasm32 memory can
#   address): linear memories grow in place and never move, so host functions
#   read a memory's host address once per program instead of asking wasmtime on
#   every access (context.py). Costs only virtual address space, as wasmtime's
#   default on 64-bit hosts already does.
# - memory_init_cow off: linear memories are allocated by memory_budget.py (to
#   charge each VM's memory budget), and wasmtime can only map copy-on-write
#   memory images into memories it mapped itself (it panics otherwise), so data
#   segments are copied at instantiation instead.
# - consume_fuel stays off: fuel instruments every basic block and costs
#   throughput; epochs give prompt kill and CPU budgets without that cost. Fuel
#   would only be needed for deterministic instruction counting.
#
# ENGINE_SETTINGS is the single source of truth: it both configures the engine
# and feeds `config_fingerprint()`, which names serialized modules on disk, so
# the two cannot drift apart.

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
import threading
from collections.abc import Mapping
from types import MappingProxyType

import wasmtime

from . import compiler
from .memory_budget import install_memory_creator

__all__ = [
    "ENGINE_SETTINGS",
    "WASMTIME_VERSION",
    "config_fingerprint",
    "make_config",
    "shared_engine",
]

WASMTIME_VERSION = importlib.metadata.version("wasmtime")

ENGINE_SETTINGS: Mapping[str, object] = MappingProxyType(
    {
        "epoch_interruption": True,
        "cranelift_opt_level": "speed",
        "wasm_multi_memory": False,
        "memory_may_move": False,
        "memory_reservation": 4 << 30,
        "memory_init_cow": False,
    }
)


def make_config() -> wasmtime.Config:
    """A fresh Config carrying ENGINE_SETTINGS (as the compile helper builds its own)."""
    return compiler.make_config(ENGINE_SETTINGS)


def config_fingerprint() -> str:
    """A short stable digest of the settings and host architecture the shared
    engine compiles for. Serialized modules are only reused under the same one."""
    material = json.dumps(
        {"settings": dict(ENGINE_SETTINGS), "machine": platform.machine()}, sort_keys=True
    )
    return hashlib.sha256(material.encode()).hexdigest()[:16]


_lock = threading.Lock()
_engine: wasmtime.Engine | None = None


def shared_engine() -> wasmtime.Engine:
    """The process-wide Engine (created on first call; thread-safe). Its linear
    memories are charged to their VM's memory budget (memory_budget.py)."""
    global _engine
    with _lock:
        if _engine is None:
            config = make_config()
            install_memory_creator(config)
            _engine = wasmtime.Engine(config)
        return _engine
