"""Filling the native stat memo (native/agentvm_native.c, "the stat memo").

Why: `ls -R` stats every entry four times (path_filestat_get, host_fs path_mode
twice, path_size) and tar five, always the same (dirfd, path); each is a Python
host call of 5 to 18 us even when the host_dir attribute cache answers it, and a
Python host call costs ~3 us before doing anything. The C versions of those four
functions answer a repeated stat from a small per-process memo and call Python
for anything else; Python fills the memo here after a stat it answered.

What is filled: an answer that is a live host_dir attribute-cache entry
(``AttrCache.watch``: the Stat object HostFs.getattr returned from the cache),
so the memo is never staler than the cache it copies, or an answer of a memory
filesystem (the Stat MemoryFs.getattr made, with its change counter's count read
before: C drops it once that filesystem's count moves on, which every write,
truncation and access-time update does). It answers until the earliest deadline
of the cache entries and remembered walks the answer came from (a second at
most), and only while the C stat epoch is the one read before the stat (bumped by
every host_dir change through the sidecar and every name/mode/mount change
elsewhere), the process's fd table is unchanged, and the process itself has
not forgotten it (``native.stats_changed_here``: its cache entry replaced or
dropped, exec setting its cwd, setuid/setgid; no other process's memo depends
on those). Errors are never filled, and neither is anything from another
filesystem (devices, /proc), a /dev/fd alias or a host_dir mount root (not cached).

The memo is keyed by what the guest passed: (fd, path bytes, follow) and the
call forms the answer is good for, because the same (fd, path) can name
different files in the WASI form (a dirfd; absolute paths refused) and the
host_fs form (fd 3 that is not a directory = the cwd, absolute paths allowed).
An answer is good for the other form only when that form resolves to the same
base directory.

Listings fill it too (``listed``): `ls -R` and tar open a directory as "dir",
list it, then stat each entry as "dir/name" from the same fd, each name once,
so the memo above never sees a name twice. When a process that stats what it
lists lists a directory it opened with path_open, what the attribute cache now
holds for each listed name (a host_dir listing put its lstat there; a memory
filesystem packs its entries' stats itself) goes to C in one
call, as the answers to "dir/name" from that fd: exactly what ``stat`` would
answer for them (``Vfs.listed_records``: "dir" walked as that stat walks it, the listing
still what the attribute cache holds, the names mounts cover left out; C packs
each answer from the listing's record as ``stat`` packs it here), under the
same epoch, deadline, form and fd-table rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from .. import native
from ..kernel import attrcache
from ..kernel.descriptions import Description
from ..kernel.dir_snapshot import DirSnapshot
from ..kernel.fstypes import Stat
from .context import PREOPEN_TAG, GuestContext
from .wasi.layouts import pack_filestat

__all__ = ["HOSTFS", "WASI", "Listing", "OpenedDirectory", "listed", "stat", "stating"]

WASI = native.MEMO_WASI
HOSTFS = native.MEMO_HOSTFS
BOTH = WASI | HOSTFS
U32 = 0xFFFFFFFF


def stat(
    ctx: GuestContext, fd: int, path_ptr: int, path_len: int, path: str, follow: bool, base: str, form: int,
    other_base: Callable[[GuestContext, int, str], str | None], size: Callable[[Stat], int],
) -> tuple[Stat, bytes | None]:
    """``ctx.kernel.stat_as`` of ``path`` from ``base``, memoized for the native
    host functions when the attribute cache answered it; also the packed WASI
    filestat when it was made for the memo (None otherwise). ``form``: the call
    form asking (WASI or HOSTFS); ``other_base(ctx, fd, path)``: the base the
    other form would use for the same (fd, path), or None when it would refuse
    them; ``size``: what host_fs path_size answers for the Stat.
    Raises: KernelError."""
    cache = attrcache.current()
    if cache is None or not cache.charged:
        return ctx.kernel.stat_as(ctx.proc, path, follow, cwd=base), None
    memo = native.stat_memo()
    epoch = memo.epoch()
    cache.watch()
    st = ctx.kernel.stat_as(ctx.proc, path, follow, cwd=base)
    answer, deadline = cache.watched()
    if st is answer:
        fs, fs_count = native.NO_FS, 0
    else:
        counted = cache.counted_answer
        if counted is None or counted[0] is not st:
            return st, None
        _, fs, fs_count = counted
    filestat = pack_filestat(st)
    forms = BOTH if other_base(ctx, fd, path) == base else form
    memo.fill(
        epoch, deadline, fd & U32, path_ptr & U32, path_len & U32, follow, forms, filestat, st.mode, size(st),
        fs, fs_count,
    )
    return st, filestat


class OpenedDirectory(NamedTuple):
    """How a process's last path_open of a directory named it (GuestContext.opened_directory)."""

    fd: int  # what path_open returned
    desc: Description
    dirfd: int  # what it was opened from, and as: the path's bytes and text
    raw: bytes
    path: str
    base: str  # the VM directory dirfd names


class Listing(NamedTuple):
    """A listing of a directory a process opened (``snapshot``: what it listed),
    not memoized yet; ``epoch``: the stat epoch read before it; ``other_base``,
    ``size``: as for ``stat``."""

    opened: OpenedDirectory
    epoch: int
    snapshot: DirSnapshot
    other_base: Callable[[GuestContext, int, str], str | None]
    size: Callable[[Stat], int]


def listed(ctx: GuestContext, listing: Listing) -> None:
    """After a listing: memoize its entries' stats at once when the program
    stats what it lists, else keep it until it shows it does (``stating``): grep
    -r and find list every directory and stat at most its subdirectories, and a
    fill costs a walk and a C call (~15 us) per listing."""
    if ctx.stats_listings:
        _fill(ctx, listing)
    else:
        ctx.pending_listing = listing
        ctx.pending_listing_stats = 0


def stating(ctx: GuestContext, dirfd: int, path: str) -> None:
    """Before Python answers a stat of ``path`` from ``dirfd``: the second stat
    of an entry of the program's pending listing memoizes it, and every later
    listing of the program at once."""
    listing = ctx.pending_listing
    if listing is None or listing.opened.dirfd != dirfd & U32:
        return
    parent, _, name = _without_dots(path).rpartition("/")
    if parent != _without_dots(listing.opened.path) or not listing.snapshot.has(name):
        return
    ctx.pending_listing_stats += 1
    if ctx.pending_listing_stats >= 2:
        ctx.pending_listing = None
        ctx.stats_listings = True
        _fill(ctx, listing)


def _without_dots(path: str) -> str:
    """``path`` without leading "./" and trailing "/" ("." alone: ""), for
    comparing a stat's directory with a listed one."""
    while path.startswith("./"):
        path = path[2:]
    path = path.rstrip("/")
    return "" if path == "." else path


def _fill(ctx: GuestContext, listing: Listing) -> None:
    """Memoize, for each listed name, what a WASI lstat of "path/name" from the
    listed directory's dirfd answers, when the attribute cache answers it: C
    takes the answers from the listing's own records (Vfs.listed_records)."""
    cache = attrcache.current()
    if cache is None or not cache.charged:
        return
    opened = listing.opened
    cache.watch()
    found = ctx.kernel.vfs.listed_records(opened.path, cwd=opened.base, cred=ctx.proc.cred)
    if found is None:
        return
    dev, records, covered, fs, fs_count = found
    deadline = cache.watched()[1]
    forms = BOTH if listing.other_base(ctx, opened.dirfd, opened.path) == opened.base else WASI
    any_fd_table = bool(opened.dirfd & PREOPEN_TAG)  # a tagged preopen: no fd table change renames it
    native.stat_memo().fill_listing(
        listing.epoch, deadline, opened.dirfd, forms, any_fd_table, opened.raw, dev, _tables(listing.size),
        [name.encode("utf-8", "surrogateescape") for name in covered], records, fs, fs_count,
    )


_TABLES: dict[Callable[[Stat], int], bytes] = {}


def _tables(size: Callable[[Stat], int]) -> bytes:
    """By S_IFMT >> 12: the WASI filetype pack_filestat gives a file of that type,
    then whether ``size`` answers -1 (unknown) for it, as avm_listing_fill takes
    them: C packs a listed entry's answers as ``stat`` would here."""
    tables = _TABLES.get(size)
    if tables is None:
        probes = [Stat(0, 0, kind << 12, 0, 0, 0, 1, 0, 0, 0) for kind in range(16)]
        tables = _TABLES[size] = bytes(pack_filestat(st)[16] for st in probes) + bytes(size(st) != 1 for st in probes)
    return tables
