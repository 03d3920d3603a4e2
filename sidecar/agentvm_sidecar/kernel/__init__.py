"""The agentvm kernel: per-VM VFS, mounts, filesystems, limits and errors.

Plain synchronous, thread-safe classes (no trio, no JSON).  See the header
comment of each module for its design; vfs.py is the entry point.
"""

from .errors import ERRNO_NUMBERS, KernelError
from .fstypes import (
    NAME_MAX,
    OMIT,
    PATH_MAX,
    ROOT,
    S_IFBLK,
    S_IFCHR,
    S_IFDIR,
    S_IFIFO,
    S_IFLNK,
    S_IFMT,
    S_IFREG,
    S_IFSOCK,
    S_ISGID,
    S_ISUID,
    S_ISVTX,
    SYMLOOP_MAX,
    USER,
    Cred,
    DirEntry,
    FileKind,
    FileSystem,
    OpenFile,
    OpenFlags,
    Stat,
)
from .handle import FileHandle
from .hostfs import HostFs
from .limits import (
    DEFAULT_CPU_TIME_MS_PER_PROCESS,
    DEFAULT_FS_MAX_BYTES,
    DEFAULT_FS_MAX_INODES,
    DEFAULT_MAX_ARGV_ENV_BYTES,
    DEFAULT_MAX_FDS_PER_PROCESS,
    DEFAULT_MAX_FDS_PER_VM,
    DEFAULT_MAX_PIPES,
    DEFAULT_MAX_PROCESSES,
    DEFAULT_MEMORY_BYTES_PER_PROCESS,
    DEFAULT_PIPE_BUFFER_BYTES,
    FsAccounting,
    FsUsage,
    Limits,
)
from .memfs import MemoryFs
from .mounts import MountInfo
from .rootfs import make_root_fs
from .vfs import Vfs

__all__ = [
    "DEFAULT_CPU_TIME_MS_PER_PROCESS",
    "DEFAULT_FS_MAX_BYTES",
    "DEFAULT_FS_MAX_INODES",
    "DEFAULT_MAX_ARGV_ENV_BYTES",
    "DEFAULT_MAX_FDS_PER_PROCESS",
    "DEFAULT_MAX_FDS_PER_VM",
    "DEFAULT_MAX_PIPES",
    "DEFAULT_MAX_PROCESSES",
    "DEFAULT_MEMORY_BYTES_PER_PROCESS",
    "DEFAULT_PIPE_BUFFER_BYTES",
    "ERRNO_NUMBERS",
    "NAME_MAX",
    "OMIT",
    "PATH_MAX",
    "ROOT",
    "SYMLOOP_MAX",
    "S_IFBLK",
    "S_IFCHR",
    "S_IFDIR",
    "S_IFIFO",
    "S_IFLNK",
    "S_IFMT",
    "S_IFREG",
    "S_IFSOCK",
    "S_ISGID",
    "S_ISUID",
    "S_ISVTX",
    "USER",
    "Cred",
    "DirEntry",
    "FileHandle",
    "FileKind",
    "FileSystem",
    "FsAccounting",
    "FsUsage",
    "HostFs",
    "KernelError",
    "Limits",
    "MemoryFs",
    "MountInfo",
    "OpenFile",
    "OpenFlags",
    "Stat",
    "Vfs",
    "make_root_fs",
]
