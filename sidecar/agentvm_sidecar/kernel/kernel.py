"""The kernel of one VM: the composition root, kept thin on purpose.

It owns the VM-wide lock and the kernel objects, each in its own module: the VFS and
mount table (vfs.py, mounts.py), filesystem accounting (limits.py). Processes, fd
tables and pipes join here as fields. Callers use the objects directly
(``kernel.vfs.read_file(...)``); this class only wires them together, builds mounts
from their descriptions, reports usage and shuts everything down.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .errors import KernelError
from .hostfs import HostFs
from .limits import FsAccounting, Limits
from .memfs import MemoryFs
from .mounts import MountInfo
from .rootfs import make_root_fs
from .vfs import Vfs

__all__ = ["Kernel", "KernelUsage"]


@dataclass(frozen=True)
class KernelUsage:
    """Resources a VM holds right now."""

    fs_bytes: int
    fs_inodes: int
    processes: int
    open_fds: int
    pipes: int


class Kernel:
    """One VM's kernel. Thread-safe: every object shares ``self.lock``."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.lock = threading.RLock()
        self.accounting = FsAccounting.from_limits(limits)
        self.vfs = Vfs(make_root_fs(self.accounting), lock=self.lock, accounting=self.accounting)
        # mount path -> (kind, host path): what the mount was made from, for reports
        self._origins: dict[str, tuple[str, str | None]] = {"/": ("memory", None)}

    def mount_memory(self, path: str) -> None:
        """Mount an empty in-memory filesystem (charged to this VM) at ``path``.

        Raises: ENOENT/ENOTDIR (mount point), EBUSY (already a mount point).
        """
        self.vfs.mount(path, MemoryFs(self.accounting, root_mode=0o755))
        self._origins[self.vfs.realpath(path)] = ("memory", None)

    def mount_host_dir(self, path: str, host_path: str, read_only: bool) -> None:
        """Mount a host directory at ``path``, confined to ``host_path``.

        Raises: ENOENT/ENOTDIR (host path or mount point), EBUSY.
        """
        fs = HostFs(host_path, read_only=read_only)
        try:
            self.vfs.mount(path, fs, read_only=read_only)
        except KernelError:
            fs.close()
            raise
        self._origins[self.vfs.realpath(path)] = ("host_dir", host_path)

    def mount_shared(self, path: str, fs: MemoryFs) -> None:
        """Mount a frozen filesystem shared between VMs (the /bin layer) read-only."""
        self.vfs.mount(path, fs, read_only=True)
        self._origins[self.vfs.realpath(path)] = ("software", None)

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
        return KernelUsage(fs_bytes=fs.bytes_used, fs_inodes=fs.inodes_used, processes=0, open_fds=0, pipes=0)

    def shutdown(self) -> None:
        """Unmount everything (deepest first), closing host resources. Idempotent."""
        with self.lock:
            for info in sorted(self.vfs.mounts(), key=lambda m: m.path.count("/"), reverse=True):
                if info.path != "/":
                    try:
                        self.vfs.unmount(info.path)
                    except KernelError:
                        pass
