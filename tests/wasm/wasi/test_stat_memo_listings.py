"""Listings fill the native stat memo (wasm/stat_memo.py fill_listing): after a
process lists a directory it opened as "dir", C answers the stats of "dir/name"
from what the listing put in the attribute cache.

As in test_stat_memo.py, every answer is compared with the Python functions'
(``agree``), and each rule that keeps a listing's answers right has a test that
fails without it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentvm_sidecar.kernel import attrcache
from agentvm_sidecar.kernel.fstypes import Cred
from agentvm_sidecar.kernel.kernel import Kernel

from .conftest import PRE0, PRE1, Guest
from .test_stat_memo import DIR_RIGHTS, agree, change, in_other_thread, make_share, size_of, vm_with_share
from .test_wasi_native import native_call

pytestmark = pytest.mark.usefixtures("quiet_epoch")

DIRECTORY = 2  # oflags


@pytest.fixture
def vm(tmp_path: Path) -> Iterator[tuple[Kernel, Guest]]:
    share = make_share(tmp_path)
    os.mkfifo(share / "fifo")  # no size, no WASI filetype of its own: C must answer as Python does
    with vm_with_share(share) as pair:
        yield pair


def listed(g: Guest, path: str, dirfd: int = PRE0, *, stats_listings: bool = True) -> int:
    """Open ``path`` from ``dirfd`` as a directory and list it whole, as ls and
    tar do, as a program that has shown it stats what it lists (unless not
    ``stats_listings``); returns the directory's fd."""
    g.ctx.stats_listings = g.ctx.stats_listings or stats_listings
    fd = g.open(path, oflags=DIRECTORY, rights=DIR_RIGHTS, dirfd=dirfd)
    buf, ret = g.alloc(4096), g.alloc(4)
    assert g.call("fd_readdir", fd, buf, 4096, 0, ret) == 0
    return fd


def filestats_in_c(g: Guest) -> int:
    """path_filestat_get calls of the guest's process answered in C so far."""
    return g.proc.fds.native.served("path_filestat_get")


def test_the_stats_after_a_listing_are_answered_in_c(vm) -> None:  # type: ignore[no-untyped-def]
    _, g = vm
    listed(g, "sub")
    before = filestats_in_c(g)
    assert size_of(agree(g, PRE0, "sub/file.txt", follow=False)) == len(b"inside")
    assert filestats_in_c(g) == before + 1  # never asked before, answered by the listing


def test_a_program_s_first_listing_is_memoized_at_its_second_stat_of_an_entry(vm) -> None:  # type: ignore[no-untyped-def]
    # grep -r and find list and stat at most a subdirectory: their listings cost no fill
    _, g = vm
    listed(g, ".", stats_listings=False)
    before = filestats_in_c(g)
    agree(g, PRE1, "mnt/host/a.txt", follow=False)  # another dirfd
    agree(g, PRE0, "sub/file.txt", follow=False)  # not an entry
    assert not g.ctx.stats_listings
    agree(g, PRE0, "a.txt", follow=False)  # an entry, asked twice (C falls back, then Python)
    assert filestats_in_c(g) == before and g.ctx.stats_listings  # memoized now, later listings at once
    agree(g, PRE0, "./sub", follow=False)
    assert filestats_in_c(g) == before + 1
    g.call("fd_close", listed(g, "other", stats_listings=False))
    agree(g, PRE0, "other/file.txt", follow=False)
    assert filestats_in_c(g) == before + 2


def lstats_in_c(g: Guest, *paths: str, follow: bool = False) -> int:
    """How many of the stats of ``paths`` from the cwd C answered (each compared
    with Python's answer)."""
    before = filestats_in_c(g)
    for path in paths:
        agree(g, PRE0, path, follow)
    return filestats_in_c(g) - before


def test_a_listing_of_dot_answers_bare_names_and_dot_slash_ones(vm) -> None:  # type: ignore[no-untyped-def]
    _, g = vm
    listed(g, ".")
    assert lstats_in_c(g, "a.txt", "./sub", "fifo") == 3


def test_a_full_set_of_listings_gives_up_a_finished_subtree_before_the_way_back(tmp_path: Path) -> None:
    """ls -R lists ".", walks "other", then "sub" and below, and only then stats
    the next entries of ".": with every listing slot taken, the finished subtree
    goes, not "." (plain LRU evicted ".", the oldest, and a third of `ls -R`'s
    stats went back to Python)."""
    share = make_share(tmp_path)
    (share / "sub" / "d0" / "d1" / "d2" / "d3").mkdir(parents=True)
    with vm_with_share(share) as (_, g):
        for path in (".", "other", "sub", "sub/d0", "sub/d0/d1", "sub/d0/d1/d2", "sub/d0/d1/d2/d3"):  # 7 for 6 slots
            g.call("fd_close", listed(g, path))
        assert lstats_in_c(g, "a.txt", "link", "sub/d0", "sub/d0/d1") == 4
        assert lstats_in_c(g, "other/file.txt") == 0  # the finished subtree's listing went


def test_a_listed_symlink_answers_lstat_only(vm) -> None:  # type: ignore[no-untyped-def]
    _, g = vm
    listed(g, ".")
    assert lstats_in_c(g, "link", follow=True) == 0  # the target's stat: Python
    assert lstats_in_c(g, "./link") == 1


def test_only_paths_one_name_below_the_listed_directory_are_answered(vm) -> None:  # type: ignore[no-untyped-def]
    _, g = vm
    listed(g, "sub")
    paths = ("sub/file.txt/x", "sub/", "sub//file.txt", "sub/.", "sub/..", "sub/missing", "subfile.txt")
    assert lstats_in_c(g, *paths) == 0


def test_a_directory_listed_but_not_searchable_answers_nothing(vm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # read but no search permission: the listing works, a stat of an entry is EACCES
    _, g = vm
    os.chmod(tmp_path / "share" / "secret", 0o744)
    g.proc.cred = Cred(2000, 2000)  # not the owner (the mount's files are the guest user's)
    listed(g, "secret")
    assert agree(g, PRE0, "secret/x", follow=False)[0][0] != 0  # type: ignore[index]


def test_a_mount_point_among_the_entries_answers_for_the_mount(vm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    kernel, g = vm
    (tmp_path / "over").mkdir()
    (tmp_path / "over" / "only-here").write_bytes(b"")
    in_other_thread(lambda: kernel.mount_host_dir("/mnt/host/other", str(tmp_path / "over"), read_only=True))
    listed(g, ".")
    before = filestats_in_c(g)
    agree(g, PRE0, "a.txt", follow=False)
    assert filestats_in_c(g) == before + 1  # the listing answers its other names
    agree(g, PRE0, "other", follow=False)  # the mounted root, not the host directory under it


def test_a_change_after_the_listing_is_seen_at_once(vm) -> None:  # type: ignore[no-untyped-def]
    kernel, g = vm
    listed(g, ".")
    in_other_thread(lambda: kernel.vfs.truncate("/mnt/host/a.txt", 1))
    assert size_of(agree(g, PRE0, "a.txt", follow=False)) == 1


def test_a_listing_from_a_directory_fd_ends_when_that_fd_is_replaced(vm) -> None:  # type: ignore[no-untyped-def]
    _, g = vm
    sub = g.open("sub", oflags=DIRECTORY, rights=DIR_RIGHTS)
    listed(g, ".", dirfd=sub)  # answers (sub, "file.txt")
    assert size_of(agree(g, sub, "file.txt", follow=False)) == len(b"inside")
    g.call("fd_close", sub)
    assert g.open("other", oflags=DIRECTORY, rights=DIR_RIGHTS) == sub
    assert size_of(agree(g, sub, "file.txt", follow=False)) == len(b"another file")


def test_a_host_change_is_seen_once_the_listing_expires(vm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    _, g = vm
    monkeypatch.setattr(attrcache, "TTL_SECONDS", 0.2)
    listed(g, ".")
    (tmp_path / "share" / "a.txt").write_bytes(b"changed on the host")
    time.sleep(0.3)
    assert size_of(agree(g, PRE0, "a.txt", follow=False)) == len(b"changed on the host")


# -- differential: listings, stats and changes interleaved ----------------------------
NAMES = ["a.txt", "sub", "sub/file.txt", "link", "missing", "secret/x", "other/file.txt"]
LISTED = [".", "sub", "other", "./sub"]
_OPS = st.one_of(
    st.tuples(st.just("list"), st.sampled_from(LISTED), st.booleans()),
    st.tuples(st.just("stat"), st.sampled_from(NAMES), st.sampled_from(["", "./"]), st.booleans()),
    st.tuples(
        st.sampled_from(["write", "truncate", "chmod", "unlink", "create", "rename", "symlink", "host_write", "host_expire"]),
        st.sampled_from(NAMES),
    ),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(_OPS, min_size=4, max_size=25))
def test_interleaved_listings_stats_and_changes_agree_with_python(ops: list[tuple], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attrcache, "TTL_SECONDS", 0.05)
    with tempfile.TemporaryDirectory() as tmp, vm_with_share(make_share(Path(tmp))) as (kernel, g):
        share = Path(tmp) / "share"
        other = Guest(kernel, cwd="/mnt/host")
        for op in ops:
            if op[0] == "list":
                with contextlib.suppress(AssertionError):  # gone or replaced by a file: fine
                    g.call("fd_close", listed(g, op[1], stats_listings=op[2]))
            elif op[0] == "stat":
                agree(g, PRE0, op[2] + op[1], op[3])
            else:
                with contextlib.suppress(Exception):  # a change may fail (no such file): fine
                    change(op[0], kernel, g, other, share, f"/mnt/host/{op[1]}", op[1], PRE0)


def test_a_process_starts_its_own_run_of_memo_answers(tmp_path: Path) -> None:
    # Every 512th ask (AVM_MEMO_RUN) goes to Python. A process used to inherit the
    # count of the one before it on its thread, so where its first fallback came
    # depended on what that thread ran before (a test here failed now and then).
    def two_processes_on_one_thread() -> None:
        with vm_with_share(make_share(tmp_path)) as (kernel, first):
            p, n = first.put("a.txt")
            for _ in range(511):
                native_call(first, "path_mode", PRE0, p, n, 1, module="host_fs", params="iiii")
            second = Guest(kernel, cwd="/mnt/host")
            listed(second, ".")
            assert lstats_in_c(second, "a.txt", "./sub", "link") == 3

    in_other_thread(two_processes_on_one_thread)
