"""The shared engine and the compiled-module cache (memory, disk, recovery, races)."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import pytest
import wasmtime

from agentvm_sidecar.wasm import ModuleCache, default_cache_dir, shared_engine
from agentvm_sidecar.wasm.engine import WASMTIME_VERSION

SPIN_WAT = """
(module
  (func (export "spin") (loop $l (br $l)))
  (func (export "answer") (result i32) (i32.const %d)))
"""


def wasm(answer: int = 42) -> bytes:
    return wasmtime.wat2wasm(SPIN_WAT % answer)


def answer_of(module: wasmtime.Module) -> int:
    store = wasmtime.Store(shared_engine())
    store.set_epoch_deadline(1)
    instance = wasmtime.Instance(store, module, [])
    func = instance.exports(store)["answer"]
    assert isinstance(func, wasmtime.Func)
    return func(store)


def test_first_get_compiles_and_second_get_is_a_memory_hit(tmp_path: Path) -> None:
    cache = ModuleCache(tmp_path)
    first = cache.get(wasm())
    second = cache.get(wasm())
    assert second is first
    stats = cache.statistics()
    assert (stats.compiled, stats.memory_hits, stats.disk_hits, stats.modules) == (1, 1, 0, 1)
    assert answer_of(first) == 42


def test_a_new_cache_over_the_same_dir_loads_from_disk_without_compiling(tmp_path: Path) -> None:
    ModuleCache(tmp_path).get(wasm())
    assert len(list(tmp_path.glob("*.cwasm"))) == 1
    fresh = ModuleCache(tmp_path)
    module = fresh.get(wasm())
    stats = fresh.statistics()
    assert (stats.compiled, stats.disk_hits) == (0, 1)
    assert answer_of(module) == 42


def test_cache_file_name_carries_digest_wasmtime_version_and_fingerprint(tmp_path: Path) -> None:
    cache = ModuleCache(tmp_path)
    sha = "ab" * 32
    name = cache.path_for(sha).name
    assert name.startswith(f"{sha}-{WASMTIME_VERSION}-") and name.endswith(".cwasm")


@pytest.mark.parametrize("garbage", [b"", b"not a module", b"\x7fELF" + b"\0" * 100])
def test_corrupt_cache_file_is_deleted_and_the_module_recompiled(tmp_path: Path, garbage: bytes) -> None:
    cache = ModuleCache(tmp_path)
    cache.get(wasm())
    (path,) = tmp_path.glob("*.cwasm")
    path.write_bytes(garbage)
    fresh = ModuleCache(tmp_path)
    module = fresh.get(wasm())
    stats = fresh.statistics()
    assert (stats.disk_errors, stats.compiled, stats.disk_hits) == (1, 1, 0)
    assert answer_of(module) == 42
    assert ModuleCache(tmp_path).get(wasm()) is not None  # rewritten and loadable again
    assert path.stat().st_size > len(garbage)


def test_concurrent_gets_of_one_module_compile_it_once(tmp_path: Path) -> None:
    cache = ModuleCache(tmp_path)
    blob = wasm(7)
    barrier = threading.Barrier(8)
    results: list[wasmtime.Module] = []

    def worker() -> None:
        barrier.wait()
        results.append(cache.get(blob))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(m) for m in results}) == 1
    stats = cache.statistics()
    assert (stats.compiled, stats.memory_hits) == (1, 7)


def test_distinct_modules_get_distinct_entries(tmp_path: Path) -> None:
    cache = ModuleCache(tmp_path)
    assert answer_of(cache.get(wasm(1))) == 1
    assert answer_of(cache.get(wasm(2))) == 2
    assert cache.statistics().modules == 2


def test_unwritable_cache_dir_still_returns_a_module(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    cache = ModuleCache(blocker / "modules")  # cannot mkdir under a regular file
    assert answer_of(cache.get(wasm())) == 42
    assert cache.statistics().compiled == 1


def test_a_malformed_digest_is_rejected_before_touching_the_disk(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        ModuleCache(tmp_path).get(wasm(), sha256="../../etc/passwd")


def test_invalid_wasm_raises_wasmtime_error(tmp_path: Path) -> None:
    with pytest.raises(wasmtime.WasmtimeError):
        ModuleCache(tmp_path).get(b"\0asm\x01\0\0\0garbage")


def test_default_cache_dir_prefers_env_then_xdg_then_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AGENTVM_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("AGENTVM_CACHE_DIR")
    assert default_cache_dir() == tmp_path / "xdg" / "agentvm" / "modules"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "agentvm" / "modules"


def test_shared_engine_interrupts_a_spinning_guest_when_the_epoch_passes(tmp_path: Path) -> None:
    engine = shared_engine()
    store = wasmtime.Store(engine)
    store.set_epoch_deadline(1)
    instance = wasmtime.Instance(store, ModuleCache(tmp_path).get(wasm()), [])
    spin = instance.exports(store)["spin"]
    assert isinstance(spin, wasmtime.Func)
    ticker = threading.Timer(0.05, engine.increment_epoch)
    ticker.start()
    try:
        with pytest.raises(wasmtime.Trap):
            spin(store)
    finally:
        ticker.cancel()


class _Vm:
    """Stands in for a VM's kernel as a cache owner (anything weakly referenceable)."""


def compiled(answer: int) -> tuple[str, wasmtime.Module, int]:
    """(sha256, module, compiled size) of a module compiled outside the cache."""
    data = wasm(answer)
    module = wasmtime.Module(shared_engine(), data)
    return hashlib.sha256(data).hexdigest(), module, len(module.serialize())


def test_transient_modules_never_touch_disk_and_are_evicted_least_recently_used_first(tmp_path: Path) -> None:
    vm = _Vm()
    mods = {answer: compiled(answer) for answer in (1, 2, 3, 4)}
    size = mods[1][2]
    cache = ModuleCache(tmp_path, transient_budget=3 * size)
    for answer in (1, 2, 3):
        cache.admit(*mods[answer], owner=vm)
    assert cache.lookup(mods[1][0], owner=vm) is mods[1][1]  # 1 is now the most recently used
    cache.admit(*mods[4], owner=vm)  # evicts 2
    stats = cache.statistics()
    assert (stats.modules, stats.evicted, stats.transient_bytes) == (3, 1, 3 * size)
    assert not list(tmp_path.glob("*.cwasm"))
    assert cache.lookup(mods[2][0], owner=vm) is None
    assert answer_of(cache.lookup(mods[1][0], owner=vm)) == 1
    assert cache.statistics().compiled == 0  # the cache never compiles what it is given


def test_transient_modules_are_budgeted_by_compiled_size(tmp_path: Path) -> None:
    sha, module, size = compiled(1)
    cache = ModuleCache(tmp_path, transient_budget=size - 1)
    cache.admit(sha, module, size, owner=_Vm())  # larger than the whole budget: not kept
    assert cache.lookup(sha, owner=_Vm()) is None
    assert cache.statistics().transient_bytes == 0


def test_releasing_a_vm_drops_the_modules_only_it_used(tmp_path: Path) -> None:
    first, second = _Vm(), _Vm()
    mine, shared = compiled(1), compiled(2)
    cache = ModuleCache(tmp_path)
    cache.admit(*mine, owner=first)
    cache.admit(*shared, owner=first)
    assert cache.lookup(shared[0], owner=second) is shared[1]
    cache.release(first)
    assert cache.lookup(mine[0], owner=second) is None
    assert cache.lookup(shared[0], owner=second) is shared[1]
    cache.release(second)
    stats = cache.statistics()
    assert (stats.modules, stats.transient_bytes) == (0, 0)


def test_persistent_modules_are_never_evicted(tmp_path: Path) -> None:
    vm = _Vm()
    cache = ModuleCache(tmp_path, transient_budget=compiled(100)[2])
    kept = cache.get(wasm(7))
    for answer in range(3):
        cache.admit(*compiled(100 + answer), owner=vm)
    cache.release(vm)
    assert cache.get(wasm(7)) is kept
    assert cache.statistics().modules == 1


def _file_of(cache: ModuleCache, answer: int) -> Path:
    return cache.path_for(hashlib.sha256(wasm(answer)).hexdigest())


def _compiled_size(tmp_path: Path) -> int:
    """The size of one test module's cache file (they all differ by a constant only)."""
    probe = ModuleCache(tmp_path / "probe")
    probe.get(wasm(1))
    return _file_of(probe, 1).stat().st_size


def _age(path: Path, seconds_ago: int) -> None:
    """Set ``path``'s mtime ``seconds_ago`` in the past (the pruning order)."""
    when = time.time() - seconds_ago
    os.utime(path, (when, when))


def test_the_disk_cache_drops_least_recently_used_files_beyond_its_budget(tmp_path: Path) -> None:
    size = _compiled_size(tmp_path)
    cache = ModuleCache(tmp_path, disk_budget=2 * size + size // 2)
    old, mid = _file_of(cache, 1), _file_of(cache, 2)
    cache.get(wasm(1))
    cache.get(wasm(2))
    _age(old, 200)
    _age(mid, 100)
    cache.get(wasm(3))  # a third file is over the budget: the oldest goes
    assert not old.exists() and mid.exists()
    assert _file_of(cache, 3).exists()


def test_loading_a_file_marks_it_recently_used(tmp_path: Path) -> None:
    size = _compiled_size(tmp_path)
    writer = ModuleCache(tmp_path)
    writer.get(wasm(1))
    writer.get(wasm(2))
    first, second = _file_of(writer, 1), _file_of(writer, 2)
    _age(first, 200)
    _age(second, 100)
    cache = ModuleCache(tmp_path, disk_budget=2 * size + size // 2)
    cache.get(wasm(1))  # a disk hit: now the most recently used
    cache.get(wasm(3))
    assert first.exists() and not second.exists()
