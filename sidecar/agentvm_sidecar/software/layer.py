"""The read-only /bin layer shared by every VM of a sidecar.

One frozen MemoryFs holds every pinned command as a file whose bytes are a view into
the package container (no copy per VM, no copy at all). Each VM mounts the same
instance read-only at /bin, so a VM costs nothing for its commands and no guest can
alter them. ``modules`` maps the layer's inode numbers to (sha256, module bytes view),
so exec finds the compiled module without hashing or copying 3 MB per run.

After the package commands come agentvm's own commands (software/commands/, built at
setup into `<software dir>/commands`), each only where no package already provides
that name: today just `grep`, which the pinned grep package lacks. If they were not
built the layer is still complete for the packages, with a `builtin_commands_missing`
warning.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

from ..kernel.memfs import MemoryFs
from ..logs import get_logger
from .commands.build import built_commands, commands_dir
from .library import SoftwareLibrary, shared_library

__all__ = ["BinLayer", "build_bin_layer", "shared_bin_layer"]

log = get_logger("software.layer")

BUILTIN_COMMAND_MODE = 0o755


@dataclass(frozen=True)
class BinLayer:
    fs: MemoryFs
    modules: dict[int, tuple[str, memoryview]]


def build_bin_layer(library: SoftwareLibrary, builtin_dir: Path | None = None) -> BinLayer:
    """A frozen MemoryFs with one executable per command of ``library``, plus
    agentvm's own built commands (from ``builtin_dir``, default
    `<software dir>/commands`) for names no package provides."""
    fs = MemoryFs(None, root_mode=0o755)
    modules: dict[int, tuple[str, memoryview]] = {}
    commands = library.commands()
    for name, entry in sorted(commands.items()):
        node = fs.add_file("/" + name, entry.module, entry.mode & 0o7777)
        modules[fs.getattr(node).ino] = (entry.sha256, entry.module)
    _add_builtin_commands(fs, modules, set(commands), builtin_dir)
    fs.freeze()
    return BinLayer(fs, modules)


def _add_builtin_commands(
    fs: MemoryFs,
    modules: dict[int, tuple[str, memoryview]],
    taken: set[str],
    directory: Path | None,
) -> None:
    directory = commands_dir() if directory is None else directory
    built = built_commands(directory)
    if not built:
        log.warning(
            "builtin_commands_missing",
            directory=str(directory),
            hint="run `make setup` (python -m agentvm_sidecar.software.commands.build)",
        )
        return
    for name, path in sorted(built.items()):
        if name in taken:
            log.info("builtin_command_shadowed", command=name)
            continue
        module = memoryview(path.read_bytes()).toreadonly()
        node = fs.add_file("/" + name, module, BUILTIN_COMMAND_MODE)
        modules[fs.getattr(node).ino] = (hashlib.sha256(module).hexdigest(), module)


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
