# AttrCache: what one guest process just saw of host_dir nodes, kept for a moment.
#
# Why: resolving a path on a host_dir mount costs a confined openat2 and an
# fstatat per component (hostfs.py, rule 2), and guests ask about the same paths
# over and over in a burst: `ls -l` asks for a file's mode twice, then its full
# stat, then its size (four host calls, each walking the whole path again), and
# every file of a tree walk re-walks the same parent directories.  Profiled on
# `ls -R` over a 190-file project: 72 us per stat in the walk, 4 stats per entry.
#
# What is cached: the lstat result of a node (by mount and components from the
# mount root), as entry + attribute caching does in FUSE (entry_timeout and
# attr_timeout, 1 s by default) and NFS (actimeo).  Absent names are never
# cached, so a file created by anyone is seen at once.
#
# Confinement is untouched: the cache only answers "what is at these components"
# with what a confined lookup returned; every host operation (open, readdir,
# readlink, every change) still re-opens its directory chain from the mount root
# (hostfs.py rule 2).  A component that became a symlink is refused by that
# operation even when the cache still says "directory".
#
# Staleness is bounded three ways:
#  * Scope: one cache per guest process (its thread), made when the process
#    starts.  What the client changed on the host before starting a command is
#    always seen; client fs.* calls never use a cache.
#  * Generation: every change made through any HostFs of this sidecar (any VM,
#    any process, the client's fs.* calls: create, write, truncate, chmod,
#    rename, unlink...) bumps one process-wide counter, and an entry from an
#    older generation is a miss.  So a process sees its own and its
#    neighbours' changes at once.
#  * Time: an entry lives TTL_SECONDS, which bounds how late a running process
#    sees a change made on the host by someone other than this sidecar.
#
# Memory: at most MAX_ENTRIES per process (cleared when full), ENTRY_BYTES each
# (measured: the lstat result, the node, its components and the key, ~1 KiB).  A
# process's first entry reserves the whole cache from the VM's memory budget, so
# 128 processes cannot hold uncharged megabytes; when the budget cannot cover it,
# that process runs without a cache (slower, never failing).

from __future__ import annotations

import functools
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from .errors import KernelError
from .limits import MemoryBudget

__all__ = ["CACHE_BYTES", "MAX_ENTRIES", "TTL_SECONDS", "AttrCache", "bump_generation", "changes_nodes", "current", "generation", "process_cache"]

TTL_SECONDS = 1.0
MAX_ENTRIES = 512
ENTRY_BYTES = 1024
CACHE_BYTES = MAX_ENTRIES * ENTRY_BYTES

_generation = itertools.count(1)
_current_generation = 0  # the last value taken from _generation
_local = threading.local()


F = TypeVar("F", bound=Callable[..., Any])


def changes_nodes(fn: F) -> F:
    """Decorate a method that may change host nodes: cached attributes are stale
    after it, whether it succeeded or failed half-way."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            bump_generation()

    return wrapper  # type: ignore[return-value]


def bump_generation() -> None:
    """A host_dir node changed through this sidecar: every cached entry is stale.
    Called AFTER the change (see ``generation``). next() on itertools.count is
    atomic under the GIL."""
    global _current_generation
    _current_generation = next(_generation)


def generation() -> int:
    """Take this BEFORE the lstat whose result ``put`` stores: a change that lands
    between the two then leaves the entry stale instead of wrongly fresh."""
    return _current_generation


class AttrCache:
    """What a filesystem saw at (filesystem, components): an lstat result and the
    node it made of it (the filesystem decides); see the module header."""

    __slots__ = ("_budget", "_entries", "_state")

    def __init__(self, budget: MemoryBudget | None = None) -> None:
        self._entries: dict[tuple[Any, tuple[str, ...]], tuple[float, int, Any]] = {}
        self._budget = budget
        self._state = _UNCHARGED if budget is not None else _CHARGED

    def close(self) -> None:
        """Drop every entry and give the reservation back."""
        self._entries.clear()
        if self._state is _CHARGED and self._budget is not None:
            self._budget.release(CACHE_BYTES)
        self._state = _OFF

    def get(self, fs: object, parts: tuple[str, ...]) -> Any | None:
        entry = self._entries.get((fs, parts))
        if entry is None:
            return None
        deadline, generation, seen = entry
        if generation != _current_generation or time.monotonic() > deadline:
            return None
        return seen

    def put(self, fs: object, parts: tuple[str, ...], seen: Any, generation: int) -> None:
        """Keep ``seen``, taken from the host at ``generation``."""
        if self._state is not _CHARGED and not self._charge():
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[(fs, parts)] = (time.monotonic() + TTL_SECONDS, generation, seen)


    def _charge(self) -> bool:
        if self._state is _UNCHARGED:
            assert self._budget is not None
            try:
                self._budget.reserve(CACHE_BYTES)
                self._state = _CHARGED
            except KernelError:
                self._state = _OFF
        return self._state is _CHARGED


_UNCHARGED, _CHARGED, _OFF = "uncharged", "charged", "off"


def current() -> AttrCache | None:
    """The calling guest process's cache, or None (client calls, tests)."""
    return getattr(_local, "cache", None)


@contextmanager
def process_cache(budget: MemoryBudget | None = None) -> Iterator[AttrCache]:
    """Give the calling thread (one guest process) a fresh cache for the block,
    charged to ``budget`` (the VM's memory) once it holds anything."""
    _local.cache = cache = AttrCache(budget)
    try:
        yield cache
    finally:
        _local.cache = None
        cache.close()
