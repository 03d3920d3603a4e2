# Per-process file descriptor tables.
#
# An fd is a number in one process's table naming an open file description
# (descriptions.py) plus one per-fd flag, FD_CLOEXEC.  Rules (POSIX):
#  * new fds take the lowest free number (>= a minimum for F_DUPFD-style calls);
#  * dup/dup2 share the description (offset, status flags), never the cloexec flag;
#  * a spawned child starts with a copy of the parent's whole table, then drops
#    every FD_CLOEXEC entry after its file actions ran.
#
# Limits, checked before the table changes: `max_fds` per process gives EMFILE;
# the VM-wide `FdBudget` gives ENFILE (the agent-os split).
#
# Each table keeps a C mirror of its fds (`native`, see native/__init__.py) for
# the native fd_read/fd_write/fd_fdstat_get: every change of an fd goes through install,
# install_at or close, which update the mirror under the table lock, before a
# replaced or closed description is released.

from __future__ import annotations

import threading
from dataclasses import dataclass

from ..native import FdMirror
from .descriptions import Description
from .errors import KernelError

__all__ = ["FdBudget", "FdEntry", "FdTable"]


class FdBudget:
    """VM-wide count of open fds (all processes). Thread-safe."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._used = 0
        self._lock = threading.Lock()

    def take(self) -> None:
        """Raises: ENFILE when the VM is at its limit."""
        with self._lock:
            if self._used >= self.limit:
                raise KernelError.enfile()
            self._used += 1

    def give(self) -> None:
        with self._lock:
            self._used -= 1

    @property
    def used(self) -> int:
        return self._used


@dataclass
class FdEntry:
    description: Description
    cloexec: bool = False


class FdTable:
    """One process's fds. Thread-safe (a process's threads and its spawner share it)."""

    def __init__(self, max_fds: int, budget: FdBudget) -> None:
        self.max_fds = max_fds
        self._budget = budget
        self._fds: dict[int, FdEntry] = {}
        self._lock = threading.Lock()
        self.native = FdMirror()

    def __len__(self) -> int:
        return len(self._fds)

    def get(self, fd: int) -> Description:
        """Raises: EBADF."""
        entry = self._fds.get(fd)
        if entry is None:
            raise KernelError.ebadf(fd)
        return entry.description

    def lookup(self, fd: int) -> Description | None:
        """The description of ``fd``, or None: for hot paths that must not build an
        exception per call (host_net.net_send/net_recv run before every read/write)."""
        entry = self._fds.get(fd)
        return None if entry is None else entry.description

    def entry(self, fd: int) -> FdEntry:
        """Raises: EBADF."""
        entry = self._fds.get(fd)
        if entry is None:
            raise KernelError.ebadf(fd)
        return entry

    def fds(self) -> list[int]:
        with self._lock:
            return sorted(self._fds)

    def install(self, description: Description, *, lowest: int = 0, cloexec: bool = False) -> int:
        """Add ``description`` at the lowest free fd >= ``lowest``; retains it.

        Raises: EMFILE (process limit), ENFILE (VM limit).
        """
        with self._lock:
            fd = lowest
            while fd in self._fds:
                fd += 1
            if fd >= self.max_fds:
                raise KernelError.emfile()
            self._budget.take()
            description.retain()
            self._fds[fd] = FdEntry(description, cloexec)
            self.native.set(fd, description.native)
            return fd

    def install_at(self, fd: int, description: Description, *, cloexec: bool = False) -> None:
        """Put ``description`` at exactly ``fd``, closing what was there (dup2).

        Raises: EBADF (fd out of range), ENFILE.
        """
        if not 0 <= fd < self.max_fds:
            raise KernelError.ebadf(fd)
        with self._lock:
            old = self._fds.get(fd)
            if old is None:
                self._budget.take()
            description.retain()
            self._fds[fd] = FdEntry(description, cloexec)
            self.native.set(fd, description.native)
        if old is not None:
            old.description.release()

    def dup(self, fd: int, *, lowest: int = 0, cloexec: bool = False) -> int:
        """Raises: EBADF, EMFILE, ENFILE."""
        return self.install(self.get(fd), lowest=lowest, cloexec=cloexec)

    def dup2(self, old: int, new: int) -> None:
        """Raises: EBADF."""
        description = self.get(old)
        if old == new:
            return
        self.install_at(new, description)

    def set_cloexec(self, fd: int, cloexec: bool) -> None:
        """Raises: EBADF."""
        self.entry(fd).cloexec = cloexec

    def close(self, fd: int) -> None:
        """Raises: EBADF."""
        with self._lock:
            entry = self._fds.pop(fd, None)
            if entry is not None:
                self.native.set(fd, None)
        if entry is None:
            raise KernelError.ebadf(fd)
        self._budget.give()
        entry.description.release()

    def renumber(self, old: int, new: int) -> None:
        """Move ``old`` onto ``new`` (closing ``new``); WASI fd_renumber. Raises: EBADF."""
        entry = self.entry(old)
        self.get(new)
        self.install_at(new, entry.description, cloexec=entry.cloexec)
        self.close(old)

    def copy(self) -> FdTable:
        """A child's table: every fd, same descriptions and flags (before file actions).

        Raises: ENFILE (the VM cannot hold the copies); nothing is leaked then.
        """
        child = FdTable(self.max_fds, self._budget)
        with self._lock:
            entries = list(self._fds.items())
        try:
            for fd, entry in entries:
                child.install_at(fd, entry.description, cloexec=entry.cloexec)
        except KernelError:
            child.close_all()
            raise
        return child

    def close_cloexec(self) -> None:
        for fd in [fd for fd, e in list(self._fds.items()) if e.cloexec]:
            self.close(fd)

    def close_from(self, lowest: int) -> None:
        for fd in [fd for fd in list(self._fds) if fd >= lowest]:
            self.close(fd)

    def close_all(self) -> None:
        self.close_from(0)
