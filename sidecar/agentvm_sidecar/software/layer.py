"""The read-only /bin layer shared by every VM of a sidecar.

One frozen MemoryFs holds every pinned command as a file whose bytes are a view into
the package container (no copy per VM, no copy at all). Each VM mounts the same
instance read-only at /bin, so a VM costs nothing for its commands and no guest can
alter them. ``modules`` maps the layer's inode numbers to (sha256, module bytes view),
so exec finds the compiled module without hashing or copying 3 MB per run.

After the package commands come agentvm's own commands (software/commands/, built at
setup into `<software dir>/commands`): `grep`, which the pinned grep package lacks,
and `cat` and `sh`, which take the place of the package's (commands/build.py
REPLACES says why; `bash` stays the package's brush). If one was not
built the layer is refused (SoftwareMissingError, so `vm.create` fails with
`unavailable` and the setup command to run): a VM with software never silently
lacks a command. Then the toolbox (toolbox.py: python3, jq, yq, rg, fd, tree,
sqlite3), again only for free names and only what setup provided (`make run` sets up
without it).

``listing`` says, for every entry, where it comes from (the wire's `software.list`).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..kernel.memfs import MemoryFs
from ..logs import get_logger
from .commands.build import REPLACES, built_commands, command_names, commands_dir, source_label
from .library import SoftwareLibrary, SoftwareMissingError, shared_library
from .paths import setup_hint
from .pins import NPM_SCOPE
from .toolbox import ToolboxCommand, toolbox_commands

__all__ = ["BinLayer", "CommandInfo", "build_bin_layer", "shared_bin_layer", "shared_bin_layer_loaded"]

log = get_logger("software.layer")

EXECUTABLE_MODE = 0o755


@dataclass(frozen=True, slots=True)
class CommandInfo:
    """Where one /bin entry comes from."""

    name: str
    package: str
    version: str
    source: str


@dataclass(frozen=True)
class BinLayer:
    fs: MemoryFs
    modules: dict[int, tuple[str, memoryview]]
    listing: tuple[CommandInfo, ...] = ()


def build_bin_layer(
    library: SoftwareLibrary,
    builtin_dir: Path | None = None,
    toolbox: list[ToolboxCommand] | None = None,
) -> BinLayer:
    """A frozen MemoryFs with one executable per command of ``library``, plus
    agentvm's own built commands (from ``builtin_dir``, default
    `<software dir>/commands`; those in ``REPLACES`` in place of the package's) and
    the ``toolbox`` (default: ``toolbox_commands()``) for names not taken before them."""
    fs = MemoryFs(None, root_mode=0o755)
    modules: dict[int, tuple[str, memoryview]] = {}
    listing: list[CommandInfo] = []
    commands = {name: entry for name, entry in library.commands().items() if name not in REPLACES}
    for name, entry in sorted(commands.items()):
        node = fs.add_file("/" + name, entry.module, entry.mode & 0o7777)
        modules[fs.getattr(node).ino] = (entry.sha256, entry.module)
        package = f"{NPM_SCOPE}/{entry.package}"
        listing.append(CommandInfo(name, package, entry.version, f"npm:{package}@{entry.version}"))
    taken = set(commands)
    _add_builtin_commands(fs, modules, taken, builtin_dir, listing)
    _add_toolbox(fs, modules, taken, toolbox_commands() if toolbox is None else toolbox, listing)
    fs.freeze()
    return BinLayer(fs, modules, tuple(sorted(listing, key=lambda info: info.name)))


def _add_toolbox(
    fs: MemoryFs,
    modules: dict[int, tuple[str, memoryview]],
    taken: set[str],
    toolbox: list[ToolboxCommand],
    listing: list[CommandInfo],
) -> None:
    for command in toolbox:
        if command.name in taken:
            log.info("toolbox_command_shadowed", command=command.name)
            continue
        taken.add(command.name)
        node = fs.add_file("/" + command.name, command.data, EXECUTABLE_MODE)
        if command.sha256 is not None:
            modules[fs.getattr(node).ino] = (command.sha256, command.data)
        listing.append(CommandInfo(command.name, command.package, command.version, command.source))


def _add_builtin_commands(
    fs: MemoryFs,
    modules: dict[int, tuple[str, memoryview]],
    taken: set[str],
    directory: Path | None,
    listing: list[CommandInfo] | None = None,
) -> None:
    directory = commands_dir() if directory is None else directory
    built = built_commands(directory)
    # a replaced package command must have ours: without it /bin/sh would be gone
    missing = sorted((set(command_names()) | set(REPLACES)) - set(built))
    if missing:
        raise SoftwareMissingError(f"agentvm's own commands {missing} are not built in {directory}; {setup_hint()}")
    for name, path in sorted(built.items()):
        if name in taken:
            log.info("builtin_command_shadowed", command=name)
            continue
        taken.add(name)
        module = memoryview(path.read_bytes()).toreadonly()
        node = fs.add_file("/" + name, module, EXECUTABLE_MODE)
        modules[fs.getattr(node).ino] = (hashlib.sha256(module).hexdigest(), module)
        if listing is not None:
            listing.append(CommandInfo(name, "agentvm", __version__, f"agentvm: {source_label(name)} built with zig"))


_lock = threading.Lock()
_layer: BinLayer | None = None


def shared_bin_layer_loaded() -> bool:
    """Whether :func:`shared_bin_layer` is built already (then it reads no file)."""
    return _layer is not None


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
