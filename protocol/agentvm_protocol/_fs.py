"""Filesystem methods: ``fs.*``. Every one goes through the VM's kernel VFS and mounts,
exactly like a guest's own file access. Paths are VM paths; relative paths resolve
against ``/``. Binary data is base64 on the wire (msgspec ``bytes``).

The client acts with root's rights (no permission check stops it), but files,
directories and symlinks it creates belong to the VM's user (uid/gid 1000, the
identity guests run as), so guest commands can edit and delete them.

Every read that returns data is bounded before it reads: the sizes are known up front
and a result that could not fit in ``maxFrameBytes`` (base64 included) is refused with
``limit_exceeded`` instead of being built; read big files in pieces with
``fs.readFile {offset, length}``.

Names are bytes in the VM, JSON strings on the wire. A name (or path, or symlink
target) that is not valid UTF-8 is sent with each undecodable byte replaced by U+FFFD
in the string field, and its exact bytes in a companion ``...Bytes`` field (base64),
which is present only then.

Such a name is named in params the same way: methods taking a ``path`` also take
``pathBytes``, the exact path (base64; ``fs.move`` has ``sourceBytes`` and
``destinationBytes``). When present, the bytes name the file and the string must be
their display form, each undecodable byte as U+FFFD, exactly as a listing shows it (a
mismatch, or a NUL byte, is ``invalid_params``). So a client passes back what it was
given: ``dir + "/" + entry.name`` with ``dir_bytes + b"/" + entry.nameBytes``. Batch
methods (``fs.readFiles``, ``fs.writeFiles``) and ``fs.symlink`` take UTF-8 paths only."""

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


ByteCount = Annotated[int, Meta(ge=0, le=2**63 - 1)]
PathBytes = Annotated[
    bytes,
    Meta(min_length=1, max_length=4096, description="The exact bytes of a path that is not valid UTF-8 (see the fs methods)."),
]


class FsReadFileParams(Base):
    """Read a file, whole or a piece of it.

    Without ``length`` the file is read from ``offset`` to its end, which must fit
    in one frame: a larger file is refused with ``limit_exceeded`` before anything is
    read (its size comes from the opened file's metadata). Then loop: ask for
    ``length`` bytes at ``offset``, advance by the bytes received, stop at ``size``.
    A ``length`` larger than a frame can carry is ``limit_exceeded`` as well.

    Only regular files have a size. A device (``/dev/zero``, ``/dev/urandom``) is
    read only with an explicit ``length`` (exactly that many bytes; ``limit_exceeded``
    without one); host fifos, sockets and devices are refused (EACCES).
    """

    vm_id: VmId
    path: VmPath
    path_bytes: PathBytes | None = None
    """The path's exact bytes when it is not UTF-8 (``path`` is then its display form)."""
    offset: ByteCount = 0
    length: ByteCount | None = None


class FsReadFileResult(Base):
    """The bytes read, and the file's total size when it was opened (0 for a
    device), so a client reading in pieces knows when it is done."""

    data: bytes
    size: int = 0


class FsWriteFileParams(Base):
    """Write a file. By default it is created or replaced with ``data``; with
    ``offset`` the data is written there (the rest of the file is kept, a gap past the
    end reads as zeros, which the VM's quota charges); with ``append`` it goes at the
    end. Writing a big file in pieces: the first piece without options, the rest with
    ``append``. ``offset`` and ``append`` together are ``invalid_params``."""

    vm_id: VmId
    path: VmPath
    data: bytes
    path_bytes: PathBytes | None = None
    """The path's exact bytes when it is not UTF-8 (``path`` is then its display form)."""
    create_dirs: bool = False
    """Create missing parent directories first (like ``mkdir -p``)."""
    mode: Mode = 0o644
    """Mode of a file this call creates (an existing file keeps its mode)."""
    offset: ByteCount | None = None
    append: bool = False


class FsWriteFileResult(Base):
    """The file's total size after the write."""

    size: int = 0


class FsReadFilesParams(Base):
    """Read several whole files in one request; each file succeeds or fails on its
    own. The sizes of all of them are added up first: a batch whose data could not
    fit in one frame is refused as a whole with ``limit_exceeded`` before anything is
    read (read such files one by one, in pieces, with ``fs.readFile``)."""

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
    path_bytes: PathBytes | None = None
    """The path's exact bytes when it is not UTF-8 (``path`` is then its display form)."""
    recursive: bool = False
    mode: Mode = 0o755


FsMkdirResult = Empty


class FsReaddirParams(Base):
    """List a directory (without ``.`` and ``..``)."""

    vm_id: VmId
    path: VmPath
    path_bytes: PathBytes | None = None
    """The path's exact bytes when it is not UTF-8 (``path`` is then its display form)."""


class FsDirEntry(Base):
    """One entry of a directory listing. ``name_bytes`` holds the exact name when it
    is not valid UTF-8 (``name`` then shows U+FFFD for each undecodable byte)."""

    name: str
    kind: FileKind
    name_bytes: bytes | None = None


class FsReaddirResult(Base):
    """The directory's entries (without ``.`` and ``..``), in no particular order."""

    entries: list[FsDirEntry]


class FsReaddirRecursiveParams(Base):
    """List a directory tree; entries are paths relative to ``path``. Symlinks are listed,
    not followed; mount points below ``path`` are descended into.

    The listing stops when the paths listed so far would no longer fit in one frame
    and the result says ``truncated``; the work is linear in what is returned, however
    deep the tree (a 45,000-level chain costs one frame, not its square). List the
    subdirectories one by one, or use ``max_depth``, to see the rest."""

    vm_id: VmId
    path: VmPath
    path_bytes: PathBytes | None = None
    """The path's exact bytes when it is not UTF-8 (``path`` is then its display form)."""
    max_depth: Annotated[int, Meta(ge=0)] | None = None


class FsTreeEntry(Base):
    """One entry of a recursive listing. ``path_bytes`` holds the exact relative path
    when it is not valid UTF-8 (``path`` then shows U+FFFD for each undecodable byte)."""

    path: str
    kind: FileKind
    path_bytes: bytes | None = None


class FsReaddirRecursiveResult(Base):
    """Entries below the directory, depth first, paths relative to it: every one,
    unless ``truncated`` says the listing stopped at the frame-size bound."""

    entries: list[FsTreeEntry]
    truncated: bool = False


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
    path_bytes: PathBytes | None = None
    """The path's exact bytes when it is not UTF-8 (``path`` is then its display form)."""


class FsLstatParams(Base):
    """Metadata of a path without following a final symlink."""

    vm_id: VmId
    path: VmPath
    path_bytes: PathBytes | None = None
    """The path's exact bytes when it is not UTF-8 (``path`` is then its display form)."""


class FsStatResult(Base):
    """The file's metadata."""

    stat: FileStat


class FsExistsParams(Base):
    """Whether a path exists (following symlinks)."""

    vm_id: VmId
    path: VmPath
    path_bytes: PathBytes | None = None
    """The path's exact bytes when it is not UTF-8 (``path`` is then its display form)."""


class FsExistsResult(Base):
    """Whether the path exists (symlinks are followed, so a dangling one does not)."""

    exists: bool


class FsMoveParams(Base):
    """Rename ``source`` to ``destination`` (POSIX rename: replaces a file or an empty
    directory; EXDEV across mounts)."""

    vm_id: VmId
    source: VmPath
    destination: VmPath
    source_bytes: PathBytes | None = None
    """The source's exact bytes when it is not UTF-8 (``source`` is then its display form)."""
    destination_bytes: PathBytes | None = None
    """The destination's exact bytes when it is not UTF-8 (``destination`` is then its display form)."""


FsMoveResult = Empty


class FsDeleteParams(Base):
    """Delete a file, symlink or empty directory; ``recursive`` deletes a whole tree
    (never descending into mount points)."""

    vm_id: VmId
    path: VmPath
    path_bytes: PathBytes | None = None
    """The path's exact bytes when it is not UTF-8 (``path`` is then its display form)."""
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
    path_bytes: PathBytes | None = None
    """The path's exact bytes when it is not UTF-8 (``path`` is then its display form)."""


class FsReadlinkResult(Base):
    """The symlink's target, exactly as stored. ``target_bytes`` holds the exact
    target when it is not valid UTF-8 (``target`` then shows U+FFFD for each
    undecodable byte)."""

    target: str
    target_bytes: bytes | None = None


class FsChmodParams(Base):
    """Change permission bits."""

    vm_id: VmId
    path: VmPath
    mode: Mode
    path_bytes: PathBytes | None = None
    """The path's exact bytes when it is not UTF-8 (``path`` is then its display form)."""


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
