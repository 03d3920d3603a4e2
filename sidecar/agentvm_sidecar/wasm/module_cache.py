# Compiled-module cache: each distinct wasm module compiles once per machine.
#
# Compiling is the expensive step of running a guest (about 40 ms per MB, 1.5 s
# for the 3 MB `sh`), while instantiating a compiled module takes ~0.1 ms. So:
# - in memory, one `wasmtime.Module` per sha256 of the wasm bytes, shared by all
#   VMs of the sidecar (Modules are immutable and thread-safe);
# - *persistent* modules (the shared /bin layer: a fixed, trusted set) are
#   compiled here, in-process, by `get`, stay for good and go to disk;
# - anything else is a program a guest may have built. It is never compiled in
#   the sidecar (wasm/guest_modules.py compiles it in a helper process, charged
#   to the guest process); the result is `admit`ted here, held in memory only,
#   least recently used first out, within `TRANSIENT_BUDGET_BYTES` of *compiled*
#   size (the serialized artifact, about what the loaded code occupies), and
#   tagged with the VMs that used it: `release(owner)` on VM dispose drops every
#   module no other live VM has used, so a disposed VM leaves nothing behind. A
#   module larger than the whole budget is not kept at all;
# - on disk, `Module.serialize()` output in
#   `<cache dir>/<sha256>-<wasmtime version>-<config fingerprint>.cwasm`, so a
#   new sidecar process skips compilation too. The version and fingerprint in
#   the name keep incompatible artifacts apart; wasmtime also checks its own
#   header on load, and a file it rejects (or that we cannot read) is deleted
#   and the module is recompiled. Files are written to a temporary name and
#   renamed into place, so readers never see a partial file.
#   The directory is bounded: after each write, files beyond `DISK_BUDGET_BYTES`
#   are deleted least recently used first (a load touches its file's mtime), so
#   artifacts of older wasmtime versions or configs, and of command versions no
#   longer pinned, age out instead of piling up. Deleting a file another sidecar
#   has mapped is harmless on Linux; one it is about to load is recompiled.
#
# SECURITY: `Module.deserialize_file` maps the file and runs its machine code
# with only header checks; wasmtime documents it as unsafe on untrusted input.
# It is safe here only because the cache directory is trusted: it belongs to
# the user running the sidecar (created 0700) and nothing else writes it. Never
# point AGENTVM_CACHE_DIR at a directory other users can write.
#
# Concurrency: a per-key lock makes concurrent requests for the same persistent
# module compile (or load) it once while other keys proceed in parallel; wasmtime
# compiles with the GIL released. The dicts and statistics sit under one short
# lock that is never held while compiling or doing I/O.
#
# Keys are trusted: `get(module_bytes, sha256=...)` does not re-hash bytes whose
# digest the caller supplies (the software library already computed it).

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import wasmtime

from ..logs import get_logger
from ..machine_cache import machine_cache_dir
from .engine import WASMTIME_VERSION, config_fingerprint, shared_engine

__all__ = [
    "CACHE_DIR_ENV",
    "ModuleCache",
    "ModuleCacheStatistics",
    "default_cache_dir",
    "shared_module_cache",
]

log = get_logger("wasm.module_cache")

CACHE_DIR_ENV = "AGENTVM_CACHE_DIR"
# compiled (serialized) bytes of guest-built modules kept in memory
TRANSIENT_BUDGET_BYTES = 64 * 1024 * 1024
# the on-disk cache: every pinned command compiled is about 300 MB, so this keeps
# a few generations of them (other checkouts, versions, configs)
DISK_BUDGET_BYTES = 2 * 1024 * 1024 * 1024
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def default_cache_dir() -> Path:
    """`$AGENTVM_CACHE_DIR`, else `$XDG_CACHE_HOME/agentvm/modules`, else
    `~/.cache/agentvm/modules` (empty variables count as unset)."""
    return machine_cache_dir("modules", CACHE_DIR_ENV)


@dataclass(frozen=True, slots=True)
class ModuleCacheStatistics:
    """Counters since the cache was created.

    `compiled` counts compilations, `disk_hits` modules deserialized from disk,
    `memory_hits` lookups answered from memory, `disk_errors` cache files that
    were unreadable or rejected (and deleted), `modules` modules held in memory,
    `evicted` transient modules dropped to stay within the budget or because
    every VM that used them was released, `transient_bytes` the compiled size
    of the transient modules held.
    """

    memory_hits: int
    disk_hits: int
    compiled: int
    disk_errors: int
    modules: int
    evicted: int
    transient_bytes: int


class ModuleCache:
    """Compiled modules of the shared engine, by sha256 of their wasm bytes.

    Args:
        cache_dir: where serialized modules live (default: `default_cache_dir()`).
    """

    def __init__(
        self, cache_dir: Path | None = None, transient_budget: int = TRANSIENT_BUDGET_BYTES,
        disk_budget: int = DISK_BUDGET_BYTES,
    ) -> None:
        self._engine = shared_engine()
        self._dir = cache_dir if cache_dir is not None else default_cache_dir()
        self._suffix = f"-{WASMTIME_VERSION}-{config_fingerprint()}.cwasm"
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._modules: dict[str, wasmtime.Module] = {}
        # transient key -> (compiled size, the VMs that used it), least recently used first
        self._transient: OrderedDict[str, tuple[int, weakref.WeakSet[object]]] = OrderedDict()
        self._transient_bytes = 0
        self._transient_budget = transient_budget
        self._disk_budget = disk_budget
        self._evicted = 0
        self._memory_hits = 0
        self._disk_hits = 0
        self._compiled = 0
        self._disk_errors = 0

    @property
    def cache_dir(self) -> Path:
        return self._dir

    def path_for(self, sha256: str) -> Path:
        """The on-disk cache file for a module digest."""
        return self._dir / f"{sha256}{self._suffix}"

    def get(self, module_bytes: bytes | memoryview, sha256: str | None = None) -> wasmtime.Module:
        """Return the compiled module for trusted `module_bytes` (the shared
        layer's), compiling it in this process at most once; it is kept for good
        in memory and on disk. Never call it with a guest-built module.

        Blocks the calling thread while compiling or loading; call it from a
        worker thread, not the trio loop.

        Args:
            module_bytes: a wasm binary.
            sha256: its lowercase hex sha256, if already known (not re-checked).

        Returns:
            A Module of `shared_engine()`.

        Raises:
            ValueError: `sha256` is not 64 lowercase hex digits.
            wasmtime.WasmtimeError: the bytes are not a valid module.
        """
        key = sha256 if sha256 is not None else hashlib.sha256(module_bytes).hexdigest()
        _check_key(key)
        with self._lock:
            module = self._hit(key)
            if module is not None:
                return module
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                module = self._hit(key)
                if module is not None:
                    return module
            module = self._load(key)
            if module is None:
                module = self._compile(key, module_bytes)
            with self._lock:
                self._key_locks.pop(key, None)
                # a guest may have run the same bytes meanwhile: keep one copy
                return self._modules.setdefault(key, module)

    def lookup(self, sha256: str, owner: object) -> wasmtime.Module | None:
        """The cached module of digest `sha256`, if any, now also used by `owner`
        (a VM's kernel: see `release`)."""
        _check_key(sha256)
        with self._lock:
            module = self._hit(sha256)
            entry = self._transient.get(sha256)
            if entry is not None:
                entry[1].add(owner)
            return module

    def admit(self, sha256: str, module: wasmtime.Module, compiled_size: int, owner: object) -> None:
        """Keep a module compiled elsewhere (a guest-built one) for `owner`,
        evicting the least recently used beyond the budget; one larger than the
        whole budget is not kept."""
        _check_key(sha256)
        with self._lock:
            if sha256 in self._modules:  # compiled twice at once: keep the first
                entry = self._transient.get(sha256)
                if entry is not None:
                    entry[1].add(owner)
                return
            if compiled_size > self._transient_budget:
                return
            owners: weakref.WeakSet[object] = weakref.WeakSet([owner])
            self._modules[sha256] = module
            self._transient[sha256] = (compiled_size, owners)
            self._transient_bytes += compiled_size
            while self._transient_bytes > self._transient_budget:
                self._drop_transient(next(iter(self._transient)))

    def release(self, owner: object) -> None:
        """`owner` is gone (its VM was disposed): drop each transient module that
        no other live owner has used."""
        with self._lock:
            for key, (_, owners) in list(self._transient.items()):
                owners.discard(owner)
                if not owners:
                    self._drop_transient(key)

    def _hit(self, key: str) -> wasmtime.Module | None:
        """A cached module, marked recently used (caller holds the lock)."""
        module = self._modules.get(key)
        if module is not None:
            self._memory_hits += 1
            if key in self._transient:
                self._transient.move_to_end(key)
        return module

    def _drop_transient(self, key: str) -> None:
        """Forget transient module `key`, if held (caller holds the lock)."""
        entry = self._transient.pop(key, None)
        if entry is not None:
            self._transient_bytes -= entry[0]
            del self._modules[key]
            self._evicted += 1

    def statistics(self) -> ModuleCacheStatistics:
        with self._lock:
            return ModuleCacheStatistics(
                memory_hits=self._memory_hits,
                disk_hits=self._disk_hits,
                compiled=self._compiled,
                disk_errors=self._disk_errors,
                modules=len(self._modules),
                evicted=self._evicted,
                transient_bytes=self._transient_bytes,
            )

    def _load(self, key: str) -> wasmtime.Module | None:
        path = self.path_for(key)
        if not path.exists():
            return None
        try:
            module = wasmtime.Module.deserialize_file(self._engine, str(path))
        except (wasmtime.WasmtimeError, OSError) as exc:
            log.warning("module_cache_file_rejected", path=str(path), error=str(exc))
            with self._lock:
                self._disk_errors += 1
            path.unlink(missing_ok=True)
            return None
        with self._lock:
            self._disk_hits += 1
        try:
            os.utime(path)  # recently used: pruned last
        except OSError:
            pass
        return module

    def _compile(self, key: str, module_bytes: bytes | memoryview) -> wasmtime.Module:
        module = wasmtime.Module(self._engine, bytes(module_bytes))
        with self._lock:
            self._compiled += 1
        log.debug("module_compiled", sha256=key, size=len(module_bytes))
        try:
            self._store(key, module.serialize())
        except OSError as exc:
            # A read-only or full disk costs speed, not correctness.
            log.warning("module_cache_write_failed", sha256=key, error=str(exc))
        return module

    def _store(self, key: str, serialized: bytearray) -> None:
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self._dir, prefix=".tmp-", suffix=".cwasm")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(serialized)
            os.replace(tmp_name, self.path_for(key))
        except BaseException:
            os.unlink(tmp_name)
            raise
        self._prune_disk(keep=self.path_for(key))

    def _prune_disk(self, keep: Path) -> None:
        """Delete cache files, least recently used first, until the directory is
        within the disk budget; never ``keep`` (just written). Best effort: a file
        that vanished or will not go is skipped."""
        files = []
        total = 0
        with os.scandir(self._dir) as entries:
            for entry in entries:
                if not entry.name.endswith(".cwasm") or entry.name.startswith("."):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                total += st.st_size
                files.append((st.st_mtime_ns, st.st_size, entry.path))
        if total <= self._disk_budget:
            return
        for _, size, path in sorted(files):
            if path == str(keep):
                continue
            try:
                os.unlink(path)
            except OSError:
                continue
            log.info("module_cache_file_pruned", path=path, size=size)
            total -= size
            if total <= self._disk_budget:
                return


def _check_key(key: str) -> None:
    if not _SHA256_HEX.fullmatch(key):
        raise ValueError(f"sha256 must be 64 lowercase hex digits, got {key!r}")


_shared_lock = threading.Lock()
_shared: ModuleCache | None = None


def shared_module_cache() -> ModuleCache:
    """The process-wide cache over `default_cache_dir()` (created on first call)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ModuleCache()
        return _shared
