"""VM lifecycle: configuration, limits, mounts and the ``vm.*`` methods."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from ._base import Base, Empty
from ._net import ListenConfig, NetworkPolicy
from ._tools import SecretConfig

__all__ = [
    "HostDirMount",
    "MemoryMount",
    "MountConfig",
    "MountInfo",
    "VmConfig",
    "VmCreateParams",
    "VmCreateResult",
    "VmDisposeParams",
    "VmDisposeResult",
    "VmInfo",
    "VmInfoParams",
    "VmInfoResult",
    "VmLimits",
    "VmListParams",
    "VmListResult",
    "VmSummary",
    "VmUsage",
]

# POSIX paths cannot contain NUL; rejecting it in the type makes it invalid_params.
VmPath = Annotated[str, Meta(min_length=1, max_length=4096, pattern="^[^\\x00]*$", description="A POSIX path inside the VM (relative paths resolve against /).")]
AbsVmPath = Annotated[str, Meta(pattern="^/[^\\x00]*$", max_length=4096, description="An absolute POSIX path inside the VM.")]
VmId = Annotated[str, Meta(min_length=1, max_length=64, description="A VM handle returned by vm.create.")]
# Strings that reach a guest as C strings (argv, environment, symlink targets).
CString = Annotated[str, Meta(pattern="^[^\x00]*$", description="A string without NUL bytes.")]
EnvName = Annotated[str, Meta(pattern="^[^=\x00]+$", description="An environment variable name: no '=' or NUL.")]
Environment = dict[EnvName, CString]

_MiB = 1024 * 1024
Positive = Meta(ge=1)


class VmLimits(Base, omit_defaults=False):
    """Resource limits of one VM. Every limit is bounded by default; raise them here.
    Always encoded in full (no omitted defaults), so readers see the numbers in force.

    Exceeding one gives a clear error: ENOSPC for the filesystem, EMFILE/ENFILE for
    descriptors, EAGAIN for processes and pipes, E2BIG for argv/env, EFBIG for a too
    large program, exit code 124 for CPU time, a failed allocation (ENOMEM inside the
    guest) for memory, exit code 126 for a program too large to compile.
    """

    memory_bytes_per_process: Annotated[int, Meta(ge=64 * 1024, le=4096 * _MiB)] = 128 * _MiB
    memory_bytes_per_vm: Annotated[int, Meta(ge=64 * 1024)] = 512 * _MiB
    """Linear memory of all the VM's processes together: growing past it fails
    (``memory.grow`` gives -1, so malloc fails inside the guest) and a process whose
    initial memory does not fit does not start (EAGAIN)."""
    dir_snapshot_bytes_per_vm: Annotated[int, Meta(ge=64 * 1024)] = 32 * _MiB
    """Sidecar memory for the listings of the VM's open directory fds together
    (about 160 bytes per entry); reading a directory past it fails with ENOMEM."""
    cpu_time_ms_per_process: Annotated[int, Positive] = 60_000
    max_processes: Annotated[int, Positive] = 128
    max_fds_per_process: Annotated[int, Meta(ge=3)] = 256
    max_fds_per_vm: Annotated[int, Meta(ge=3)] = 4096
    max_pipes: Annotated[int, Positive] = 256
    pipe_buffer_bytes: Annotated[int, Meta(ge=512)] = 256 * 1024
    """Bytes a pipe holds before writers block while its reader keeps reading."""
    pipe_max_buffer_bytes: Annotated[int, Meta(ge=512)] = 16 * _MiB
    """Hard bound of a pipe whose reader stalls (brush fills ``$(cmd)`` pipes before
    reading them, so a stalled pipe may grow up to this before writers block)."""
    pipe_buffer_budget_bytes: Annotated[int, Meta(ge=0)] = 64 * _MiB
    """What all the VM's pipes together may hold beyond ``pipe_buffer_bytes`` each;
    writers into stalled pipes wait once it is spent."""
    max_argv_env_bytes: Annotated[int, Meta(ge=1024)] = 256 * 1024
    max_program_bytes: Annotated[int, Meta(ge=1024)] = 64 * _MiB
    """Largest wasm module a process may run (EFBIG beyond): bounds the memory and
    the compile time a guest-built program can cost."""
    max_sockets: Annotated[int, Positive] = 128
    """Sockets the VM may hold: every socket, queued or accepted connection and
    connection from the host counts one (ENFILE beyond)."""
    socket_buffer_bytes: Annotated[int, Meta(ge=1024, le=64 * _MiB)] = 256 * 1024
    """Bytes one direction of a VM-loopback connection buffers before writers block
    (EAGAIN when non-blocking): a peer that never reads costs at most twice this."""
    compile_memory_bytes: Annotated[int, Meta(ge=16 * _MiB, le=16384 * _MiB)] = 512 * _MiB
    """Memory compiling one guest-built program may use. Such a program is compiled
    in a helper process, in its process's time: the compile counts against the CPU
    time limit (exit code 124), ends on kill or exec timeout, and beyond this much
    memory the process exits with code 126. The pinned commands in /bin are
    compiled once per machine and cost nothing here."""
    fs_max_bytes: Annotated[int, Positive] = 256 * _MiB
    fs_max_inodes: Annotated[int, Positive] = 65536


class MemoryMount(Base, tag="memory", tag_field="type"):
    """An empty in-memory filesystem mounted at ``path``; counts against the VM's fs limits."""

    path: AbsVmPath


class HostDirMount(Base, tag="host_dir", tag_field="type"):
    """A host directory mounted at ``path``. The guest is confined to ``host_path``:
    ``..`` and symlinks are resolved inside the VM and never reach outside it.

    ``host_path`` must be absolute and free of symlinks (ELOOP otherwise: a guest
    of an earlier VM could have planted one); pass ``os.path.realpath(p)`` if you
    trust every link in it. The mount shows one host filesystem: directories where
    another filesystem is mounted (``/proc`` below ``/``) cannot be entered (EXDEV).
    Files the guest creates keep only their rwx mode bits on the host. Symlinks it
    creates are real host symlinks holding the guest's target text: inside the VM
    they resolve in the VM, but a host program following one later resolves that
    text on the host, so treat a writable mount's symlinks as untrusted input.

    What the VM adds to a writable mount is charged to the mount's own quota,
    ``max_bytes`` and ``max_inodes`` (ENOSPC beyond), which default to the VM's
    ``fs_max_bytes``/``fs_max_inodes`` and are counted apart from its in-memory
    filesystems: file growth by logical size (a sparse file costs its size), one
    inode per file, directory, symlink or hard link created. Deleting or shrinking
    gives back what was charged, never more, and what the directory held before the
    mount is not counted (counting a host tree can be unbounded work)."""

    path: AbsVmPath
    host_path: Annotated[str, Meta(pattern="^/[^\x00]*$", description="Absolute host directory path.")]
    read_only: bool = False
    max_bytes: Annotated[int, Positive] | None = None
    max_inodes: Annotated[int, Positive] | None = None


MountConfig = MemoryMount | HostDirMount


class VmConfig(Base):
    """Everything a VM is created with."""

    mounts: list[MountConfig] = []
    env: Environment = {}
    cwd: AbsVmPath = "/home/user"
    limits: VmLimits = msgspec.field(default_factory=VmLimits)
    network: NetworkPolicy = msgspec.field(default_factory=NetworkPolicy)
    """Egress policy (default: deny everything); replace it live with vm.setNetworkPolicy."""
    listen: ListenConfig = msgspec.field(default_factory=ListenConfig)
    software: bool = True
    """Mount the pinned command packages read-only at /bin."""
    secrets: Annotated[list[SecretConfig], Meta(max_length=64)] = []
    """Credentials the VM uses without holding them (see SecretConfig)."""


class VmCreateParams(Base):
    """Create a VM."""

    config: VmConfig = msgspec.field(default_factory=VmConfig)


class VmCreateResult(Base):
    """The new VM's handle."""

    vm_id: VmId


class VmDisposeParams(Base):
    """Dispose a VM: kill its processes, close its files, unmount everything."""

    vm_id: VmId


VmDisposeResult = Empty


class VmListParams(Base):
    """List live VMs."""


class VmSummary(Base):
    """One live VM."""

    vm_id: VmId
    created_at_ms: int
    processes: int


class VmListResult(Base):
    """Every live VM of this sidecar."""

    vms: list[VmSummary]


class VmInfoParams(Base):
    """Describe one VM and its resource usage."""

    vm_id: VmId


class VmUsage(Base):
    """Resources a VM holds right now."""

    fs_bytes: int
    fs_inodes: int
    processes: int
    open_fds: int
    pipes: int
    memory_bytes: int
    """Linear memory of all the VM's processes (what ``memoryBytesPerVm`` bounds)."""


class MountInfo(Base):
    """One mounted filesystem as the VM sees it: ``memory`` (in-memory, charged to
    the VM), ``host_dir``, ``software`` (the shared read-only command layer) or
    ``devices`` (``/dev``)."""

    path: AbsVmPath
    type: Literal["memory", "host_dir", "software", "devices"]
    read_only: bool
    host_path: str | None = None


class VmInfo(Base):
    """A VM's state: identity, resource usage, limits and mounts."""

    vm_id: VmId
    created_at_ms: int
    usage: VmUsage
    limits: VmLimits
    mounts: list[MountInfo]


class VmInfoResult(Base):
    """The VM's state."""

    info: VmInfo
