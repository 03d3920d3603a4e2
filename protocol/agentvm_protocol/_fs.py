"""Filesystem methods: ``fs.*``. Every one goes through the VM's kernel VFS and mounts,
exactly like a guest's own file access. Paths are VM paths; relative paths resolve
against ``/``. Binary data is base64 on the wire (msgspec ``bytes``).

The client acts with root's rights (no permission check stops it), but files,
directories and symlinks it creates belong to the VM's user (uid/gid 1000, the
identity guests run as), so guest commands can edit and delete them."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from ._base import Base, Empty
from ._errors import ErrorData
from ._vm import MountConfig, VmId, VmPath

__all__ = [
    "FileKind",
    "FileStat",
    "FsChmodParams",
    "FsChmodResult",
    "FsDeleteParams",
    "FsDeleteResult",
    "FsDirEntry",
    "FsExistsParams",
    "FsExistsResult",
    "FsFileData",
    "FsFileToWrite",
    "FsLstatParams",
    "FsMkdirParams",
    "FsMkdirResult",
    "FsMountParams",
    "FsMountResult",
    "FsMoveParams",
    "FsMoveResult",
    "FsReadFileParams",
    "FsReadFileResult",
    "FsReadFilesParams",
    "FsReadFilesResult",
    "FsReaddirParams",
    "FsReaddirRecursiveParams",
    "FsReaddirRecursiveResult",
    "FsReaddirResult",
    "FsReadlinkParams",
    "FsReadlinkResult",
    "FsStatParams",
    "FsStatResult",
    "FsSymlinkParams",
    "FsSymlinkResult",
    "FsTreeEntry",
    "FsUnmountParams",
    "FsUnmountResult",
    "FsWriteFileParams",
    "FsWriteFileResult",
    "FsWriteFilesParams",
    "FsWriteFilesResult",
    "FsWriteOutcome",
]

FileKind = Literal["file", "directory", "symlink", "fifo", "char_device", "block_device", "socket"]
Mode = Annotated[int, Meta(ge=0, le=0o7777, description="Permission bits, e.g. 420 (0o644).")]


class FsReadFileParams(Base):
    """Read a whole file."""

    vm_id: VmId
    path: VmPath


class FsReadFileResult(Base):
    """The whole content of the file."""

    data: bytes


class FsWriteFileParams(Base):
    """Create or replace a file with ``data``."""

    vm_id: VmId
    path: VmPath
    data: bytes
    create_dirs: bool = False
    """Create missing parent directories first (like ``mkdir -p``)."""
    mode: Mode = 0o644


FsWriteFileResult = Empty


class FsReadFilesParams(Base):
    """Read several files in one request; each file succeeds or fails on its own."""

    vm_id: VmId
    paths: Annotated[list[VmPath], Meta(max_length=10000)]


class FsFileData(Base):
    """One file of a batch read: ``data`` on success, ``error`` otherwise."""

    path: str
    data: bytes | None = None
    error: ErrorData | None = None


class FsReadFilesResult(Base):
    """One entry per requested path, in request order: its data or its error."""

    files: list[FsFileData]


class FsFileToWrite(Base):
    """One file of an ``fs.writeFiles`` batch."""

    path: VmPath
    data: bytes
    mode: Mode = 0o644


class FsWriteFilesParams(Base):
    """Write several files in one request; each file succeeds or fails on its own."""

    vm_id: VmId
    files: Annotated[list[FsFileToWrite], Meta(max_length=10000)]
    create_dirs: bool = False


class FsWriteOutcome(Base):
    """What happened to one file of a batch: written (no error) or its error."""

    path: str
    error: ErrorData | None = None


class FsWriteFilesResult(Base):
    """One outcome per file, in request order."""

    results: list[FsWriteOutcome]


class FsMkdirParams(Base):
    """Create a directory; ``recursive`` creates parents and accepts an existing directory."""

    vm_id: VmId
    path: VmPath
    recursive: bool = False
    mode: Mode = 0o755


FsMkdirResult = Empty


class FsReaddirParams(Base):
    """List a directory (without ``.`` and ``..``)."""

    vm_id: VmId
    path: VmPath


class FsDirEntry(Base):
    """One entry of a directory listing."""

    name: str
    kind: FileKind


class FsReaddirResult(Base):
    """The directory's entries (without ``.`` and ``..``), in no particular order."""

    entries: list[FsDirEntry]


class FsReaddirRecursiveParams(Base):
    """List a directory tree; entries are paths relative to ``path``. Symlinks are listed,
    not followed; mount points below ``path`` are descended into."""

    vm_id: VmId
    path: VmPath
    max_depth: Annotated[int, Meta(ge=0)] | None = None


class FsTreeEntry(Base):
    """One entry of a recursive listing."""

    path: str
    kind: FileKind


class FsReaddirRecursiveResult(Base):
    """Every entry below the directory, depth first, paths relative to it."""

    entries: list[FsTreeEntry]


class FileStat(Base):
    """POSIX-style metadata. Times are nanoseconds since the Unix epoch."""

    kind: FileKind
    mode: int
    size: int
    ino: int
    nlink: int
    uid: int
    gid: int
    atime_ns: int
    mtime_ns: int
    ctime_ns: int


class FsStatParams(Base):
    """Metadata of a path, following a final symlink."""

    vm_id: VmId
    path: VmPath


class FsLstatParams(Base):
    """Metadata of a path without following a final symlink."""

    vm_id: VmId
    path: VmPath


class FsStatResult(Base):
    """The file's metadata."""

    stat: FileStat


class FsExistsParams(Base):
    """Whether a path exists (following symlinks)."""

    vm_id: VmId
    path: VmPath


class FsExistsResult(Base):
    """Whether the path exists (symlinks are followed, so a dangling one does not)."""

    exists: bool


class FsMoveParams(Base):
    """Rename ``source`` to ``destination`` (POSIX rename: replaces a file or an empty
    directory; EXDEV across mounts)."""

    vm_id: VmId
    source: VmPath
    destination: VmPath


FsMoveResult = Empty


class FsDeleteParams(Base):
    """Delete a file, symlink or empty directory; ``recursive`` deletes a whole tree
    (never descending into mount points)."""

    vm_id: VmId
    path: VmPath
    recursive: bool = False


FsDeleteResult = Empty


class FsSymlinkParams(Base):
    """Create a symlink at ``path`` pointing to ``target`` (stored verbatim)."""

    vm_id: VmId
    target: Annotated[str, Meta(min_length=1, max_length=4096, pattern="^[^\x00]*$")]
    path: VmPath


FsSymlinkResult = Empty


class FsReadlinkParams(Base):
    """The target of a symlink."""

    vm_id: VmId
    path: VmPath


class FsReadlinkResult(Base):
    """The symlink's target, exactly as stored."""

    target: str


class FsChmodParams(Base):
    """Change permission bits."""

    vm_id: VmId
    path: VmPath
    mode: Mode


FsChmodResult = Empty


class FsMountParams(Base):
    """Mount a filesystem into a running VM. A missing mount point is created (with
    its parents); an existing one must be a directory that is not already a mount
    point (EBUSY)."""

    vm_id: VmId
    mount: MountConfig


FsMountResult = Empty


class FsUnmountParams(Base):
    """Unmount the filesystem mounted at ``path``."""

    vm_id: VmId
    path: VmPath


FsUnmountResult = Empty
