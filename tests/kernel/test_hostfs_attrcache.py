"""host_dir attribute cache (kernel/attrcache.py): a guest process's repeated stats
of the same path are answered from what it just saw, without ever showing it a
change made through this sidecar late, and without weakening confinement.

Each test runs the VFS inside ``process_cache()``, as a guest process's thread does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _kernel_helpers import raises_errno

from agentvm_sidecar.kernel import USER, FileKind, FsAccounting, HostFs, KernelError, MemoryBudget, Vfs, attrcache, openat2
from agentvm_sidecar.kernel import OpenFlags as O


@pytest.fixture
def share(tmp_path: Path) -> Path:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_bytes(b"OUTSIDE SECRET")
    share = tmp_path / "share"
    (share / "sub").mkdir(parents=True)
    (share / "sub" / "file.txt").write_bytes(b"inside")
    return share


def _vm(share: Path) -> Vfs:
    vfs = Vfs.with_default_tree(FsAccounting())
    vfs.mkdir("/mnt/host", recursive=True)
    vfs.mount("/mnt/host", HostFs(share))
    return vfs


@pytest.fixture
def cached() -> Iterator[attrcache.AttrCache]:
    with attrcache.process_cache() as cache:
        yield cache


def test_repeated_stats_are_answered_from_the_cache_until_the_host_changes(share: Path, cached) -> None:
    vm = _vm(share)
    assert vm.stat("/mnt/host/sub/file.txt").size == 6
    (share / "sub" / "file.txt").write_bytes(b"changed on the host")  # not through this sidecar
    assert vm.stat("/mnt/host/sub/file.txt").size == 6  # within TTL_SECONDS: what was just seen


def test_a_change_made_through_the_vfs_is_seen_at_once(share: Path, cached) -> None:
    vm = _vm(share)
    assert vm.stat("/mnt/host/sub/file.txt").size == 6
    h = vm.open("/mnt/host/sub/file.txt", O.WRITE | O.APPEND, cred=USER)
    h.write(b" and more")
    h.close()
    assert vm.stat("/mnt/host/sub/file.txt").size == 15
    vm.chmod("/mnt/host/sub/file.txt", 0o600)
    assert vm.stat("/mnt/host/sub/file.txt").mode & 0o777 == 0o600
    vm.rename("/mnt/host/sub/file.txt", "/mnt/host/sub/moved.txt")
    with raises_errno("ENOENT"):
        vm.stat("/mnt/host/sub/file.txt")


def test_a_change_made_by_another_vm_over_the_same_host_dir_is_seen_at_once(share: Path, cached) -> None:
    mine, other = _vm(share), _vm(share)
    assert mine.stat("/mnt/host/sub/file.txt").size == 6
    other.write_file("/mnt/host/sub/file.txt", b"rewritten by the other vm")
    assert mine.stat("/mnt/host/sub/file.txt").size == 25


def test_a_name_created_on_the_host_is_found_at_once(share: Path, cached) -> None:
    vm = _vm(share)
    with raises_errno("ENOENT"):
        vm.stat("/mnt/host/sub/new.txt")
    (share / "sub" / "new.txt").write_bytes(b"new")
    assert vm.stat("/mnt/host/sub/new.txt").size == 3


def test_an_entry_expires_after_the_ttl(share: Path, cached, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attrcache, "TTL_SECONDS", -1.0)  # every entry is already expired
    vm = _vm(share)
    assert vm.stat("/mnt/host/sub/file.txt").size == 6
    (share / "sub" / "file.txt").write_bytes(b"changed on the host")
    assert vm.stat("/mnt/host/sub/file.txt").size == 19


def test_without_a_process_cache_every_stat_asks_the_host(share: Path) -> None:
    vm = _vm(share)  # client fs.* calls run outside any guest process
    assert vm.stat("/mnt/host/sub/file.txt").size == 6
    (share / "sub" / "file.txt").write_bytes(b"changed on the host")
    assert vm.stat("/mnt/host/sub/file.txt").size == 19


def test_a_listing_fills_the_cache_with_what_it_lists(share: Path, cached) -> None:
    vm = _vm(share)
    assert [e.name for e in vm.readdir("/mnt/host/sub")] == ["file.txt"]
    (share / "sub" / "file.txt").write_bytes(b"changed on the host")
    assert vm.stat("/mnt/host/sub/file.txt").size == 6


def test_a_cached_directory_swapped_for_a_symlink_on_the_host_does_not_escape(share: Path, cached) -> None:
    vm = _vm(share)
    assert vm.stat("/mnt/host/sub/file.txt").size == 6  # "sub is a directory" is now cached
    os.rename(share / "sub", share.parent / "moved-away")
    os.symlink(share.parent / "outside", share / "sub")
    # The walker still believes sub is a directory, but the host operations
    # re-open the chain from the mount root without following symlinks.
    for attempt in (
        lambda: vm.read_file("/mnt/host/sub/secret.txt"),
        lambda: vm.stat("/mnt/host/sub/secret.txt"),
        lambda: vm.readdir("/mnt/host/sub"),
    ):
        with pytest.raises(KernelError) as excinfo:
            attempt()
        assert excinfo.value.errno in ("ELOOP", "ENOTDIR")  # openat2, or the O_NOFOLLOW walk


def test_the_cache_is_charged_to_the_vm_memory_budget_while_it_holds_entries(share: Path) -> None:
    vm = _vm(share)
    budget = MemoryBudget(attrcache.CACHE_BYTES, "VM memory")
    with attrcache.process_cache(budget):
        assert budget.used == 0  # nothing cached yet
        vm.stat("/mnt/host/sub/file.txt")
        assert budget.used == attrcache.CACHE_BYTES
    assert budget.used == 0


def test_a_process_the_budget_cannot_cover_runs_without_a_cache(share: Path) -> None:
    vm = _vm(share)
    budget = MemoryBudget(attrcache.CACHE_BYTES - 1, "VM memory")
    with attrcache.process_cache(budget):
        assert vm.stat("/mnt/host/sub/file.txt").size == 6
        (share / "sub" / "file.txt").write_bytes(b"changed on the host")
        assert vm.stat("/mnt/host/sub/file.txt").size == 19  # asked the host again
        assert budget.used == 0


# -- remembered walks (attrcache.py "Walks") ------------------------------------------


class _Clock:
    """attrcache's view of time.monotonic, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def test_a_remembered_walk_expires_with_the_oldest_entry_it_was_built_from(
    share: Path, cached, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = _Clock()
    monkeypatch.setattr(attrcache, "time", clock)
    vm = _vm(share)
    vm.stat("/mnt/host/sub")  # "sub" is cached until now + TTL
    clock.now += 0.5 * attrcache.TTL_SECONDS
    assert vm.stat("/mnt/host/sub/file.txt").size == 6  # walks through the cached "sub"
    os.rename(share / "sub", share / "renamed")  # on the host, not through this sidecar
    assert vm.stat("/mnt/host/sub/file.txt").size == 6  # within the TTL: what was just seen
    clock.now += 0.6 * attrcache.TTL_SECONDS  # "sub" expired; "file.txt" has not
    with raises_errno("ENOENT"):
        vm.stat("/mnt/host/sub/file.txt")


def test_a_remembered_walk_through_a_memory_directory_sees_its_mode_change_at_once(share: Path, cached) -> None:
    vm = _vm(share)
    vm.mkdir("/home/user/d", recursive=True)
    vm.write_file("/home/user/d/f", b"x")
    for _ in range(2):
        assert vm.stat("/home/user/d/f", cred=USER).size == 1
    vm.chmod("/home/user/d", 0o600)
    with raises_errno("EACCES"):
        vm.stat("/home/user/d/f", cred=USER)


def test_a_remembered_walk_through_a_memory_symlink_follows_its_replacement_at_once(share: Path, cached) -> None:
    vm = _vm(share)
    vm.write_file("/tmp/file.txt", b"in memory")
    vm.symlink("/mnt/host/sub", "/tmp/link")
    for _ in range(2):
        assert vm.stat("/tmp/link/file.txt").size == 6
    vm.unlink("/tmp/link")
    vm.symlink("/tmp", "/tmp/link")
    assert vm.stat("/tmp/link/file.txt").size == 9


def test_a_remembered_walk_sees_a_new_mount_at_once(share: Path, tmp_path: Path, cached) -> None:
    vm = _vm(share)
    vm.mkdir("/mnt/other", recursive=True)
    vm.write_file("/mnt/other/file.txt", b"memory fs")
    for _ in range(2):
        assert vm.stat("/mnt/other/file.txt").size == 9
    vm.mount("/mnt/other", HostFs(share / "sub"))
    assert vm.stat("/mnt/other/file.txt").size == 6


def test_a_remembered_walk_does_not_hide_a_name_removed_through_the_sidecar(share: Path, cached) -> None:
    vm = _vm(share)
    for _ in range(2):
        assert vm.stat("/mnt/host/sub/file.txt").size == 6
    vm.unlink("/mnt/host/sub/file.txt")
    with raises_errno("ENOENT"):
        vm.stat("/mnt/host/sub/file.txt")
    with raises_errno("ENOENT"):
        vm.open("/mnt/host/sub/file.txt", O.READ)


def test_a_remembered_walk_keeps_stat_and_lstat_of_a_symlink_apart(share: Path, cached) -> None:
    os.symlink("sub/file.txt", share / "link")
    vm = _vm(share)
    for _ in range(2):
        assert vm.lstat("/mnt/host/link").kind is FileKind.SYMLINK
        assert vm.stat("/mnt/host/link").size == 6
    for _ in range(2):
        assert vm.stat("/mnt/host/link").size == 6
        assert vm.lstat("/mnt/host/link").kind is FileKind.SYMLINK


# -- walks that go on from their directory's remembered walk (VfsCore._walk_from_dir) ------


def test_a_file_walked_on_from_its_directory_counts_the_directory_s_symlinks(share: Path, cached) -> None:
    # /mnt/host/l0 -> l1 -> ... -> l39 -> sub: the directory takes 40 expansions,
    # SYMLOOP_MAX; one more below it (sub/again -> file.txt) is one too many.
    os.symlink("file.txt", share / "sub" / "again")
    os.symlink("sub", share / "l39")
    for i in range(39):
        os.symlink(f"l{i + 1}", share / f"l{i}")
    vm = _vm(share)
    assert vm.stat("/mnt/host/l0").is_dir  # the directory's walk, now remembered
    assert vm.stat("/mnt/host/l0/file.txt").size == 6
    with raises_errno("ELOOP"):
        vm.stat("/mnt/host/l0/again")
    assert vm.lstat("/mnt/host/l0/again").kind is FileKind.SYMLINK


def test_walks_from_a_remembered_directory_answer_as_whole_walks_do(share: Path, tmp_path: Path) -> None:
    (share / "sub" / "deeper").mkdir()
    (share / "sub" / "deeper" / "x").write_bytes(b"xx")
    os.symlink("..", share / "sub" / "up")
    os.symlink("deeper", share / "sub" / "down")
    os.symlink("/mnt/host/sub", share / "abs")
    os.symlink("nowhere", share / "sub" / "dangling")
    vm = _vm(share)
    vm.mkdir("/home/user/locked", recursive=True)
    vm.write_file("/home/user/locked/f", b"f")
    vm.chmod("/home/user/locked", 0o600)
    paths = [
        "sub/file.txt", "sub/deeper/x", "sub/up/sub/file.txt", "sub/down/x", "abs/file.txt", "abs/deeper/x",
        "sub/dangling", "sub/dangling/x", "sub/file.txt/x", "sub/missing/x", "sub/missing", "sub/deeper/",
        "sub/up/abs/down/x", "../host/sub/file.txt", "/home/user/locked/f", "sub/deeper/..", "sub//file.txt",
        "sub/deeper/../file.txt", "./sub/./file.txt", "sub/deeper/x/",
    ]

    def answers() -> list[object]:
        out: list[object] = []
        for _ in range(2):  # the second round from what the first remembered
            for path in paths:
                for follow in (True, False):
                    try:
                        st = vm.stat(path, follow, cwd="/mnt/host", cred=USER)
                        out.append((path, follow, st.ino, st.kind))
                    except KernelError as exc:
                        out.append((path, follow, exc.errno))
        return out

    whole = answers()  # no process cache: every path walked whole
    with attrcache.process_cache():
        assert answers() == whole


def test_remembered_walks_stay_within_max_walks(share: Path, cached) -> None:
    for i in range(3 * attrcache.MAX_WALKS):
        (share / "sub" / f"f{i}").write_bytes(b"")
    vm = _vm(share)
    for i in range(3 * attrcache.MAX_WALKS):
        assert vm.stat(f"/mnt/host/sub/f{i}").size == 0
    assert len(cached._walks) <= attrcache.MAX_WALKS  # what CACHE_BYTES charges for


# -- opening a file the walk has just seen as regular (HostFs._open_seen_regular) ---------------


def _swap_on_host(path: Path, make: Callable[[Path], None]) -> None:
    """Replace ``path`` by what ``make`` creates, in one rename (not through the sidecar)."""
    tmp = path.with_name(path.name + ".new")
    make(tmp)
    os.rename(tmp, path)


def test_a_cached_file_swapped_for_a_fifo_on_the_host_is_still_refused(share: Path, cached) -> None:
    vm = _vm(share)
    assert vm.stat("/mnt/host/sub/file.txt").kind is FileKind.REGULAR  # cached as a regular file
    _swap_on_host(share / "sub" / "file.txt", os.mkfifo)
    for flags in (O.READ, O.WRITE):
        with raises_errno("EACCES"):
            vm.open("/mnt/host/sub/file.txt", flags)


def test_a_cached_file_swapped_for_a_directory_on_the_host_opens_as_eisdir(share: Path, cached) -> None:
    vm = _vm(share)
    assert vm.stat("/mnt/host/sub/file.txt").kind is FileKind.REGULAR
    (share / "sub" / "file.txt").unlink()  # on the host, not through the sidecar
    (share / "sub" / "file.txt").mkdir()
    with raises_errno("EISDIR"):
        vm.open("/mnt/host/sub/file.txt", O.READ)


def test_a_cached_file_swapped_for_a_symlink_on_the_host_does_not_escape(share: Path, cached) -> None:
    vm = _vm(share)
    assert vm.stat("/mnt/host/sub/file.txt").kind is FileKind.REGULAR
    _swap_on_host(share / "sub" / "file.txt", lambda p: os.symlink(share.parent / "outside" / "secret.txt", p))
    with raises_errno("ELOOP"):
        vm.read_file("/mnt/host/sub/file.txt")


def test_a_host_fifo_the_walk_sees_is_never_opened(share: Path, cached, monkeypatch: pytest.MonkeyPatch) -> None:
    os.mkfifo(share / "sub" / "fifo")
    vm = _vm(share)
    assert vm.lstat("/mnt/host/sub/fifo").kind is FileKind.FIFO
    opened: list[tuple[str, int]] = []
    real = openat2.openat2

    def recording(dir_fd: int, path: str, flags: int, *args: int) -> int:
        opened.append((path, flags))
        return real(dir_fd, path, flags, *args)

    monkeypatch.setattr(openat2, "openat2", recording)
    for flags in (O.READ, O.WRITE):
        with raises_errno("EACCES"):
            vm.open("/mnt/host/sub/fifo", flags)
    # only its directory was opened (O_PATH), for the lstat pre-check
    assert all(path != "sub/fifo" for path, _ in opened)


# -- what a listing caches (AttrCache.stat_listed_files) ----------------------------------------


def _two_listed_dirs(share: Path) -> Vfs:
    for d in ("a", "b"):
        (share / d / "inner").mkdir(parents=True)
        (share / d / "f").write_bytes(b"listed")
    return _vm(share)


def test_a_process_that_only_lists_and_enters_directories_caches_their_subdirectories_only(
    share: Path, cached
) -> None:
    vm = _two_listed_dirs(share)
    vm.readdir("/mnt/host/a")  # the first listing caches everything
    vm.readdir("/mnt/host/b")  # find: no file looked up since
    (share / "b" / "f").write_bytes(b"changed on the host")
    os.rename(share / "b" / "inner", share / "b" / "renamed")
    assert vm.stat("/mnt/host/b/inner").is_dir  # listed and cached: within the TTL
    assert vm.stat("/mnt/host/b/f").size == 19  # not cached: asked the host


def test_a_process_that_looks_files_up_caches_the_files_it_lists(share: Path, cached) -> None:
    vm = _two_listed_dirs(share)
    vm.readdir("/mnt/host/a")
    assert vm.stat("/mnt/host/a/f").size == 6  # ls, tar, grep -r: a file looked up
    vm.readdir("/mnt/host/b")
    (share / "b" / "f").write_bytes(b"changed on the host")
    assert vm.stat("/mnt/host/b/f").size == 6  # listed and cached: within the TTL
