"""Native fd_read of host files (native/agentvm_native.c, kernel/handle.py
share_position): a host_dir regular file opened read-only is read in C at its
description's position, and every other use of that position (Python's reads,
seek, tell, a dup) sees the same one; a closed description is never read.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentvm_sidecar.kernel.kernel import Kernel
from agentvm_sidecar.wasm.wasi import layouts as L

from .conftest import E, Guest
from .test_stat_memo import make_share, vm_with_share
from .test_wasi_native import native_call

READ_ONLY = L.RIGHT_FD_READ | L.RIGHT_FD_SEEK | L.RIGHT_FD_TELL
CHUNK = 262144  # reads long enough that two readers' reads overlap
COUNTED = b"".join(i.to_bytes(4, "big") for i in range(1 << 20))  # 4 MiB of distinct chunks


@pytest.fixture
def vm(tmp_path: Path) -> Iterator[tuple[Kernel, Guest]]:
    share = make_share(tmp_path)
    (share / "counted.bin").write_bytes(COUNTED)
    with vm_with_share(share) as pair:
        yield pair


def native_read(g: Guest, fd: int, *sizes: int) -> tuple[int, bytes]:
    """fd_read through the C function into buffers of ``sizes``: (errno, bytes)."""
    bufs = [(g.alloc(n), n) for n in sizes]
    iovs, count = g.iovecs(*bufs)
    ret = g.alloc(4)
    err = native_call(g, "fd_read", fd, iovs, count, ret)
    n = g.u32(ret) if err == 0 else 0
    data = b"".join(g.read(p, size) for p, size in bufs)
    return err, data[:n]


def tell(g: Guest, fd: int) -> int:
    ret = g.alloc(8)
    assert g.call("fd_tell", fd, ret) == 0
    return g.u64(ret)


def test_a_host_file_is_read_in_c_at_the_position_python_sees(vm) -> None:  # type: ignore[no-untyped-def]
    _, g = vm
    fd = g.open("a.txt", rights=READ_ONLY)
    before = g.proc.fds.native.served("fd_read")
    assert native_read(g, fd, 2) == (0, b"al")
    assert g.proc.fds.native.served("fd_read") == before + 1
    assert tell(g, fd) == 2
    assert g.call("fd_seek", fd, 1, 0, g.alloc(8)) == 0  # SEEK_SET 1
    assert native_read(g, fd, 2, 1) == (0, b"lph")  # two iovecs
    assert g.read_fd(fd, 10) == (0, b"a")  # Python reads on from there
    assert native_read(g, fd, 4) == (0, b"")  # the end


def test_a_dup_shares_the_position(vm) -> None:  # type: ignore[no-untyped-def]
    _, g = vm
    fd = g.open("a.txt", rights=READ_ONLY)
    dup = g.proc.fds.dup(fd)
    assert native_read(g, fd, 2) == (0, b"al")
    assert native_read(g, dup, 2) == (0, b"ph")
    assert tell(g, fd) == 4


def test_a_closed_description_is_never_read_natively(vm) -> None:  # type: ignore[no-untyped-def]
    _, g = vm
    fd = g.open("a.txt", rights=READ_ONLY)
    shared = g.proc.fds.get(fd).native
    assert g.call("fd_close", fd) == 0
    assert g.open("sub/file.txt", rights=READ_ONLY) == fd  # its host fd takes the freed number too
    with pytest.raises(OSError):  # EBADF: C gave the host fd back before Python closed it
        shared.read_into(memoryview(bytearray(4)))
    assert native_read(g, fd, 4) == (0, b"insi")


def test_a_file_open_for_writing_and_a_dropped_right_take_the_python_path(vm) -> None:  # type: ignore[no-untyped-def]
    _, g = vm
    rw = g.open("a.txt", rights=READ_ONLY | L.RIGHT_FD_WRITE)
    before = g.proc.fds.native.served("fd_read")
    assert native_read(g, rw, 5) == (0, b"alpha")
    assert g.proc.fds.native.served("fd_read") == before  # Python read it
    ro = g.open("a.txt", rights=READ_ONLY)
    assert g.call("fd_fdstat_set_rights", ro, L.RIGHT_FD_SEEK, 0) == 0  # no read right
    assert native_read(g, ro, 5)[0] == E["ENOTCAPABLE"]


def test_two_threads_reading_one_description_read_each_byte_once(vm) -> None:  # type: ignore[no-untyped-def]
    # Through the calls Python makes (the guest's memory is too small for reads
    # long enough to overlap): the same locked read the native fd_read makes.
    _, g = vm
    fd = g.open("counted.bin", rights=READ_ONLY)
    shared = g.proc.fds.get(fd).native
    start = threading.Barrier(2)

    def drain(out: list[bytes]) -> None:
        buf = bytearray(CHUNK)
        start.wait()
        while n := shared.read_into(memoryview(buf)):
            out.append(bytes(buf[:n]))

    for _ in range(24):  # the race this guards against does not show every time
        assert g.call("fd_seek", fd, 0, 0, g.alloc(8)) == 0
        chunks: list[list[bytes]] = [[], []]
        threads = [threading.Thread(target=drain, args=(out,)) for out in chunks]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(chunks[0] + chunks[1]) == [COUNTED[i : i + CHUNK] for i in range(0, len(COUNTED), CHUNK)]
