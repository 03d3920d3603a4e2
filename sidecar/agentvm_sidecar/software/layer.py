"""The read-only /bin layer shared by every VM of a sidecar.

One frozen MemoryFs holds every pinned command as a file whose bytes are a view into
the package container (no copy per VM, no copy at all). Each VM mounts the same
instance read-only at /bin, so a VM costs nothing for its commands and no guest can
alter them. ``modules`` maps the layer's inode numbers to (sha256, module bytes view),
so exec finds the compiled module without hashing or copying 3 MB per run.

After the package commands come agentvm's own commands (software/commands/, built at
setup into `<software dir>/commands`), each only where no package already provides
that name: today just `grep`, which the pinned grep package lacks. If one was not
built the layer is refused (SoftwareMissingError, so `vm.create` fails with
`unavailable` and the setup command to run): a VM with software never silently
lacks a command.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

from ..kernel.memfs import MemoryFs
from ..logs import get_logger
from .commands.build import built_commands, command_names, commands_dir
from .library import SoftwareLibrary, SoftwareMissingError, shared_library
from .paths import setup_hint

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
    missing = sorted(set(command_names()) - set(built))
    if missing:
        raise SoftwareMissingError(f"agentvm's own commands {missing} are not built in {directory}; {setup_hint()}")
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
        SoftwareMissingError: the packages were not fetched or our commands not
            built (the message names the setup command).
    """
    global _layer
    with _lock:
        if _layer is None:
            _layer = build_bin_layer(shared_library())
        return _layer
