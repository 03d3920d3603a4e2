"""Software files mapped read-only, and their sha256 kept beside them.

Why: the /bin layer serves ~130 MB of package containers and ~45 MB of toolbox
modules. Read into memory, every sidecar process (each ``--workers`` worker too) held
a private copy of all of it, and hashed all of it on its first VM (~130 ms). Mapped,
the bytes are the page cache's, shared, and only the pages of the commands a VM runs
are touched; the digests computed once are kept in ``<file>.digests.json`` for the
next sidecar.

A kept digest is valid only for the file identity it was computed from (device,
inode, size, mtime, ctime): any write to the file or a replacement of it changes
ctime, the kernel's own, which no write can keep. The software directory is trusted
as the files in it are (they are run); one the sidecar cannot write to just hashes
again. Files here are only ever replaced by rename (fetch.py, the build caches),
which leaves an existing mapping of the old file intact.
"""

from __future__ import annotations

import hashlib
import mmap
import os
from pathlib import Path

import msgspec

from ..logs import get_logger

__all__ = ["file_with_digest", "known_digests", "map_file", "remember_digests"]

log = get_logger("software.mapped")

_SUFFIX = ".digests.json"
_WHOLE = ""  # the key of a whole file's digest


class _Kept(msgspec.Struct):
    identity: list[int]
    digests: dict[str, str]


def map_file(path: Path) -> tuple[mmap.mmap | bytes, list[int]]:
    """The file's bytes, mapped read-only (an empty file's are b"", which cannot be
    mapped), and its identity. Raises: OSError."""
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        identity = [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
        if st.st_size == 0:
            return b"", identity
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ), identity


def known_digests(path: Path, identity: list[int]) -> dict[str, str] | None:
    """The digests kept for ``path`` when they were computed from this very file."""
    try:
        kept = msgspec.json.decode(path.with_name(path.name + _SUFFIX).read_bytes(), type=_Kept)
    except (OSError, msgspec.DecodeError):
        return None
    return kept.digests if kept.identity == identity else None


def remember_digests(path: Path, identity: list[int], digests: dict[str, str]) -> None:
    """Keep ``digests`` (of ``path`` as ``identity`` names it) for the next sidecar."""
    target = path.with_name(path.name + _SUFFIX)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(msgspec.json.encode(_Kept(identity, digests)))
        tmp.replace(target)  # whole or absent, for a sidecar reading it meanwhile
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        log.debug("digests_not_kept", path=str(target), error=str(exc))


def file_with_digest(path: Path) -> tuple[memoryview, str]:
    """A whole file mapped read-only, with its sha256. Raises: OSError."""
    data, identity = map_file(path)
    view = memoryview(data).toreadonly()
    known = known_digests(path, identity)
    digest = known.get(_WHOLE) if known else None
    if digest is None:
        digest = hashlib.sha256(view).hexdigest()
        remember_digests(path, identity, {_WHOLE: digest})
    return view, digest
