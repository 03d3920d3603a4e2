"""Filesystem byte and inode limits: ENOSPC before any change."""

from __future__ import annotations

import dataclasses

import pytest
from _kernel_helpers import raises_errno

from agentvm_sidecar.kernel import FsAccounting, Limits, Vfs
from agentvm_sidecar.kernel import OpenFlags as O
from agentvm_sidecar.kernel import limits as L


def _small_vfs(max_bytes: int = 10_000, extra_inodes: int = 50) -> Vfs:
    big = Vfs.with_default_tree(FsAccounting())
    base = big.usage()
    acc = FsAccounting(base.bytes_used + max_bytes, base.inodes_used + extra_inodes)
    return Vfs.with_default_tree(acc)


def test_limits_have_bounded_defaults() -> None:
    lim = Limits()
    assert lim.fs_max_bytes == 256 * 1024 * 1024 == L.DEFAULT_FS_MAX_BYTES
    assert lim.fs_max_inodes == 65536
    assert lim.max_fds_per_vm == 4096 and lim.pipe_buffer_bytes == 256 * 1024
    with pytest.raises(ValueError):
        Limits(max_processes=-1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        lim.max_pipes = 3  # type: ignore[misc]


def test_accounting_reserves_and_releases() -> None:
    acc = FsAccounting(100, 2)
    acc.check_and_reserve(60, 1)
    with raises_errno("ENOSPC"):
        acc.check_and_reserve(41, 0)
    with raises_errno("ENOSPC"):
        acc.check_and_reserve(0, 2)
    assert acc.usage().bytes_used == 60 and acc.usage().inodes_used == 1
    acc.release(60, 1)
    assert acc.usage().bytes_used == 0


def test_write_beyond_the_byte_limit_raises_enospc_and_changes_nothing() -> None:
    vfs = _small_vfs(max_bytes=1000)
    vfs.write_file("/tmp/f", b"a" * 600)
    before = vfs.usage()
    with vfs.open("/tmp/f", O.WRITE | O.APPEND) as h, raises_errno("ENOSPC"):
        h.write(b"b" * 500)
    assert vfs.read_file("/tmp/f") == b"a" * 600
    assert vfs.usage() == before
    with raises_errno("ENOSPC"):
        vfs.write_file("/tmp/f", b"c" * 1200)
    assert vfs.read_file("/tmp/f") == b"a" * 600
    with raises_errno("ENOSPC"):
        vfs.write_file("/tmp/new", b"d" * 1200)
    assert not vfs.exists("/tmp/new")
    assert vfs.usage() == before
    vfs.write_file("/tmp/empty", b"")
    before = vfs.usage()
    with raises_errno("ENOSPC"):
        vfs.write_file("/tmp/empty", b"e" * 1200)  # an existing empty file stays empty
    assert vfs.read_file("/tmp/empty") == b""
    assert vfs.usage() == before
    with raises_errno("ENOSPC"):
        vfs.truncate("/tmp/f", 5000)
    assert vfs.stat("/tmp/f").size == 600


def test_creating_beyond_the_inode_limit_raises_enospc() -> None:
    vfs = _small_vfs(extra_inodes=3)
    vfs.mkdir("/tmp/a")
    vfs.write_file("/tmp/b", b"")
    vfs.symlink("x", "/tmp/c")
    with raises_errno("ENOSPC"):
        vfs.write_file("/tmp/d", b"")
    with raises_errno("ENOSPC"):
        vfs.mkdir("/tmp/e")
    assert not vfs.exists("/tmp/d") and not vfs.exists("/tmp/e")
    vfs.unlink("/tmp/b")
    vfs.mkdir("/tmp/e")


def test_freed_space_can_be_reused() -> None:
    vfs = _small_vfs(max_bytes=1000)
    for _ in range(5):
        vfs.write_file("/tmp/f", b"x" * 900)
        vfs.unlink("/tmp/f")
    assert vfs.usage().bytes_used == _small_vfs().usage().bytes_used


def test_overwriting_in_place_costs_no_extra_bytes() -> None:
    vfs = _small_vfs(max_bytes=1000)  # the entry "f" itself costs 65 of them
    vfs.write_file("/tmp/f", b"x" * 900)
    with vfs.open("/tmp/f", O.WRITE) as h:
        h.pwrite(b"y" * 900, 0)
    vfs.write_file("/tmp/f", b"z" * 930)
    assert vfs.read_file("/tmp/f") == b"z" * 930


def test_hard_links_names_and_symlink_targets_are_charged_and_given_back() -> None:
    vfs = _small_vfs(max_bytes=1000)
    empty = vfs.usage().bytes_used
    vfs.write_file("/tmp/a", b"")
    assert vfs.usage().bytes_used - empty == len("a") + 64
    links = []
    with raises_errno("ENOSPC"):
        for i in range(100):  # each link is a 42-byte name + 64: ~9 fit
            vfs.link("/tmp/a", f"/tmp/{'n' * 40}{i:02}")
            links.append(f"/tmp/{'n' * 40}{i:02}")
    assert 5 <= len(links) <= 9
    for path in links:
        vfs.unlink(path)
    assert vfs.usage().bytes_used - empty == len("a") + 64
    vfs.symlink("t" * 100, "/tmp/s")
    assert vfs.usage().bytes_used - empty == (1 + 64) + (1 + 64 + 100)
    vfs.unlink("/tmp/s")
    vfs.rename("/tmp/a", "/tmp/longer-name")
    assert vfs.usage().bytes_used - empty == len("longer-name") + 64
    vfs.unlink("/tmp/longer-name")
    assert vfs.usage().bytes_used == empty


def test_accounting_can_be_built_from_a_limits_record() -> None:
    acc = FsAccounting(Limits(fs_max_bytes=10, fs_max_inodes=2))
    assert (acc.max_bytes, acc.max_inodes) == (10, 2)
    assert FsAccounting.from_limits(Limits()).max_bytes == L.DEFAULT_FS_MAX_BYTES
