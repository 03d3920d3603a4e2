"""The read-only /bin layer shared by every VM of a sidecar.

One frozen MemoryFs holds every pinned command as a file whose bytes are a view into
the package container (no copy per VM, no copy at all). Each VM mounts the same
instance read-only at /bin, so a VM costs nothing for its commands and no guest can
alter them. ``modules`` maps the layer's inode numbers to (sha256, module bytes view),
so exec finds the compiled module without hashing or copying 3 MB per run.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ..kernel.memfs import MemoryFs
from .library import SoftwareLibrary, shared_library

__all__ = ["BinLayer", "shared_bin_layer"]


@dataclass(frozen=True)
class BinLayer:
    fs: MemoryFs
    modules: dict[int, tuple[str, memoryview]]


def build_bin_layer(library: SoftwareLibrary) -> BinLayer:
    """A frozen MemoryFs with one executable per command of ``library``."""
    fs = MemoryFs(None, root_mode=0o755)
    modules: dict[int, tuple[str, memoryview]] = {}
    for name, entry in sorted(library.commands().items()):
        node = fs.add_file("/" + name, entry.module, entry.mode & 0o7777)
        modules[fs.getattr(node).ino] = (entry.sha256, entry.module)
    fs.freeze()
    return BinLayer(fs, modules)


_lock = threading.Lock()
_layer: BinLayer | None = None


def shared_bin_layer() -> BinLayer:
    """The sidecar-wide layer, built on first use from the fetched packages.

    Raises:
        SoftwareMissingError: the packages were not fetched (run ``make setup``).
    """
    global _layer
    with _lock:
        if _layer is None:
            _layer = build_bin_layer(shared_library())
        return _layer
