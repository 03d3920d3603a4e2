"""The kernel of one VM: the composition root, kept thin on purpose.

It owns the VM-wide lock and the kernel objects, each in its own module: the VFS and
mount table (vfs.py, mounts.py), filesystem accounting (limits.py), the process table
(process.py), the VM-wide fd budget (fdtable.py), pipes (pipes.py,
descriptions.py) and the socket table (../net/table.py). Callers use the objects directly
(``kernel.vfs.read_file(...)``); this class only wires them together, builds mounts
from their descriptions, reports usage and shuts everything down.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ..net.table import SocketTable
from .descriptions import Description, FileDescription, PipeReader, PipeWriter, pipe_pair
from .devfs import DevFs
from .errors import KernelError
from .fdtable import FdBudget, FdTable
from .fstypes import FileKind, OpenFlags, Stat
from .hostfs import HostFs
from .limits import FsAccounting, Limits, MemoryBudget
from .memfs import MemoryFs
from .mounts import MountInfo
from .pipes import PipeBudget
from .process import ExitStatus, Process, ProcessState, ProcessTable
from .rootfs import make_root_fs
from .vfs import Vfs

__all__ = ["SHUTDOWN_GRACE_SECONDS", "Kernel", "KernelUsage"]

# How long a disposed VM's processes get, all together, to notice their SIGKILL.
SHUTDOWN_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class KernelUsage:
    """Resources a VM holds right now."""

    fs_bytes: int
    fs_inodes: int
    processes: int
    open_fds: int
    pipes: int
    memory_bytes: int  # linear memory of all processes


class Kernel:
    """One VM's kernel. Thread-safe: every object shares ``self.lock``."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.lock = threading.RLock()
        self.accounting = FsAccounting.from_limits(limits)
        self.dir_snapshots = MemoryBudget(limits.dir_snapshot_bytes_per_vm, "directory listing")
        # linear memory of all processes together, charged by wasm/memory_budget.py
        self.guest_memory = MemoryBudget(limits.memory_bytes_per_vm, "VM memory")
        self.vfs = Vfs(
            make_root_fs(self.accounting), lock=self.lock, accounting=self.accounting, dir_snapshots=self.dir_snapshots
        )
        self.vfs.mount("/dev", _DEVFS)
        self.processes = ProcessTable(limits.max_processes)
        self.fd_budget = FdBudget(limits.max_fds_per_vm)
        self._pipes = 0
        self._pipes_lock = threading.Lock()
        self.pipe_budget = PipeBudget(limits.pipe_buffer_budget_bytes)
        self.sockets = SocketTable(limits.max_sockets, limits.socket_buffer_bytes)
        # inode -> (sha256, module bytes) of the shared /bin layer, see mount_shared
        self._layer: tuple[int, dict[int, tuple[str, memoryview]]] | None = None
        # mount path -> (kind, host path): what the mount was made from, for reports
        self._origins: dict[str, tuple[str, str | None]] = {"/": ("memory", None), "/dev": ("devices", None)}

    def mount_memory(self, path: str) -> None:
        """Mount an empty in-memory filesystem (charged to this VM) at ``path``.

        Raises: ENOENT/ENOTDIR (mount point), EBUSY (already a mount point).
        """
        self.vfs.mount(path, MemoryFs(self.accounting, root_mode=0o755))
        self._origins[self.vfs.realpath(path)] = ("memory", None)

    def mount_host_dir(
        self,
        path: str,
        host_path: str,
        read_only: bool,
        max_bytes: int | None = None,
        max_inodes: int | None = None,
    ) -> None:
        """Mount a host directory at ``path``, confined to ``host_path``. What the
        guest adds there is charged to the mount's own quota: ``max_bytes`` and
        ``max_inodes``, by default the VM's filesystem limits (counted apart from
        its in-memory filesystems).

        Raises: ENOENT/ENOTDIR (host path or mount point), EBUSY.
        """
        quota = FsAccounting(
            self.limits.fs_max_bytes if max_bytes is None else max_bytes,
            self.limits.fs_max_inodes if max_inodes is None else max_inodes,
        )
        try:
            fs = HostFs(host_path, read_only=read_only, accounting=quota, vm_lock=self.lock)
        except KernelError as exc:
            raise KernelError(exc.errno, f"host_dir mount: host path {host_path!r}: {exc.message}", path) from None
        try:
            self.vfs.mount(path, fs, read_only=read_only)
        except KernelError:
            fs.close()
            raise
        self._origins[self.vfs.realpath(path)] = ("host_dir", host_path)

    def mount_layer(self, path: str, fs: MemoryFs, modules: dict[int, tuple[str, memoryview]]) -> None:
        """Mount the frozen command layer shared between VMs read-only at ``path``;
        ``modules`` maps its inodes to (sha256, wasm bytes) for :meth:`layer_module`."""
        self.vfs.mount(path, fs, read_only=True)
        self._origins[self.vfs.realpath(path)] = ("software", None)
        self._layer = (fs.dev, modules)

    def layer_module(self, st: Stat) -> tuple[str, memoryview] | None:
        """(sha256, bytes) when the file of stat ``st`` is a command of the layer."""
        if self._layer is None:
            return None
        dev, modules = self._layer
        return modules.get(st.ino) if st.dev == dev else None

    # -- what a process opens and stats by path ------------------------------------
    def open_as(
        self, proc: Process, path: str, flags: OpenFlags, mode: int = 0o666, *, cwd: str = "/"
    ) -> tuple[Description, bool]:
        """Open ``path`` as ``proc`` would: with its credentials, and with /dev/fd/N
        (and /dev/std*) naming ``proc``'s own fd N. Returns (description, is_new):
        an fd alias shares the existing description, whose flags the caller must
        leave alone. Raises: KernelError (EBADF for an alias of a closed fd,
        EACCES for an alias opened in a direction the fd does not allow).
        """
        handle = self.vfs.open(path, flags, mode, cwd=cwd, cred=proc.cred)
        # fd aliases are character devices: regular files (nearly every open) need no stat
        n = _DEVFS.fd_alias(handle.stat()) if handle.kind is FileKind.CHAR_DEVICE else None
        if n is None:
            return FileDescription(handle), True
        handle.close()
        shared = proc.fds.get(n)
        if (flags & OpenFlags.READ and not shared.readable) or (flags & OpenFlags.WRITE and not shared.writable):
            raise KernelError.eacces(path=path)
        return shared, False

    def stat_as(self, proc: Process, path: str, follow: bool = True, *, cwd: str = "/") -> Stat:
        """stat/lstat ``path`` as ``proc``: a followed /dev/fd/N is its fd N's file."""
        st = self.vfs.stat(path, follow, cwd=cwd, cred=proc.cred)
        n = _DEVFS.fd_alias(st) if follow else None
        return st if n is None else proc.fds.get(n).stat()

    # -- descriptors ---------------------------------------------------------------
    def new_fd_table(self) -> FdTable:
        """An empty fd table charged to this VM's fd budget."""
        return FdTable(self.limits.max_fds_per_process, self.fd_budget)

    def make_pipe(self) -> tuple[PipeReader, PipeWriter]:
        """A new pipe's ends (not yet in any fd table).

        Raises: ENFILE when the VM holds ``max_pipes`` pipes.
        """
        with self._pipes_lock:
            if self._pipes >= self.limits.max_pipes:
                raise KernelError.enfile(message="pipe limit reached")
            self._pipes += 1
        reader, writer = pipe_pair(self.limits.pipe_buffer_bytes, self.limits.pipe_max_buffer_bytes, self.pipe_budget)
        reader.pipe.on_destroyed = self._pipe_destroyed
        return reader, writer

    def _pipe_destroyed(self) -> None:
        with self._pipes_lock:
            self._pipes -= 1

    def mounts(self) -> list[tuple[MountInfo, str, str | None]]:
        """Every mount with its kind (memory, host_dir, software) and host path."""
        return [(m, *self._origins.get(m.path, ("memory", None))) for m in self.vfs.mounts()]

    def remove(self, path: str, recursive: bool) -> None:
        """Delete a file, symlink or empty directory, or with ``recursive`` a whole tree.

        Raises: ENOENT, ENOTEMPTY, EROFS, EBUSY (a mount point inside the tree).
        """
        if recursive:
            self.vfs.remove_tree(path)
        elif self.vfs.lstat(path).is_dir:
            self.vfs.rmdir(path)
        else:
            self.vfs.unlink(path)

    def usage(self) -> KernelUsage:
        fs = self.accounting.usage()
        running = sum(1 for p in self.processes.all() if p.state is ProcessState.RUNNING)
        return KernelUsage(
            fs_bytes=fs.bytes_used, fs_inodes=fs.inodes_used, processes=running,
            open_fds=self.fd_budget.used, pipes=self._pipes, memory_bytes=self.guest_memory.used,
        )

    def shutdown(self) -> None:
        """Kill every process at once (no new one can start), wait for them all
        with one overall deadline, then unmount everything (deepest first),
        closing host resources. Idempotent."""
        for proc in self.processes.shutdown(timeout=SHUTDOWN_GRACE_SECONDS):
            # A guest that ignores the kill (stuck in a non-interruptible host
            # call) is abandoned; its fds are closed so nothing else blocks on it.
            self.processes.exit(proc, ExitStatus(0, 9))
        with self.lock:
            self._unmount_all()

    def shutdown_nowait(self) -> bool:
        """:meth:`shutdown` when it can finish without waiting: no process runs,
        nobody holds the VM lock and no host_dir mount needs closing (host
        resources are closed off the caller's thread). False when it cannot;
        :meth:`shutdown` then does what is left."""
        if any(kind == "host_dir" for kind, _ in self._origins.values()):
            return False
        if not self.processes.close_if_idle() or not self.lock.acquire(blocking=False):
            return False
        try:
            self._unmount_all()
        finally:
            self.lock.release()
        return True

    def _unmount_all(self) -> None:
        """Unmount everything but /, deepest first (under the VM lock)."""
        for info in sorted(self.vfs.mounts(), key=lambda m: m.path.count("/"), reverse=True):
            if info.path != "/":
                try:
                    self.vfs.unmount(info.path)
                except KernelError:
                    pass


# /dev has no state, so one instance serves every VM.
_DEVFS = DevFs()
