"""The shared decoders: argv/env vectors, spawn file actions, signal sets, O_* flags."""

from __future__ import annotations

import pytest

from agentvm_sidecar.kernel.errors import KernelError
from agentvm_sidecar.kernel.fstypes import OpenFlags
from agentvm_sidecar.wasm.host.encoding import (
    ACTION_CLOSE,
    ACTION_DUP2,
    ACTION_OPEN,
    MAX_ACTIONS,
    FileAction,
    decode_env,
    decode_file_actions,
    decode_strings,
    encode_file_action,
    linux_open_flags,
    sanitize_sigset,
    sigset_from_halves,
    sigset_halves,
    to_i32,
)


def errno_of(fn, *args) -> str:
    with pytest.raises(KernelError) as info:
        fn(*args)
    return info.value.errno


# -- argv / env ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", []),
        (b"\0", [""]),
        (b"ls\0", ["ls"]),
        (b"/bin/ls\0\0-l\0", ["/bin/ls", "", "-l"]),  # `ls "" -l`: the empty arg is real
        (b"a\0b", ["a", "b"]),  # no final NUL: nothing dropped
        (b"a\0\0", ["a", ""]),  # only ONE trailing empty element is dropped
        ("h\u00e9\0".encode(), ["h\u00e9"]),
    ],
)
def test_decode_strings(raw: bytes, expected: list[str]) -> None:
    assert decode_strings(raw) == expected


def test_decode_strings_keeps_bytes_that_are_not_utf8() -> None:
    # as on Linux, an argument is bytes; the kernel keeps them as surrogate escapes
    (ok, bad) = decode_strings(b"ok\0\xff\xfe\0")
    assert ok == "ok" and bad.encode("utf-8", "surrogateescape") == b"\xff\xfe"


def test_decode_env_rules() -> None:
    raw = b"A=1\0NOEQUALS\0=empty-key\0B=x=y\0A=2\0C=\0"
    assert decode_env(raw) == {"A": "2", "B": "x=y", "C": ""}
    assert list(decode_env(raw)) == ["A", "B", "C"]
    assert decode_env(b"") == {}


# -- file actions ---------------------------------------------------------------------------
def test_observed_encodings_decode() -> None:
    dup2 = bytes.fromhex("02000000 01000000 2a000000 00000000 00000000 00000000")
    open_null = bytes.fromhex("03000000 00000000 00000000 00000000 00000000 09000000 2f6465762f6e756c6c")
    close = bytes.fromhex("01000000 30000000 00000000 00000000 00000000 00000000")
    actions = decode_file_actions(dup2 + open_null + close)
    assert actions == [
        FileAction(ACTION_DUP2, 1, 42),
        FileAction(ACTION_OPEN, 0, 0, 0, 0, "/dev/null"),
        FileAction(ACTION_CLOSE, 48),
    ]


def test_roundtrip_and_empty() -> None:
    actions = [
        FileAction(ACTION_OPEN, 5, 0, 0o1101, 0o640, "out file"),
        FileAction(4, 0, path="/tmp"),  # CHDIR
        FileAction(5, 7),  # FCHDIR
        FileAction(6, 3),  # CLOSEFROM
        FileAction(ACTION_DUP2, -1, 2),  # negative fds decode; applying them is EBADF
    ]
    raw = b"".join(encode_file_action(a) for a in actions)
    assert decode_file_actions(raw) == actions
    assert decode_file_actions(b"") == []


@pytest.mark.parametrize("cut", [1, 12, 23])
def test_truncated_header_is_einval(cut: int) -> None:
    good = encode_file_action(FileAction(ACTION_CLOSE, 3))
    assert errno_of(decode_file_actions, good + good[:cut]) == "EINVAL"


def test_truncated_path_is_einval() -> None:
    raw = encode_file_action(FileAction(ACTION_OPEN, 0, path="/dev/null"))
    assert errno_of(decode_file_actions, raw[:-1]) == "EINVAL"


@pytest.mark.parametrize("command", [0, 7, 0xFFFFFFFF])
def test_unknown_command_is_einval(command: int) -> None:
    raw = command.to_bytes(4, "little") + bytes(20)
    assert errno_of(decode_file_actions, raw) == "EINVAL"


def test_too_many_actions_is_e2big() -> None:
    one = encode_file_action(FileAction(ACTION_CLOSE, 9))
    assert len(decode_file_actions(one * MAX_ACTIONS)) == MAX_ACTIONS
    assert errno_of(decode_file_actions, one * (MAX_ACTIONS + 1)) == "E2BIG"


def test_over_one_mib_is_e2big() -> None:
    path = "x" * ((1 << 20) - 24 + 1)
    assert errno_of(decode_file_actions, encode_file_action(FileAction(ACTION_OPEN, 0, path=path))) == "E2BIG"


# -- signal sets ------------------------------------------------------------------------------
def test_signal_set_halves() -> None:
    mask = sigset_from_halves(1 << 14, 1)  # SIGTERM (15) and signal 33
    assert mask == (1 << 14) | (1 << 32)
    assert sigset_halves(mask) == (1 << 14, 1)
    assert sigset_from_halves(-1, -1) == (1 << 64) - 1  # sign-extended ints are read as u32


def test_sanitize_drops_kill_and_stop() -> None:
    everything = (1 << 64) - 1
    clean = sanitize_sigset(everything)
    assert not clean & (1 << 8) and not clean & (1 << 18)
    assert clean == everything & ~((1 << 8) | (1 << 18))


def test_to_i32() -> None:
    assert to_i32(0xFFFFFFFF) == -1
    assert to_i32(-1) == -1
    assert to_i32(0x7FFFFFFF) == 0x7FFFFFFF
    assert to_i32(0xFFFFFF85) == -123


# -- open flags --------------------------------------------------------------------------------
def test_linux_open_flags() -> None:
    assert linux_open_flags(0) == (OpenFlags.READ, False, False)
    assert linux_open_flags(1)[0] == OpenFlags.WRITE
    assert linux_open_flags(2)[0] == OpenFlags.READ | OpenFlags.WRITE
    flags, nonblock, cloexec = linux_open_flags(0o1 | 0o100 | 0o1000 | 0o4000 | 0o2000000)
    assert flags == OpenFlags.WRITE | OpenFlags.CREAT | OpenFlags.TRUNC
    assert nonblock and cloexec
    assert linux_open_flags(0o1 | 0o2000 | 0o200)[0] == OpenFlags.WRITE | OpenFlags.APPEND | OpenFlags.EXCL
    assert errno_of(linux_open_flags, 3) == "EINVAL"
