"""The `.aospkg` reader, against the real pinned containers and hostile input.

Invariant (as in h11's fuzz harness): any byte string either parses or raises
AospkgError, never another exception.
"""

from __future__ import annotations

import hashlib
import io
import struct
import tarfile
from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentvm_sidecar.software import PINS, Aospkg, AospkgError, Pin, parse_aospkg

WASM_MAGIC = b"\0asm\x01\x00\x00\x00"
DIR_MODE = 0o40755
FILE_MODE = 0o100755


# -- a writer for the observed layout, used to round-trip and to forge input --


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def string(s: str | bytes) -> bytes:
    raw = s.encode() if isinstance(s, str) else s
    return varint(len(raw)) + raw


def manifest(name: str, version: str, commands: list[tuple[str, str]]) -> bytes:
    body = b"".join(string(c) + string(t) for c, t in commands)
    head = b"\x01\x00" + string(name) + string(version) + b"\0\0"
    return head + varint(len(commands)) + body + b"\0\0"


def entry(
    path: str,
    *,
    kind: int,
    offset: int,
    size: int,
    mode: int,
    uid: int = 1000,
    gid: int = 1000,
    mtime: int = 1_700_000_000,
    reserved: int = 0,
) -> bytes:
    return string(path) + struct.pack("<BQQIIIqB", kind, offset, size, mode, uid, gid, mtime, reserved)


def index(entries: list[bytes]) -> bytes:
    return b"\x01\x00" + varint(len(entries)) + b"".join(entries)


def container(
    manifest_bytes: bytes,
    index_bytes: bytes,
    payload: bytes,
    *,
    magic: bytes = b"\x89AOS",
    fmt: int = 1,
    manifest_len: int | None = None,
    index_len: int | None = None,
) -> bytes:
    header = struct.pack(
        "<4sIII",
        magic,
        fmt,
        len(manifest_bytes) if manifest_len is None else manifest_len,
        len(index_bytes) if index_len is None else index_len,
    )
    return header + manifest_bytes + index_bytes + payload


def tar_payload(files: dict[str, bytes]) -> tuple[bytes, dict[str, int]]:
    """A tar stream of `files` and each body's offset within it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for path, body in files.items():
            info = tarfile.TarInfo("." + path)
            info.size = len(body)
            info.mode = 0o755
            tf.addfile(info, io.BytesIO(body))
    data = buf.getvalue()
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        offsets = {m.name[1:]: m.offset_data for m in tf.getmembers()}
    return data, offsets


HELLO = WASM_MAGIC + b"hello"
PAYLOAD, OFFSETS = tar_payload({"/bin/hi": HELLO})


def forged(
    *,
    commands: list[tuple[str, str]] | None = None,
    entries: list[bytes] | None = None,
    payload: bytes = PAYLOAD,
    **header: object,
) -> bytes:
    """A valid one-command container, with any part replaced."""
    if commands is None:
        commands = [("hi", "bin/hi")]
    if entries is None:
        entries = [
            entry("/", kind=1, offset=0, size=0, mode=DIR_MODE, uid=0, gid=0, mtime=0),
            entry("/bin", kind=1, offset=512, size=0, mode=DIR_MODE),
            entry("/bin/hi", kind=0, offset=OFFSETS["/bin/hi"], size=len(HELLO), mode=FILE_MODE),
        ]
    return container(manifest("hi", "1.0.0", commands), index(entries), payload, **header)  # type: ignore[arg-type]


# -- the real containers --


def test_coreutils_has_118_wasm_commands_and_101_distinct_modules(coreutils_bytes: bytes) -> None:
    pkg = parse_aospkg(coreutils_bytes)
    assert (pkg.name, pkg.version) == ("coreutils", "0.3.4")
    assert len(pkg.commands) == 118
    assert len(pkg.files) == 120  # "/" and "/bin" plus one file per command
    assert [p for p, f in pkg.files.items() if f.is_dir] == ["/", "/bin"]
    regular = [f for f in pkg.files.values() if not f.is_dir]
    assert sorted(f.path for f in regular) == sorted(pkg.commands.values())
    assert all(bytes(pkg.read(f.path)[:8]) == WASM_MAGIC for f in regular)
    assert all((f.mode, f.uid, f.gid) == (FILE_MODE, 1000, 1000) for f in regular)
    assert pkg.commands["ls"] == "/bin/ls"
    assert {"sh", "bash", "cat", "ls", "["} <= set(pkg.commands)
    assert len({f.sha256 for f in regular}) == 101


def test_multicall_copies_share_one_sha256(coreutils_bytes: bytes) -> None:
    pkg = parse_aospkg(coreutils_bytes)
    sha = {name: pkg.files[path].sha256 for name, path in pkg.commands.items()}
    assert sha["sh"] == sha["bash"]
    assert sha["ls"] == sha["dir"] == sha["vdir"]
    assert sha["["] == sha["test"]
    copies = Counter(sha.values())
    assert sorted(n for n in copies.values() if n > 1) == [2, 2, 2, 3, 13]


def test_sha256_matches_body_and_read_is_a_zero_copy_view(grep_bytes: bytes) -> None:
    pkg = parse_aospkg(grep_bytes)
    for f in pkg.files.values():
        if f.is_dir:
            assert f.sha256 is None
            continue
        body = pkg.read(f.path)
        assert body.obj is grep_bytes
        assert len(body) == f.size
        assert hashlib.sha256(body).hexdigest() == f.sha256


def test_read_rejects_directories_and_unknown_paths(grep_bytes: bytes) -> None:
    pkg = parse_aospkg(grep_bytes)
    with pytest.raises(IsADirectoryError):
        pkg.read("/bin")
    with pytest.raises(KeyError):
        pkg.read("/bin/nope")


EXPECTED_COMMANDS = {
    "coreutils": 118,
    "sed": 1,
    "grep": 2,  # egrep and fgrep only: they spawn `grep`, which the package lacks
    "gawk": 1,
    "findutils": 2,
    "diffutils": 1,
    "codex-cli": 2,  # codex and codex-exec: one module
    "tar": 1,
    "gzip": 3,
}


@pytest.mark.parametrize("pin", PINS, ids=lambda p: p.name)
def test_every_pinned_container_parses_with_its_pinned_identity(
    pin: Pin, read_fetched: Callable[[Pin], bytes]
) -> None:
    pkg = parse_aospkg(read_fetched(pin))
    assert (pkg.name, pkg.version) == (pin.name, pin.version)
    assert len(pkg.commands) == EXPECTED_COMMANDS[pin.name]
    assert all(bytes(pkg.read(path)[:8]) == WASM_MAGIC for path in pkg.commands.values())


def _sections(pkg: Aospkg, payload_start: int) -> tuple[bytes, bytes]:
    commands = [(name, path[1:]) for name, path in pkg.commands.items()]
    entries = [
        entry(
            f.path,
            kind=1 if f.is_dir else 0,
            offset=f.offset - payload_start,
            size=f.size,
            mode=f.mode,
            uid=f.uid,
            gid=f.gid,
            mtime=f.mtime,
        )
        for f in pkg.files.values()
    ]
    return manifest(pkg.name, pkg.version, commands), index(entries)


@pytest.mark.parametrize("pin", PINS, ids=lambda p: p.name)
def test_rewriting_the_parsed_fields_reproduces_the_container_byte_for_byte(
    pin: Pin, read_fetched: Callable[[Pin], bytes]
) -> None:
    data = read_fetched(pin)
    _, _, manifest_len, index_len = struct.unpack_from("<4sIII", data)
    payload_start = 16 + manifest_len + index_len
    manifest_bytes, index_bytes = _sections(parse_aospkg(data), payload_start)
    assert container(manifest_bytes, index_bytes, data[payload_start:]) == data


def test_every_truncation_of_a_real_container_raises(grep_bytes: bytes) -> None:
    _, _, manifest_len, index_len = struct.unpack_from("<4sIII", grep_bytes)
    payload_start = 16 + manifest_len + index_len
    cuts = [*range(payload_start + 600), *range(payload_start, len(grep_bytes), 509)]
    for cut in cuts:
        with pytest.raises(AospkgError):
            parse_aospkg(grep_bytes[:cut])


# -- forged input --


def test_the_forged_baseline_parses() -> None:
    pkg = parse_aospkg(forged())
    assert dict(pkg.commands) == {"hi": "/bin/hi"}
    assert bytes(pkg.read("/bin/hi")) == HELLO


HUGE_VARINT = b"\xff\xff\xff\xff\x0f"


def _with_manifest(raw: bytes) -> bytes:
    return container(raw, index([]), PAYLOAD)


HOSTILE = {
    "bad_magic": forged(magic=b"\x7fELF"),
    "future_format": forged(fmt=2),
    "huge_manifest_len": forged(manifest_len=0xFFFF_FFFF),
    "huge_index_len": forged(index_len=0xFFFF_FFFF),
    "manifest_len_past_end": forged(manifest_len=len(manifest("hi", "1.0.0", [("hi", "bin/hi")])) + 1),
    "future_manifest_section": _with_manifest(b"\x02\x00" + manifest("hi", "1", [])[2:]),
    "huge_command_count": _with_manifest(b"\x01\x00\x02hi\x011\0\0" + HUGE_VARINT),
    "huge_string_length": _with_manifest(b"\x01\x00" + HUGE_VARINT + b"hi"),
    "overlong_varint": _with_manifest(b"\x01\x00\x82\x00hi\x011\0\0\0\0\0"),
    "endless_varint": _with_manifest(b"\x01\x00" + b"\xff" * 6),
    "varint_over_32_bits": _with_manifest(b"\x01\x00\xff\xff\xff\xff\x7f"),
    "non_utf8_name": _with_manifest(b"\x01\x00\x02\xff\xfe\x011\0\0\0\0\0"),
    "reserved_manifest_field_set": _with_manifest(b"\x01\x00\x02hi\x011\x01\0\0\0\0"),
    "manifest_trailing_bytes": _with_manifest(manifest("hi", "1", []) + b"\0"),
    "duplicate_command": forged(commands=[("hi", "bin/hi"), ("hi", "bin/hi")]),
    "command_with_slash": forged(commands=[("a/b", "bin/hi")]),
    "command_to_missing_file": forged(commands=[("hi", "bin/nope")]),
    "command_to_directory": forged(commands=[("hi", "bin")]),
    "huge_entry_count": container(manifest("hi", "1", []), b"\x01\x00" + HUGE_VARINT, PAYLOAD),
    "huge_offset": forged(
        entries=[entry("/bin/hi", kind=0, offset=2**64 - 1, size=5, mode=FILE_MODE)]
    ),
    "huge_size": forged(
        entries=[entry("/bin/hi", kind=0, offset=OFFSETS["/bin/hi"], size=2**64 - 1, mode=FILE_MODE)]
    ),
    "offset_off_a_tar_body": forged(
        entries=[entry("/bin/hi", kind=0, offset=OFFSETS["/bin/hi"] + 1, size=5, mode=FILE_MODE)]
    ),
    "size_disagrees_with_tar": forged(
        entries=[entry("/bin/hi", kind=0, offset=OFFSETS["/bin/hi"], size=len(HELLO) - 1, mode=FILE_MODE)]
    ),
    "duplicate_path": forged(
        entries=[
            entry("/bin", kind=1, offset=0, size=0, mode=DIR_MODE),
            entry("/bin", kind=1, offset=0, size=0, mode=DIR_MODE),
        ]
    ),
    "dotdot_path": forged(
        entries=[entry("/bin/../hi", kind=0, offset=OFFSETS["/bin/hi"], size=len(HELLO), mode=FILE_MODE)]
    ),
    "relative_path": forged(
        entries=[entry("bin/hi", kind=0, offset=OFFSETS["/bin/hi"], size=len(HELLO), mode=FILE_MODE)]
    ),
    "unknown_kind": forged(
        entries=[entry("/bin/hi", kind=2, offset=OFFSETS["/bin/hi"], size=len(HELLO), mode=0o120777)]
    ),
    "file_kind_with_dir_mode": forged(
        entries=[entry("/bin/hi", kind=0, offset=OFFSETS["/bin/hi"], size=len(HELLO), mode=DIR_MODE)]
    ),
    "dir_with_size": forged(entries=[entry("/bin", kind=1, offset=0, size=5, mode=DIR_MODE)]),
    "entry_extension_set": forged(
        entries=[
            entry("/bin/hi", kind=0, offset=OFFSETS["/bin/hi"], size=len(HELLO), mode=FILE_MODE, reserved=1)
        ]
    ),
    "payload_not_whole_blocks": forged(payload=PAYLOAD + b"\0"),
    "payload_without_end_marker": forged(payload=PAYLOAD[:-1] + b"\x01"),
}


@pytest.mark.parametrize("data", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_container_raises_aospkg_error(data: bytes) -> None:
    with pytest.raises(AospkgError):
        parse_aospkg(data)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_mutation_parses_or_raises_aospkg_error(data: st.DataObject) -> None:
    blob = bytearray(forged())
    sections_end = len(blob) - len(PAYLOAD) + OFFSETS["/bin/hi"] + len(HELLO)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, sections_end - 1))
        blob[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(blob)))
    try:
        parse_aospkg(bytes(blob[:cut]) if cut < len(blob) else bytes(blob))
    except AospkgError:
        pass
