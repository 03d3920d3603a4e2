# A reader for agentOS `.aospkg` software containers.
#
# The npm packages `@agentos-software/*` each ship one `dist/package.aospkg`. Its
# packing tool is not published, so this layout was reverse-engineered from the
# eight pinned packages (see pins.py) and is checked by tests against the real
# files. Every multi-byte integer is little-endian. "varint" is unsigned LEB128
# (postcard/serde style); every observed value is < 128, so it is also one byte.
#
#   header (16 bytes)
#     magic          4 bytes  b"\x89AOS"
#     format         u32      1
#     manifest_len   u32      length of the manifest section
#     index_len      u32      length of the index section
#   manifest (manifest_len bytes)
#     section_ver    u16      1
#     name           varint length + UTF-8
#     version        varint length + UTF-8
#     reserved       2 bytes  always 0 (XX: meaning unknown, probably two empty
#                             optional fields; anything else is rejected)
#     commands       varint count, then count x (name string, target string),
#                             target is relative to the package root: "bin/ls"
#     reserved       2 bytes  always 0 (XX: as above)
#   index (index_len bytes)
#     section_ver    u16      1
#     count          varint   number of entries
#     entry          count x:
#       path         varint length + UTF-8, absolute ("/", "/bin", "/bin/ls")
#       kind         u8       0 = regular file, 1 = directory
#       offset       u64      where the body starts, relative to the payload
#       size         u64      body length (0 for directories)
#       mode         u32      st_mode including the S_IFMT bits (0o100755, 0o40755)
#       uid, gid     u32 each (1000 for shipped files, 0 for the synthetic "/")
#       mtime        i64      seconds since the epoch
#       reserved     u8       always 0 (XX: probably an empty symlink-target option)
#   payload (rest of the file)
#     a ustar/GNU tar stream of the same tree ("./bin/ls" ...), zero-padded to
#     512-byte blocks and ending with the two zero blocks that mark its end
#     (checked: the container has no total length, so this is what reveals
#     truncation). The index offsets
#     point at each member's body, so a regular file's 512-byte tar header sits
#     right before its body; we cross-check its magic and size field so a
#     misread index or a corrupted payload is caught here, not at instantiation.
#
# This module does no I/O: `parse_aospkg(data)` takes bytes (or a memoryview,
# e.g. over an mmap) and returns a frozen `Aospkg` whose file bodies are
# memoryview slices of `data`, so the 67 MB coreutils container is never copied.
# Every read is bounds-checked against the section it belongs to and every
# count is checked against the bytes left before looping, so any input either
# parses or raises `AospkgError` (never IndexError, struct.error or a giant
# allocation). This mirrors h11's fuzz invariant.
#
# Several commands are multicall copies of one module (e.g. all uutils commands
# share one binary), so each regular file carries the sha256 of its body; the
# module cache keys compiled modules by it and compiles each distinct body once.

from __future__ import annotations

import hashlib
import stat
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["FORMAT_VERSION", "MAGIC", "Aospkg", "AospkgError", "AospkgFile", "parse_aospkg"]

MAGIC = b"\x89AOS"
FORMAT_VERSION = 1
_SECTION_VERSION = 1
_HEADER = struct.Struct("<4sIII")
_U16 = struct.Struct("<H")
# kind, offset, size, mode, uid, gid, mtime, reserved
_ENTRY_FIXED = struct.Struct("<BQQIIIqB")
_MIN_ENTRY_LEN = 1 + 1 + _ENTRY_FIXED.size  # one-byte path length, one-byte path
_MIN_COMMAND_LEN = 4  # two strings of at least one byte each, with their lengths
_KIND_FILE = 0
_KIND_DIR = 1
_TAR_BLOCK = 512


class AospkgError(ValueError):
    """The bytes are not a valid (or not a supported) `.aospkg` container."""


@dataclass(frozen=True, slots=True)
class AospkgFile:
    """One entry of the container's file table.

    `offset` is absolute within the container bytes; `sha256` is the hex digest of
    the body for regular files and None for directories.
    """

    path: str
    mode: int
    uid: int
    gid: int
    mtime: int
    size: int
    offset: int
    sha256: str | None

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)


@dataclass(frozen=True, slots=True)
class Aospkg:
    """A parsed container. `commands` maps a command name to an absolute path in
    `files` (e.g. "ls" -> "/bin/ls"); `files` maps each path to its entry, in
    file-table order."""

    name: str
    version: str
    commands: Mapping[str, str]
    files: Mapping[str, AospkgFile]
    data: memoryview

    def read(self, path: str) -> memoryview:
        """Return the body of a regular file as a zero-copy slice of the container.

        Raises:
            KeyError: no such path.
            IsADirectoryError: the path is a directory.
        """
        entry = self.files[path]
        if entry.is_dir:
            raise IsADirectoryError(path)
        return self.data[entry.offset : entry.offset + entry.size]


class _Cursor:
    """Bounds-checked sequential reads over one section of the container."""

    def __init__(self, data: memoryview, start: int, end: int, section: str) -> None:
        self._data = data
        self.pos = start
        self.end = end
        self._section = section

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def fail(self, what: str) -> AospkgError:
        return AospkgError(f"{self._section} at byte {self.pos}: {what}")

    def take(self, n: int, what: str) -> memoryview:
        if n > self.remaining:
            raise self.fail(f"truncated {what} (need {n} bytes, {self.remaining} left)")
        chunk = self._data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: struct.Struct, what: str) -> tuple[int, ...]:
        return fmt.unpack(self.take(fmt.size, what))

    def varint(self, what: str) -> int:
        # Unsigned LEB128, at most 32 bits (5 bytes), no overlong encodings.
        value = 0
        for i in range(5):
            (byte,) = self.take(1, what)
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                if byte == 0 and i > 0:
                    raise self.fail(f"overlong varint in {what}")
                if value > 0xFFFF_FFFF:
                    raise self.fail(f"varint out of range in {what}")
                return value
        raise self.fail(f"varint too long in {what}")

    def string(self, what: str) -> str:
        n = self.varint(f"{what} length")
        raw = self.take(n, what)
        try:
            return str(raw, "utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"{what} is not valid UTF-8") from None

    def count(self, min_item_len: int, what: str) -> int:
        n = self.varint(what)
        if n * min_item_len > self.remaining:
            raise self.fail(f"{what} {n} cannot fit in the {self.remaining} bytes left")
        return n

    def expect_zero(self, n: int, what: str) -> None:
        if any(self.take(n, what)):
            raise self.fail(f"unsupported non-zero {what}")

    def section_version(self) -> None:
        (version,) = self.unpack(_U16, "section version")
        if version != _SECTION_VERSION:
            raise self.fail(f"unsupported section version {version}")

    def finish(self) -> None:
        if self.remaining:
            raise self.fail(f"{self.remaining} unexpected trailing bytes")


def parse_aospkg(data: bytes | bytearray | memoryview, digests: Mapping[str, str] | None = None) -> Aospkg:
    """Parse and validate a `.aospkg` container.

    Args:
        data: the whole container. It must not change while the result is in use:
            file bodies are views into it.
        digests: the sha256 of file bodies by path, known from an earlier parse of
            the very same bytes (the caller vouches for that); bodies not in it are
            hashed.

    Returns:
        The frozen parsed package.

    Raises:
        AospkgError: truncated, corrupt or unsupported input.
    """
    view = memoryview(data).cast("B")
    if len(view) < _HEADER.size:
        raise AospkgError(f"truncated header ({len(view)} bytes)")
    magic, fmt, manifest_len, index_len = _HEADER.unpack(view[: _HEADER.size])
    if magic != MAGIC:
        raise AospkgError(f"bad magic {bytes(magic)!r}, expected {MAGIC!r}")
    if fmt != FORMAT_VERSION:
        raise AospkgError(f"unsupported format version {fmt}")
    manifest_end = _HEADER.size + manifest_len
    payload_start = manifest_end + index_len
    if payload_start > len(view):
        raise AospkgError(
            f"sections end at byte {payload_start} but the container has {len(view)} bytes"
        )

    manifest = _Cursor(view, _HEADER.size, manifest_end, "manifest")
    manifest.section_version()
    name = manifest.string("package name")
    version = manifest.string("package version")
    manifest.expect_zero(2, "reserved manifest fields")
    raw_commands: dict[str, str] = {}
    for _ in range(manifest.count(_MIN_COMMAND_LEN, "command count")):
        command = manifest.string("command name")
        target = manifest.string("command target")
        if not command or "/" in command or "\0" in command or command in (".", ".."):
            raise manifest.fail(f"invalid command name {command!r}")
        if command in raw_commands:
            raise manifest.fail(f"duplicate command {command!r}")
        raw_commands[command] = target
    manifest.expect_zero(2, "reserved manifest trailer")
    manifest.finish()

    _check_payload_end(view, payload_start)

    index = _Cursor(view, manifest_end, payload_start, "index")
    index.section_version()
    files: dict[str, AospkgFile] = {}
    for _ in range(index.count(_MIN_ENTRY_LEN, "entry count")):
        entry = _read_entry(index, view, payload_start, digests or {})
        if entry.path in files:
            raise index.fail(f"duplicate path {entry.path!r}")
        files[entry.path] = entry
    index.finish()

    commands: dict[str, str] = {}
    for command, target in raw_commands.items():
        path = "/" + target
        entry = files.get(path)
        if entry is None or entry.is_dir:
            raise AospkgError(f"command {command!r} points at {target!r}, not a regular file")
        commands[command] = path

    return Aospkg(
        name=name,
        version=version,
        commands=MappingProxyType(commands),
        files=MappingProxyType(files),
        data=view,
    )


def _read_entry(index: _Cursor, view: memoryview, payload_start: int, digests: Mapping[str, str]) -> AospkgFile:
    path = index.string("path")
    if not _is_normal_absolute(path):
        raise index.fail(f"invalid path {path!r}")
    kind, offset, size, mode, uid, gid, mtime, reserved = index.unpack(_ENTRY_FIXED, "entry")
    if reserved:
        raise index.fail(f"unsupported entry extension {reserved} for {path!r}")
    if kind == _KIND_DIR:
        if not stat.S_ISDIR(mode) or size:
            raise index.fail(f"directory {path!r} has mode {mode:o} and size {size}")
        return AospkgFile(path, mode, uid, gid, mtime, 0, payload_start + offset, None)
    if kind != _KIND_FILE or not stat.S_ISREG(mode):
        raise index.fail(f"unsupported entry kind {kind} / mode {mode:o} for {path!r}")

    payload_len = len(view) - payload_start
    if offset < _TAR_BLOCK or offset > payload_len or size > payload_len - offset:
        raise index.fail(f"body of {path!r} ({offset}+{size}) is outside the payload")
    _check_tar_header(view, payload_start + offset - _TAR_BLOCK, path, size)
    start = payload_start + offset
    digest = digests.get(path) or hashlib.sha256(view[start : start + size]).hexdigest()
    return AospkgFile(path, mode, uid, gid, mtime, size, start, digest)


def _check_payload_end(view: memoryview, payload_start: int) -> None:
    # The container has no total-length field; the tar stream's own framing is
    # what reveals a truncated file: whole blocks, ending in two zero blocks.
    payload_len = len(view) - payload_start
    if payload_len % _TAR_BLOCK or payload_len < 2 * _TAR_BLOCK:
        raise AospkgError(f"payload of {payload_len} bytes is not whole tar blocks (truncated?)")
    if any(view[len(view) - 2 * _TAR_BLOCK :]):
        raise AospkgError("payload does not end with the tar end-of-archive blocks (truncated?)")


def _check_tar_header(view: memoryview, at: int, path: str, size: int) -> None:
    header = view[at : at + _TAR_BLOCK]
    if bytes(header[257:262]) != b"ustar":
        raise AospkgError(f"no tar header before the body of {path!r}")
    size_field = bytes(header[124:136]).strip(b"\0 ")
    try:
        tar_size = int(size_field, 8)
    except ValueError:
        raise AospkgError(f"bad tar size field {size_field!r} for {path!r}") from None
    if tar_size != size:
        raise AospkgError(f"index says {path!r} has {size} bytes, tar header says {tar_size}")


def _is_normal_absolute(path: str) -> bool:
    if path == "/":
        return True
    if not path.startswith("/") or path.endswith("/") or "\0" in path:
        return False
    return all(part not in ("", ".", "..") for part in path[1:].split("/"))
