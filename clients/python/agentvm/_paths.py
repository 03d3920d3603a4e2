"""VM paths as the client takes them: ``str``, or ``bytes`` for a name that is not
valid UTF-8 (as listings give it: ``FsDirEntry.name_bytes``, ``FsTreeEntry.path_bytes``).

The wire carries such a path as its display form (U+FFFD per undecodable byte) in
``path`` plus its exact bytes in ``pathBytes`` (protocol/_fs.py); ``wire_path`` makes
that pair, so callers pass bytes back exactly as they received them.
"""

from __future__ import annotations

__all__ = ["VmPathLike", "wire_path"]

VmPathLike = str | bytes


def wire_path(path: VmPathLike) -> tuple[str, bytes | None]:
    """``(path, pathBytes)`` for the wire: bytes only when the path is not UTF-8."""
    if isinstance(path, str):
        return path, None
    try:
        return path.decode("utf-8"), None
    except UnicodeDecodeError:
        return path.decode("utf-8", "replace"), bytes(path)
