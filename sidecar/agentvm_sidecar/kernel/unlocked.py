# HostSections: host reads done without the VM lock, and an fd that outlives them.
#
# Why: every VFS operation holds the VM lock (vfs.py `_op`), and a host_dir
# operation spends most of its time in host syscalls (openat2, fstatat, open,
# getdents), each of which releases the GIL.  With the VM lock held across them,
# the other guest threads of the VM queue on that lock, and every hand-off costs
# two context switches: 10 concurrent `grep -r` in one VM ran 1.6x slower than
# the same 10 one after another (profile: FileHandle.close and Vfs._op waiting
# for the lock, ~20% of samples), while in 10 VMs they ran 0.8x.
#
# So HostFs runs its READ-ONLY host syscalls (lookup, stat, readdir, readlink,
# opening a file) in a `section()`: the VM lock is released (fully, whatever its
# recursion depth, as threading.Condition.wait does) and re-taken after.  That is
# safe because those syscalls touch no VM state: they act on host fds relative
# to the mount's root fd, confined as hostfs.py rule 2 says, and their result is
# what the host said at some instant during the operation -- exactly what a
# concurrent change on the host can already make it.  Changes (create, write,
# rename, quota accounting...) keep the VM lock throughout.
#
# The one hazard is the root fd: unmount closes it, and a section still using
# it would then resolve names relative to whatever the fd number is reused for.
# So `close_fd` defers the close until the last section has left.
#
# A section must hold no lock taken after the VM lock (it would deadlock against
# a thread that takes the VM lock and then that lock); HostFs sections hold none.

from __future__ import annotations

import os
import threading
from contextlib import nullcontext
from typing import Any

__all__ = ["HostSections"]


class HostSections:
    """In-flight host sections of one HostFs, and the lock they step out of."""

    __slots__ = ("_deferred_fd", "_guard", "_inflight", "_vm_lock")

    def __init__(self, vm_lock: Any | None) -> None:
        self._vm_lock = vm_lock  # an RLock, or None: sections then keep whatever the caller holds
        self._guard = threading.Lock()
        self._inflight = 0
        self._deferred_fd: int | None = None

    def section(self) -> _Section | nullcontext[None]:
        """Run the block without the VM lock when the calling thread holds it.
        (A class, not a generator: every host_dir lookup and open enters one.)"""
        lock = self._vm_lock
        if lock is None or not lock._is_owned():
            return _NO_SECTION
        return _Section(self, lock)

    def _leave(self, lock: Any) -> Any:
        with self._guard:
            self._inflight += 1
        return lock._release_save()

    def _return(self, lock: Any, state: Any) -> None:
        lock._acquire_restore(state)
        with self._guard:
            self._inflight -= 1
            fd = self._deferred_fd if not self._inflight else None
            if fd is not None:
                self._deferred_fd = None
        if fd is not None:
            os.close(fd)

    def close_fd(self, fd: int) -> None:
        """Close ``fd`` now, or when the last section in flight leaves."""
        with self._guard:
            if self._inflight:
                self._deferred_fd = fd
                return
        os.close(fd)


class _Section:
    """One host section: the VM lock released on entry, re-taken on exit."""

    __slots__ = ("_lock", "_sections", "_state")

    def __init__(self, sections: HostSections, lock: Any) -> None:
        self._sections = sections
        self._lock = lock
        self._state: Any = None

    def __enter__(self) -> None:
        self._state = self._sections._leave(self._lock)

    def __exit__(self, *exc: object) -> None:
        self._sections._return(self._lock, self._state)


_NO_SECTION: nullcontext[None] = nullcontext()
