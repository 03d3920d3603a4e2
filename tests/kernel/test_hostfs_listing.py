"""host_dir listings (kernel/hostfs.py _list over native avm_list_dir): every entry
once, with its kind and inode, whatever the directory holds and however large; the
lstats the listing keeps for the process are the ones a stat would make.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentvm_sidecar.kernel import FileKind, FsAccounting, HostFs, Vfs, attrcache

ODD_NAME = b"caf\xe9-not-utf8"  # a host name that is no UTF-8: surrogate-escaped


def _vm(share: Path, owner: int | None = 1000) -> tuple[Vfs, HostFs]:
    fs = HostFs(share, owner_uid=owner, owner_gid=owner)
    vfs = Vfs.with_default_tree(FsAccounting())
    vfs.mkdir("/mnt/host", recursive=True)
    vfs.mount("/mnt/host", fs)
    return vfs, fs


def every_kind(share: Path) -> Path:
    share.mkdir(exist_ok=True)
    (share / "dir").mkdir()
    os.symlink("dir", share / "link")
    os.mkfifo(share / "fifo")
    (share / "file").write_bytes(b"12345")
    os.close(os.open(os.path.join(os.fsencode(share), ODD_NAME), os.O_CREAT | os.O_WRONLY, 0o644))
    return share


@pytest.fixture
def crowded(tmp_path: Path) -> Path:
    """A directory of every kind of entry and more names than one native call
    lists (200-byte names: ~300 of them fill a getdents buffer)."""
    share = tmp_path / "share"
    share.mkdir()
    for i in range(1500):
        (share / f"{i:05d}-{'x' * 194}").write_bytes(b"")
    return every_kind(share)


KINDS = {"dir": FileKind.DIRECTORY, "link": FileKind.SYMLINK, "fifo": FileKind.FIFO, "file": FileKind.REGULAR}


@pytest.mark.parametrize("with_cache", [False, True])
def test_every_entry_is_listed_once_with_its_kind_and_inode(crowded: Path, with_cache: bool) -> None:
    vm, _ = _vm(crowded)
    if with_cache:
        with attrcache.process_cache():
            entries = vm.readdir("/mnt/host")
    else:
        entries = vm.readdir("/mnt/host")
    host = {os.fsdecode(e.name): e for e in os.scandir(os.fsencode(crowded))}
    listed = {e.name: e for e in entries if e.name not in (".", "..")}
    assert sorted(listed) == sorted(host)
    assert os.fsdecode(ODD_NAME) in listed
    for name, entry in listed.items():
        assert entry.ino == host[name].inode()
        assert entry.kind is KINDS.get(name, FileKind.REGULAR), name


@pytest.mark.parametrize("owner", [None, 4242])  # the host's owners, or the mount's
def test_the_stats_a_listing_keeps_are_those_a_stat_makes(tmp_path: Path, owner: int | None) -> None:
    vm, fs = _vm(every_kind(tmp_path / "share"), owner)
    names = ["dir", "link", "fifo", "file", os.fsdecode(ODD_NAME)]
    fresh = {name: vm.lstat(f"/mnt/host/{name}") for name in names}  # no cache: from the host
    with attrcache.process_cache() as cache:
        vm.readdir("/mnt/host")
        for name in names:
            assert cache.get(fs, (name,)) is not None, name  # kept by the listing
            assert vm.lstat(f"/mnt/host/{name}") == fresh[name], name


def test_a_listing_keeps_no_more_entries_than_the_cache_holds(crowded: Path) -> None:
    vm, _ = _vm(crowded)
    with attrcache.process_cache() as cache:
        vm.readdir("/mnt/host")
        assert 0 < len(cache._entries) <= attrcache.MAX_ENTRIES
