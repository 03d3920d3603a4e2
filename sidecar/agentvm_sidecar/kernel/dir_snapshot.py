# DirSnapshot: what fd_readdir reads of an open directory. The guest takes one by
# listing from cookie 0 and reads on through it with later cookies (indexes into
# it), so it stays as it was until the next cookie 0; handle.py charges it to the
# VM's snapshot budget while the handle holds it.
#
# '.' and '..' come first, then the filesystem's entries: DirEntry objects for
# the filesystems that live in the sidecar, and for a host_dir the records
# native.list_dir wrote (HostFs.list_records), kept as they are. A record costs
# ~80 bytes against a DirEntry's ~160, and fd_readdir packs records into guest
# memory in C (native.pack_dirents): building a DirEntry per entry and packing
# each in Python was ~40% of a host_dir fd_readdir (`ls -R` of the bench project,
# line_profiler: bench/README.md, "ninth round").

from __future__ import annotations

from .. import native
from .fstypes import DirEntry, FileKind, kind_of_mode

__all__ = ["KINDS_BY_TYPE", "SNAPSHOT_ENTRY_BYTES", "SNAPSHOT_PIECE_BYTES", "DirSnapshot", "listed_entries"]

# What one DirEntry costs in the sidecar besides its name: the tuple, its str and
# int objects and the snapshot's slot (measured: ~150 bytes on CPython 3.11).
SNAPSHOT_ENTRY_BYTES = 160
# What a piece of records costs besides its bytes (a bytes object's header).
SNAPSHOT_PIECE_BYTES = 64

# By type number (S_IFMT >> 12, which is also getdents' DT_* value): the kind of
# a listed entry. Unknown type bits read as a device, which is refused on open.
KINDS_BY_TYPE = tuple(kind_of_mode(t << 12) or FileKind.CHAR_DEVICE for t in range(16))


def listed_entries(pieces: tuple[bytes, ...]) -> list[DirEntry]:
    """The entries of a host listing's records: the kind from the entry's lstat
    when it has one, else from its getdents type."""
    out = []
    for records in pieces:
        for name, fields in native.dirents(records):
            d_ino, mode, d_type, stated = fields[0], fields[7], fields[11], fields[12]
            out.append(DirEntry(name, KINDS_BY_TYPE[(mode >> 12) & 15 if stated else d_type & 15], d_ino))
    return out


class DirSnapshot:
    """'.' (inode ``dot``), '..' (``dotdot``), then either ``listed`` entries or
    the host listing ``pieces`` (records, see native.list_dir); ``cost``: the
    bytes it is charged."""

    __slots__ = ("cost", "dot", "dotdot", "listed", "pieces")

    def __init__(
        self, dot: int, dotdot: int, listed: tuple[DirEntry, ...] = (), pieces: tuple[bytes, ...] | None = None
    ) -> None:
        self.dot, self.dotdot, self.listed, self.pieces = dot, dotdot, listed, pieces
        if pieces is None:
            self.cost = sum(SNAPSHOT_ENTRY_BYTES + len(e.name) for e in listed)
        else:
            self.cost = sum(SNAPSHOT_PIECE_BYTES + len(p) for p in pieces)
        self.cost += 2 * SNAPSHOT_ENTRY_BYTES + 3  # '.' and '..'

    def entries(self) -> tuple[DirEntry, ...]:
        """Every entry, '.' and '..' first, as fd_readdir's cookies index them."""
        listed = self.listed if self.pieces is None else listed_entries(self.pieces)
        return (DirEntry(".", FileKind.DIRECTORY, self.dot), DirEntry("..", FileKind.DIRECTORY, self.dotdot), *listed)

    def has(self, name: str) -> bool:
        """Whether ``name`` is one of the listed names ('.' and '..' are not)."""
        if self.pieces is None:
            return any(e.name == name for e in self.listed)
        encoded = name.encode("utf-8", "surrogateescape")
        return any(native.records_have(records, encoded) for records in self.pieces)
