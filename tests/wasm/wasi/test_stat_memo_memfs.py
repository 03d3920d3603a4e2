"""The native stat memo over a memory filesystem (kernel/memfs.py, wasm/stat_memo.py):
a memfs answer is memoized with its filesystem's change count, and C drops it once
that count moves on (a write, a truncation, an access-time update), while a change
of names or modes bumps the sidecar-wide stat epoch as before.

As in test_stat_memo.py, every answer C gives is compared with the Python
functions' (``agree``), after changes made every way: by the guest itself, by
another process, by the client's fs API.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentvm_sidecar import native
from agentvm_sidecar.kernel.fstypes import OMIT, ROOT, USER, OpenFlags
from agentvm_sidecar.kernel.kernel import Kernel
from agentvm_sidecar.kernel.limits import Limits
from agentvm_sidecar.kernel.memfs import MemoryFs

from .conftest import PRE0, Guest
from .test_stat_memo import agree, guest_at, in_other_thread, served, size_of
from .test_stat_memo_listings import filestats_in_c, listed
from .test_wasi_native import native_call

pytestmark = pytest.mark.usefixtures("quiet_epoch")

TREE = {"a.txt": b"alpha", "sub/file.txt": b"inside", "other/file.txt": b"another file"}


@contextlib.contextmanager
def memory_vm() -> Iterator[tuple[Kernel, Guest]]:
    """A kernel whose /tmp/mem (in the root memory filesystem) holds TREE, and a
    guest process there, its attribute cache active on this thread."""
    kernel = Kernel(Limits())
    for path, data in TREE.items():  # the guest's own files
        kernel.vfs.write_file(f"/tmp/mem/{path}", data, create_dirs=True, cred=USER)
    kernel.vfs.symlink("a.txt", "/tmp/mem/link", cred=USER)
    with guest_at(kernel, "/tmp/mem") as pair:
        yield pair


@pytest.fixture
def vm() -> Iterator[tuple[Kernel, Guest]]:
    with memory_vm() as pair:
        yield pair


def memory_fs_of(kernel: Kernel) -> MemoryFs:
    """The filesystem /tmp/mem is on: /tmp's own mount or the root's."""
    mounts = kernel.vfs._mounts
    fs = (mounts.at("/tmp") or mounts.root()).fs
    assert isinstance(fs, MemoryFs)
    return fs


def read_all(kernel: Kernel, path: str) -> None:
    """Read ``path`` as another process would (its atime follows relatime)."""
    in_other_thread(lambda: kernel.vfs.read_file(path))


def test_a_repeated_stat_of_a_memory_file_is_answered_in_c(vm) -> None:  # type: ignore[no-untyped-def]
    _, g = vm
    agree(g, PRE0, "sub/file.txt")
    before = served(g)
    assert size_of(agree(g, PRE0, "sub/file.txt")) == len(b"inside")
    assert served(g) == before + 4


def test_a_write_by_the_guest_is_seen_at_once(vm) -> None:  # type: ignore[no-untyped-def]
    _, g = vm
    fd = g.open("a.txt", fdflags=1)  # APPEND; opened first: an fd table change alone drops the memo
    assert size_of(agree(g, PRE0, "a.txt")) == 5
    assert g.write(fd, b"-more") == (0, 5)
    assert size_of(agree(g, PRE0, "a.txt")) == 10
    assert g.call("fd_filestat_set_size", fd, 3) == 0
    assert size_of(agree(g, PRE0, "a.txt")) == 3


def test_writes_truncations_and_times_set_by_others_are_seen_at_once(vm) -> None:  # type: ignore[no-untyped-def]
    kernel, g = vm
    other = Guest(kernel, cwd="/tmp/mem")

    def append_as_other() -> None:
        fd = other.open("a.txt", fdflags=1)
        other.write(fd, b"+other")

    agree(g, PRE0, "a.txt")
    in_other_thread(append_as_other)
    assert size_of(agree(g, PRE0, "a.txt")) == len(b"alpha+other")
    in_other_thread(lambda: kernel.vfs.truncate("/tmp/mem/a.txt", 2))  # the client's fs API
    assert size_of(agree(g, PRE0, "a.txt")) == 2
    in_other_thread(lambda: kernel.vfs.utimes("/tmp/mem/a.txt", 5, OMIT))
    agree(g, PRE0, "a.txt")  # the atime part of the answer


def test_a_read_sets_atime_once_after_a_change_as_relatime_does(vm) -> None:  # type: ignore[no-untyped-def]
    kernel, g = vm
    atime = kernel.vfs.stat("/tmp/mem/a.txt").atime_ns
    agree(g, PRE0, "a.txt")
    read_all(kernel, "/tmp/mem/a.txt")  # atime is not after the last change: the read sets it
    assert kernel.vfs.stat("/tmp/mem/a.txt").atime_ns > atime
    agree(g, PRE0, "a.txt")  # seen at once
    before = served(g)
    read_all(kernel, "/tmp/mem/a.txt")  # atime after every change now: nothing changes
    agree(g, PRE0, "a.txt")
    assert served(g) == before + 4  # so the memo still answers
    in_other_thread(lambda: kernel.vfs.utimes("/tmp/mem/a.txt", 1, 1))
    read_all(kernel, "/tmp/mem/a.txt")  # an old atime, not after mtime: set again
    agree(g, PRE0, "a.txt")


def test_the_counter_moves_only_once_an_answer_was_taken_since_it_last_moved(vm) -> None:  # type: ignore[no-untyped-def]
    kernel, g = vm
    fs = memory_fs_of(kernel)
    counters = native.fs_counters()
    in_other_thread(lambda: kernel.vfs.write_file("/tmp/mem/a.txt", b"nobody asked yet"))
    count = counters.count(fs.changes)
    for data in (b"one", b"two"):  # nothing was memoized from here: no C call per write
        in_other_thread(lambda data=data: kernel.vfs.write_file("/tmp/mem/a.txt", data))
    assert counters.count(fs.changes) == count
    agree(g, PRE0, "a.txt")  # an answer taken
    in_other_thread(lambda: kernel.vfs.write_file("/tmp/mem/a.txt", b"three!"))
    assert counters.count(fs.changes) == count + 1
    assert size_of(agree(g, PRE0, "a.txt")) == len(b"three!")


def test_a_write_while_an_answer_reads_the_count_is_not_lost(vm, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # The answer reads the count, then marks the filesystem watched, then reads
    # the node. A write landing at the count read must not leave the next write
    # free to skip the counter (it would, were the mark set before the read).
    kernel, g = vm
    agree(g, PRE0, "a.txt")
    in_other_thread(lambda: kernel.vfs.write_file("/tmp/mem/a.txt", b"the counter moved"))  # watched: cleared now
    fs = memory_fs_of(kernel)
    node = fs.lookup(fs.lookup(fs.lookup(fs.root(), "tmp") or fs.root(), "mem"), "a.txt")  # type: ignore[arg-type]
    count = native.FsCounters.count
    landing = [b"first"]

    def count_with_a_write_landing(self: native.FsCounters, counter: int) -> int:
        if landing:  # on this thread, which holds the VM's lock for the stat: straight to the filesystem
            fs.truncate(node, 0)
            handle = fs.open(node, False, True)
            handle.pwrite(landing.pop(), 0)
            handle.close()
        return count(self, counter)

    monkeypatch.setattr(native.FsCounters, "count", count_with_a_write_landing)
    # One stat as a guest asks it (C, which asks Python: the write lands in that
    # answer, which is memoized), and no other: a Python answer after it would
    # mark the filesystem watched again.
    assert filestat_size(g) == len(b"first")
    in_other_thread(lambda: kernel.vfs.write_file("/tmp/mem/a.txt", b"second write"))
    assert filestat_size(g) == len(b"second write")


def filestat_size(g: Guest) -> int:
    """st_size of "a.txt" as path_filestat_get's C function answers it."""
    p, n = g.put("a.txt")
    ret = g.alloc(64)
    assert native_call(g, "path_filestat_get", PRE0, 1, p, n, ret) == 0
    return int.from_bytes(g.read(ret + 32, 8), "little")


def test_a_write_to_another_memory_filesystem_keeps_the_memo(vm) -> None:  # type: ignore[no-untyped-def]
    kernel, g = vm
    kernel.vfs.mkdir("/scratch")
    kernel.vfs.mount("/scratch", MemoryFs())
    kernel.vfs.write_file("/scratch/log", b"")
    agree(g, PRE0, "a.txt")
    handle = kernel.vfs.open("/scratch/log", OpenFlags.WRITE)
    in_other_thread(lambda: handle.write(b"a line of a log\n"))  # bumps only /scratch's counter
    handle.close()
    before = served(g)
    agree(g, PRE0, "a.txt")
    assert served(g) == before + 4


def test_the_stats_after_a_memory_listing_are_answered_in_c(vm) -> None:  # type: ignore[no-untyped-def]
    kernel, g = vm
    listed(g, ".")
    before = filestats_in_c(g)
    for name in ("a.txt", "sub", "other", "link"):  # never asked before, answered by the listing
        agree(g, PRE0, name, follow=False)
    assert filestats_in_c(g) == before + 4
    in_other_thread(lambda: kernel.vfs.write_file("/tmp/mem/a.txt", b"rewritten by the client"))
    assert size_of(agree(g, PRE0, "a.txt", follow=False)) == len(b"rewritten by the client")
    assert filestats_in_c(g) == before + 4  # Python answered that one


def test_a_memory_listing_is_kept_for_its_first_entries_only() -> None:
    with memory_vm() as (kernel, g):
        for i in range(200):
            kernel.vfs.write_file(f"/tmp/mem/many/f{i:03}", b"x" * i, create_dirs=True)
        listed(g, "many")
        before = filestats_in_c(g)
        for i in (0, 127, 128, 199):
            assert size_of(agree(g, PRE0, f"many/f{i:03}", follow=False)) == i
        assert filestats_in_c(g) == before + 2  # the first 128 names


# -- differential: interleaved stats, listings and changes ----------------------------
NAMES = ["a.txt", "sub", "sub/file.txt", "link", "missing", "other/file.txt"]
_STATS = st.tuples(st.just("stat"), st.sampled_from(NAMES), st.sampled_from(["", "./"]), st.booleans())
_CHANGES = st.tuples(
    st.sampled_from(["write", "append", "truncate", "read", "utimes", "chmod", "unlink", "create", "rename", "list"]),
    st.sampled_from(NAMES),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(st.one_of(_STATS, _STATS, _CHANGES), min_size=4, max_size=25))
def test_interleaved_stats_and_changes_agree_with_python(ops: list[tuple]) -> None:
    with memory_vm() as (kernel, g):
        other = Guest(kernel, cwd="/tmp/mem")
        for op in ops:
            name = op[1]
            if op[0] == "stat":
                _, _, dot, follow = op
                agree(g, PRE0, dot + name, follow)
                continue
            with contextlib.suppress(Exception):  # a change may fail (no such file): fine
                change(op[0], kernel, g, other, name)


def change(kind: str, kernel: Kernel, g: Guest, other: Guest, name: str) -> None:
    full = f"/tmp/mem/{name}"
    if kind == "write":  # the guest itself
        fd = g.open(name, fdflags=1)
        g.write(fd, b"+")
        g.call("fd_close", fd)
    elif kind == "append":  # another process
        def append() -> None:
            fd = other.open(name, fdflags=1)
            other.write(fd, b"++")
            other.call("fd_close", fd)
        in_other_thread(append)
    elif kind == "truncate":  # the client's fs API
        in_other_thread(lambda: kernel.vfs.truncate(full, 1))
    elif kind == "read":  # another process reads: relatime may set atime
        in_other_thread(lambda: kernel.vfs.read_file(full))
    elif kind == "utimes":
        in_other_thread(lambda: kernel.vfs.utimes(full, 1, 2))
    elif kind == "chmod":
        in_other_thread(lambda: kernel.vfs.chmod(full, 0o600, cred=ROOT))
    elif kind == "unlink":
        in_other_thread(lambda: kernel.vfs.unlink(full))
    elif kind == "create":
        in_other_thread(lambda: kernel.vfs.write_file(full, b"created"))
    elif kind == "rename":
        in_other_thread(lambda: kernel.vfs.rename(full, "/tmp/mem/a.txt"))
    elif kind == "list":  # this process lists the directory holding the name
        parent = name.rpartition("/")[0] or "."
        g.call("fd_close", listed(g, parent))
