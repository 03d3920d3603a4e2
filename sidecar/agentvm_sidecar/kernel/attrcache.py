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
# Walks: the cache also remembers the last few path resolutions the process
# made that found something (MAX_WALKS), because tools ask about one path
# several times in a row (tar: mode twice, size, stat, then open; `ls -l`: four
# stats per entry), and each walk costs ~10 us of Python even when every
# component is cached.  A remembered walk is used only while nothing it could
# depend on changed: no host_dir change through this sidecar (the generation
# above), no change of names, modes or mounts in any other filesystem of this
# sidecar (a second, namespace generation, bumped by MemoryFs and the mount
# table), and not past the deadline of the oldest attribute entry it was
# built from, so it is never staler than those entries would be.  Walks that
# found nothing are never remembered.  What a walk returns is only ever used to
# choose the node; host operations still re-open their chain from the mount root.
# A path not remembered goes on from its directory's remembered walk (grep -r
# and tar name each file `a/b/c/f`, after walking `a/b/c`; vfs_core.py), and
# such a walk is remembered with that directory's deadline if it is older.  The
# least recently used walk makes room for a new one, so the directory a tool
# is working through stays while its files come and go.
#
# Stat memo: a stat answered from a live entry here may be memoized in C for
# the native stat host functions (wasm/stat_memo.py), valid until the earliest
# deadline of the entries the answer came from (``watch``/``watched``) and only
# while nothing that bumps the C stat epoch happened (both generations above
# bump it) and the process has not forgotten it: any entry this cache replaces
# or drops makes the process forget its own memo (a fresh lstat may see what the
# host changed, and the memo must not answer older than that).
#
# Listings: the process's last host_dir listing also keeps its records (what the
# native lister wrote, LISTING_BYTES at most), valid while its generation is
# current and its entries live: the stat memo packs its answers for the listed
# names from them in C (``keep_listing``/``listing``; wasm/stat_memo.py).
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
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from .. import native
from .errors import KernelError
from .limits import MemoryBudget

__all__ = [
    "CACHE_BYTES", "MAX_ENTRIES", "MAX_WALKS", "TTL_SECONDS", "AttrCache", "bump_generation", "bump_namespace",
    "changes_names", "changes_nodes", "current", "generation", "process_cache",
]

TTL_SECONDS = 1.0
MAX_ENTRIES = 512
ENTRY_BYTES = 1024
MAX_WALKS = 32
WALK_BYTES = 2048  # key, Resolved and its Locs for a path ~8 deep (measured ~1.5 KiB)
LISTING_BYTES = 65536  # the last listing's records (keep_listing): 128 names of up to 255 bytes fit
MEMO_BYTES = 87312  # the process's C stat memo and listings (native avm_memo_bytes(), checked by a test)
CACHE_BYTES = MAX_ENTRIES * ENTRY_BYTES + MAX_WALKS * WALK_BYTES + MEMO_BYTES + LISTING_BYTES

_generation = itertools.count(1)
_current_generation = 0  # the last value taken from _generation
_namespace = itertools.count(1)
_current_namespace = 0  # the last value taken from _namespace
_local = threading.local()


F = TypeVar("F", bound=Callable[..., Any])


def _bumps_after(fn: F, bump: Callable[[], None]) -> F:
    """``fn`` calling ``bump`` after it, whether it succeeded or failed half-way."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            bump()

    return wrapper  # type: ignore[return-value]


def changes_nodes(fn: F) -> F:
    """Decorate a method that may change host nodes: cached attributes are stale
    after it, whether it succeeded or failed half-way."""
    return _bumps_after(fn, bump_generation)


def changes_names(fn: F) -> F:
    """Decorate a method of a filesystem other than host_dir that may change
    names, modes or mounts: remembered walks are stale after it."""
    return _bumps_after(fn, bump_namespace)


def bump_namespace() -> None:
    """Names, modes or mounts changed outside host_dir: remembered walks are stale."""
    global _current_namespace
    _current_namespace = next(_namespace)
    native.stat_changed()


def bump_generation() -> None:
    """A host_dir node changed through this sidecar: every cached entry is stale.
    Called AFTER the change (see ``generation``). next() on itertools.count is
    atomic under the GIL."""
    global _current_generation
    _current_generation = next(_generation)
    native.stat_changed()


def generation() -> int:
    """Take this BEFORE the lstat whose result ``put`` stores: a change that lands
    between the two then leaves the entry stale instead of wrongly fresh."""
    return _current_generation


class AttrCache:
    """What a filesystem saw at (filesystem, components): an lstat result and the
    node it made of it (the filesystem decides); see the module header."""

    __slots__ = (
        "_budget", "_entries", "_listed", "_listing", "_oldest", "_state", "_walks", "answer", "counted_answer",
        "files_seen",
    )

    def __init__(self, budget: MemoryBudget | None = None) -> None:
        self._entries: dict[tuple[Any, tuple[str, ...]], tuple[float, int, Any]] = {}
        self._walks: dict[Any, tuple[float, int, int, bool | None, Any]] = {}
        self._oldest = 0.0  # the earliest deadline of the entries the walk in progress used
        self.answer: Any = None  # the cached Stat the last getattr answered (``watch``)
        # (Stat, counter, count) the last getattr of a filesystem that counts its
        # changes answered (memfs.py; the stat memo's rule for those)
        self.counted_answer: tuple[Any, int, int] | None = None
        self._budget = budget
        self._state = _UNCHARGED if budget is not None else _CHARGED
        self._listed = False  # the process listed a host_dir directory
        self._listing: tuple[Any, tuple[str, ...], bytes, int, float] | None = None  # keep_listing
        self.files_seen = False  # a lookup of the process found a host_dir non-directory

    def stat_listed_files(self) -> bool:
        """Whether a listing should stat its files (and other non-directories)
        into the cache, as it always stats its subdirectories.

        Yes for the process's first listing, and for every listing once it has
        looked up a file: ls, tar and grep -r stat what they list. No for a
        process that only lists and enters directories: find (`-type f` reads
        the entry type the listing gives) would pay a stat per file for
        nothing. Either way only what the cache holds differs; a lookup that
        finds nothing cached asks the host.
        """
        first = not self._listed
        self._listed = True
        return first or self.files_seen

    def keep_listing(self, fs: object, parts: tuple[str, ...], records: bytes, generation: int, deadline: float) -> None:
        """Keep the records of the process's last listing (the directory at
        ``parts`` of ``fs``, listed at ``generation``; its entries went into the
        cache, each live until ``deadline`` at least): the stat memo takes the
        answers to its names from them (stat_memo.py). At most LISTING_BYTES."""
        if len(records) <= LISTING_BYTES and (self._state is _CHARGED or self._charge()):
            self._listing = (fs, parts, records, generation, deadline)

    def listing(self, fs: object, parts: tuple[str, ...]) -> bytes | None:
        """The records ``keep_listing`` kept, if they are of that directory and
        nothing changed through this sidecar since (as ``get`` decides)."""
        kept = self._listing
        if kept is None or kept[0] is not fs or kept[1] != parts:
            return None
        _, _, records, generation, deadline = kept
        if generation != _current_generation or time.monotonic() > deadline:
            return None
        if deadline < self._oldest:
            self._oldest = deadline
        return records

    def close(self) -> None:
        """Drop every entry and give the reservation back."""
        self._listing = None
        self._entries.clear()
        self._walks.clear()
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
        if deadline < self._oldest:
            self._oldest = deadline
        return seen

    def walked(self, key: Any, follow: bool) -> Any | None:
        """What the walk ``key`` (following a final symlink or not) found, if it
        was remembered and nothing it depends on changed since (module header)."""
        entry = self._walks.get(key)
        if entry is None:
            return None
        deadline, generation, namespace, followed, found = entry
        if generation != _current_generation or namespace != _current_namespace or time.monotonic() > deadline:
            return None
        if followed is not None and followed is not follow:
            return None
        if deadline < self._oldest:  # a walk that goes on from this one (vfs_core) is no fresher
            self._oldest = deadline
        del self._walks[key]  # the most recently used are kept (remember_walk)
        self._walks[key] = entry
        return found

    def watch(self) -> None:
        """Start watching one lookup: ``watched`` then tells which cached answer
        it returned and until when everything it came from stays valid."""
        self._oldest = time.monotonic() + TTL_SECONDS
        self.answer = self.counted_answer = None

    def watched(self) -> tuple[Any, float]:
        """(the cached Stat the watched lookup's getattr answered or None, the
        earliest deadline of the entries and walks it used)."""
        return self.answer, self._oldest

    @property
    def charged(self) -> bool:
        """The reservation (which covers the C stat memo) is held."""
        return self._state is _CHARGED

    def begin_walk(self) -> tuple[int, int]:
        """Call before a walk whose result may be remembered; pass what it
        returns to ``remember_walk``."""
        self._oldest = time.monotonic() + TTL_SECONDS
        return _current_generation, _current_namespace

    def remember_walk(self, key: Any, found: Any, began: tuple[int, int], follow: bool | None) -> None:
        """Keep what walk ``key`` found (``began``: what ``begin_walk`` returned;
        ``follow``: the walks it answers, None for both)."""
        if self._state is not _CHARGED and not self._charge():
            return
        if len(self._walks) >= MAX_WALKS and key not in self._walks:
            del self._walks[next(iter(self._walks))]  # the least recently used
        self._walks[key] = (self._oldest, began[0], began[1], follow, found)

    def put(self, fs: object, parts: tuple[str, ...], seen: Any, generation: int) -> None:
        """Keep ``seen``, taken from the host at ``generation``."""
        self.put_all(fs, ((parts, seen),), generation)

    def put_all(self, fs: object, seen: Iterable[tuple[tuple[str, ...], Any]], generation: int) -> None:
        """``put`` each (parts, seen) of ``seen`` (a listing's entries)."""
        if self._state is not _CHARGED and not self._charge():
            return
        entries = self._entries
        deadline = time.monotonic() + TTL_SECONDS
        for parts, one in seen:
            key = (fs, parts)
            if len(entries) >= MAX_ENTRIES:
                entries.clear()
                native.stats_changed_here()  # a memoized answer may rest on a dropped entry
            elif key in entries:
                native.stats_changed_here()  # the fresh lstat may differ from what was memoized
            entries[key] = (deadline, generation, one)


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
