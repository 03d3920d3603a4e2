# The guest command library: every pinned package, parsed once per sidecar.
#
# A VM's /bin is a read-only layer shared by all VMs of a sidecar. Its content
# comes from here: `SoftwareLibrary.commands()` maps each command name to the
# module bytes (a zero-copy view into the container, which stays in memory for
# the life of the library) plus the metadata the VFS and the module cache need.
# Loading reads the ~72 MB of containers and hashes every module (~60 ms); it
# happens on first use, under a lock, so concurrent first callers load once.
#
# Precedence: packages are merged in pins.PINS order and a later package wins
# when two define the same command name. coreutils comes first, so a dedicated
# package (sed, grep, ...) overrides any same-named multicall copy in it. With
# today's pins no names clash; a clash is logged as `command_shadowed`.
#
# What doesn't live here: the VFS layer itself (kernel/), and compilation
# (wasm/module_cache.py, keyed by `CommandEntry.sha256` so the multicall copies
# compile once).

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..logs import get_logger
from .aospkg import Aospkg, AospkgError, parse_aospkg
from .mapped import known_digests, map_file, remember_digests
from .paths import setup_hint, software_dir
from .pins import PINS, Pin

__all__ = [
    "CommandEntry",
    "LibraryStatistics",
    "SoftwareLibrary",
    "SoftwareMissingError",
    "shared_library",
]

log = get_logger("software.library")


class SoftwareMissingError(RuntimeError):
    """A pinned package is not fetched (or its container is unreadable)."""


@dataclass(frozen=True, slots=True)
class CommandEntry:
    """One guest command, ready to be placed at /bin/<name>.

    `module` is a read-only view of the wasm bytes inside the package container;
    `sha256` is its hex digest (the module cache key); `mode` is the st_mode the
    package gives the file (0o100755 for every shipped command).
    """

    name: str
    package: str
    version: str
    path: str
    module: memoryview
    sha256: str
    mode: int


@dataclass(frozen=True, slots=True)
class LibraryStatistics:
    """A snapshot for tests and debugging."""

    loaded: bool
    packages: int
    commands: int
    unique_modules: int


class SoftwareLibrary:
    """The pinned guest packages of one sidecar, loaded lazily and thread-safely.

    Args:
        directory: where fetch.py put the containers (default: `software_dir()`).
        pins: the packages to load, in precedence order (later wins).
    """

    def __init__(self, directory: Path | None = None, pins: Sequence[Pin] = PINS) -> None:
        self._directory = directory if directory is not None else software_dir()
        self._pins = tuple(pins)
        self._lock = threading.Lock()
        self._packages: tuple[Aospkg, ...] | None = None
        self._commands: dict[str, CommandEntry] = {}

    @property
    def directory(self) -> Path:
        return self._directory

    def packages(self) -> tuple[Aospkg, ...]:
        """The parsed packages in pin order, loading them on first call.

        Raises:
            SoftwareMissingError: a container is missing or corrupt.
        """
        self._ensure_loaded()
        assert self._packages is not None
        return self._packages

    def commands(self) -> dict[str, CommandEntry]:
        """All commands by name, merged across packages (later pins win).

        Returns a new dict each call; the entries themselves are shared and frozen.

        Raises:
            SoftwareMissingError: a container is missing or corrupt.
        """
        self._ensure_loaded()
        return dict(self._commands)

    def statistics(self) -> LibraryStatistics:
        with self._lock:
            return LibraryStatistics(
                loaded=self._packages is not None,
                packages=len(self._packages or ()),
                commands=len(self._commands),
                unique_modules=len({entry.sha256 for entry in self._commands.values()}),
            )

    def _ensure_loaded(self) -> None:
        if self._packages is not None:
            return
        with self._lock:
            if self._packages is not None:
                return
            packages = tuple(self._load(pin) for pin in self._pins)
            self._commands = _merge(packages)
            self._packages = packages
            log.info(
                "software_loaded",
                directory=str(self._directory),
                packages=len(packages),
                commands=len(self._commands),
            )

    def _load(self, pin: Pin) -> Aospkg:
        path = self._directory / pin.aospkg_name
        hint = f"{setup_hint()} to fetch it"
        try:
            data, identity = map_file(path)
        except FileNotFoundError:
            raise SoftwareMissingError(
                f"{pin.spec} is not fetched: {path} missing; {hint}"
            ) from None
        known = known_digests(path, identity)
        try:
            package = parse_aospkg(data, known)
        except AospkgError as exc:
            raise SoftwareMissingError(f"{path} is corrupt ({exc}); delete it and {hint}") from exc
        if known is None:
            remember_digests(path, identity, {p: f.sha256 for p, f in package.files.items() if f.sha256 is not None})
        if (package.name, package.version) != (pin.name, pin.version):
            raise SoftwareMissingError(
                f"{path} holds {package.name}@{package.version}, expected {pin.spec}"
            )
        return package


def _merge(packages: Sequence[Aospkg]) -> dict[str, CommandEntry]:
    commands: dict[str, CommandEntry] = {}
    for package in packages:
        for name, path in package.commands.items():
            file = package.files[path]
            assert file.sha256 is not None  # parse_aospkg only maps commands to regular files
            previous = commands.get(name)
            if previous is not None:
                log.info(
                    "command_shadowed",
                    command=name,
                    winner=package.name,
                    loser=previous.package,
                )
            commands[name] = CommandEntry(
                name=name,
                package=package.name,
                version=package.version,
                path=path,
                module=package.read(path),
                sha256=file.sha256,
                # A command is an executable whatever mode the package gives its file
                # (codex-cli 0.3.4 ships /bin/codex* as 0o644; the others 0o755).
                mode=file.mode | 0o111,
            )
    return commands


_shared_lock = threading.Lock()
_shared: SoftwareLibrary | None = None


def shared_library() -> SoftwareLibrary:
    """The process-wide library over `software_dir()` (created on first call)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SoftwareLibrary()
        return _shared
