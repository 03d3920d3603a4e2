"""Decoders for the agentOS host ABI's structured arguments.

Pure functions over bytes (no guest memory, no kernel), so they are unit-testable
and shared by host_process (spawn, exec) and the other host modules:

- NUL-separated string vectors (argv, env) as ``"a\\0b\\0"``: split on NUL, drop
  exactly one trailing empty element, keep empty arguments in the middle; every
  element must be UTF-8 (EINVAL otherwise), as agentOS' ``nul_strings``.
- the child environment: ``K=V`` entries, split at the first ``=``; entries without
  ``=`` or with an empty key are skipped; a later duplicate overrides an earlier one.
- posix_spawn file-action records: a 24-byte little-endian header followed by the
  unpadded path bytes (see :class:`FileAction`); a truncated header or path, or an
  unknown command, is EINVAL; more than 4096 actions or 1 MiB of actions is E2BIG.
- signal sets split in two u32 halves (signal s <-> bit s-1 of lo|hi<<32);
  SIGKILL and SIGSTOP are dropped from any guest-supplied set.
- Linux ``O_*`` open flags (spawn OPEN actions) to kernel :class:`OpenFlags`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ...kernel.errors import KernelError
from ...kernel.fstypes import OpenFlags

__all__ = [
    "ACTION_CHDIR",
    "ACTION_CLOSE",
    "ACTION_CLOSEFROM",
    "ACTION_DUP2",
    "ACTION_FCHDIR",
    "ACTION_HEADER",
    "ACTION_OPEN",
    "MAX_ACTIONS",
    "MAX_ACTIONS_BYTES",
    "FileAction",
    "LinuxOpen",
    "decode_env",
    "decode_file_actions",
    "decode_strings",
    "encode_file_action",
    "linux_open_flags",
    "sanitize_sigset",
    "sigset_from_halves",
    "sigset_halves",
    "to_i32",
]

ACTION_CLOSE = 1
ACTION_DUP2 = 2
ACTION_OPEN = 3
ACTION_CHDIR = 4
ACTION_FCHDIR = 5
ACTION_CLOSEFROM = 6
_COMMANDS = {ACTION_CLOSE, ACTION_DUP2, ACTION_OPEN, ACTION_CHDIR, ACTION_FCHDIR, ACTION_CLOSEFROM}

MAX_ACTIONS = 4096
MAX_ACTIONS_BYTES = 1 << 20

_HEADER = struct.Struct("<IiiiII")  # command, fd, source_fd, oflag, mode, path_len
ACTION_HEADER = _HEADER.size  # 24

_UNCATCHABLE = (1 << (9 - 1)) | (1 << (19 - 1))  # SIGKILL, SIGSTOP
_U32 = 0xFFFFFFFF


def to_i32(value: int) -> int:
    """A wasm i32 (as wasmtime hands it over, either sign) read as signed."""
    value &= _U32
    return value - (1 << 32) if value & 0x80000000 else value


# -- argv / env -----------------------------------------------------------------
def decode_strings(buf: bytes) -> list[str]:
    """A NUL-terminated string vector. Elements are bytes, as on Linux: undecodable
    ones are kept with surrogateescape (the wire shows them as U+FFFD plus bytes)."""
    if not buf:
        return []
    parts = buf.split(b"\0")
    if parts[-1] == b"":
        parts.pop()
    return [p.decode("utf-8", "surrogateescape") for p in parts]


def decode_env(buf: bytes) -> dict[str, str]:
    """The complete environment of a child (later duplicates win)."""
    env: dict[str, str] = {}
    for entry in decode_strings(buf):
        key, sep, value = entry.partition("=")
        if sep and key:
            env[key] = value
    return env


# -- file actions -----------------------------------------------------------------
@dataclass(frozen=True)
class FileAction:
    """One posix_spawn file action (Linux numbering in ``oflag``)."""

    command: int
    fd: int
    source_fd: int = 0
    oflag: int = 0
    mode: int = 0
    path: str = ""


def decode_file_actions(buf: bytes) -> list[FileAction]:
    """Decode an actions buffer. Raises: EINVAL (truncated, unknown command), E2BIG."""
    if len(buf) > MAX_ACTIONS_BYTES:
        raise KernelError("E2BIG", "spawn file actions too large")
    actions: list[FileAction] = []
    offset = 0
    while offset < len(buf):
        if len(actions) >= MAX_ACTIONS:
            raise KernelError("E2BIG", "too many spawn file actions")
        if len(buf) - offset < ACTION_HEADER:
            raise KernelError.einval(message="truncated spawn file action header")
        command, fd, source_fd, oflag, mode, path_len = _HEADER.unpack_from(buf, offset)
        offset += ACTION_HEADER
        if command not in _COMMANDS:
            raise KernelError.einval(message=f"unknown spawn file action {command}")
        if path_len > len(buf) - offset:
            raise KernelError.einval(message="truncated spawn file action path")
        raw = bytes(buf[offset : offset + path_len])
        offset += path_len
        actions.append(FileAction(command, fd, source_fd, oflag, mode, raw.decode("utf-8", "surrogateescape")))
    return actions


def encode_file_action(action: FileAction) -> bytes:
    """The wire form of ``action`` (for tests and tools)."""
    path = action.path.encode("utf-8", "surrogateescape")
    return _HEADER.pack(action.command, action.fd, action.source_fd, action.oflag, action.mode, len(path)) + path


# -- signal sets ------------------------------------------------------------------
def sigset_from_halves(lo: int, hi: int) -> int:
    return (lo & _U32) | ((hi & _U32) << 32)


def sigset_halves(mask: int) -> tuple[int, int]:
    return mask & _U32, (mask >> 32) & _U32


def sanitize_sigset(mask: int) -> int:
    """Drop SIGKILL and SIGSTOP: they can be neither blocked nor reset."""
    return mask & ~_UNCATCHABLE & 0xFFFFFFFFFFFFFFFF


# -- Linux open flags ---------------------------------------------------------------
class LinuxOpen:
    """Linux (asm-generic) ``O_*`` values, as the guests' spawn OPEN actions use."""

    ACCMODE = 0o3
    RDONLY = 0o0
    WRONLY = 0o1
    RDWR = 0o2
    CREAT = 0o100
    EXCL = 0o200
    NOCTTY = 0o400
    TRUNC = 0o1000
    APPEND = 0o2000
    NONBLOCK = 0o4000
    DIRECTORY = 0o200000
    NOFOLLOW = 0o400000
    CLOEXEC = 0o2000000


def linux_open_flags(oflag: int) -> tuple[OpenFlags, bool, bool]:
    """(kernel flags, O_NONBLOCK, O_CLOEXEC) for a Linux ``oflag``. Raises: EINVAL."""
    access = oflag & LinuxOpen.ACCMODE
    if access == LinuxOpen.RDONLY:
        flags = OpenFlags.READ
    elif access == LinuxOpen.WRONLY:
        flags = OpenFlags.WRITE
    elif access == LinuxOpen.RDWR:
        flags = OpenFlags.READ | OpenFlags.WRITE
    else:
        raise KernelError.einval(message="bad open access mode")
    for bit, flag in (
        (LinuxOpen.CREAT, OpenFlags.CREAT),
        (LinuxOpen.EXCL, OpenFlags.EXCL),
        (LinuxOpen.TRUNC, OpenFlags.TRUNC),
        (LinuxOpen.APPEND, OpenFlags.APPEND),
        (LinuxOpen.DIRECTORY, OpenFlags.DIRECTORY),
        (LinuxOpen.NOFOLLOW, OpenFlags.NOFOLLOW),
    ):
        if oflag & bit:
            flags |= flag
    return flags, bool(oflag & LinuxOpen.NONBLOCK), bool(oflag & LinuxOpen.CLOEXEC)
