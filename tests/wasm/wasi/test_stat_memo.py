"""The native stat memo (native/agentvm_native.c, wasm/stat_memo.py): path_filestat_get
and host_fs path_mode/path_size answered in C from what Python just answered.

Every test compares the C function (called as wasmtime calls it, with the Python
function as its fallback) with the Python function alone, after changes made
every way a stat answer can change: by the guest itself, by another process of
the VM, by the client's fs API, on the host, by an fd or cred change. Each
invalidation has a test that fails without it (checked by removing each one).
"""

from __future__ import annotations

import contextlib
import os
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentvm_sidecar import native
from agentvm_sidecar.kernel import attrcache
from agentvm_sidecar.kernel.descriptions import FileDescription
from agentvm_sidecar.kernel.fstypes import ROOT, OpenFlags
from agentvm_sidecar.kernel.kernel import Kernel
from agentvm_sidecar.kernel.limits import Limits
from agentvm_sidecar.kernel.process import ExitStatus, ProcessState
from agentvm_sidecar.wasm.abi import SIGNATURES, _wrap
from agentvm_sidecar.wasm.context import set_current_context

from .conftest import PRE0, TEST_THREADS, Guest
from .test_wasi_native import _length, _pointer, native_call

pytestmark = pytest.mark.usefixtures("quiet_epoch")

NO_DIRFD = 0xFFFFFFFF
DIR_RIGHTS = (1 << 14) | (1 << 1)  # FD_READDIR | FD_READ


def make_share(root: Path) -> Path:
    share = root / "share"
    (share / "sub").mkdir(parents=True)
    (share / "other").mkdir()
    (share / "secret").mkdir(mode=0o700)
    (share / "a.txt").write_bytes(b"alpha")
    (share / "sub" / "file.txt").write_bytes(b"inside")
    (share / "other" / "file.txt").write_bytes(b"another file")
    (share / "secret" / "x").write_bytes(b"x")
    os.symlink("a.txt", share / "link")
    return share


@contextlib.contextmanager
def vm_with_share(share: Path) -> Iterator[tuple[Kernel, Guest]]:
    """A kernel with ``share`` mounted at /mnt/host and a guest process there, its
    attribute cache active on this thread (as on a guest thread)."""
    kernel = Kernel(Limits())
    kernel.vfs.mkdir("/mnt/host", recursive=True)
    kernel.mount_host_dir("/mnt/host", str(share), read_only=False)
    with guest_at(kernel, "/mnt/host") as pair:
        yield pair


@contextlib.contextmanager
def guest_at(kernel: Kernel, cwd: str) -> Iterator[tuple[Kernel, Guest]]:
    """A guest process of ``kernel`` at ``cwd``, its attribute cache active on this
    thread (as on a guest thread); the kernel is shut down after."""
    try:
        with attrcache.process_cache():
            yield kernel, Guest(kernel, cwd=cwd)
    finally:
        for proc in kernel.processes.all():
            if proc.state is ProcessState.RUNNING:
                kernel.processes.exit(proc, ExitStatus(0))
        kernel.shutdown()


@pytest.fixture
def vm(tmp_path: Path) -> Iterator[tuple[Kernel, Guest]]:
    with vm_with_share(make_share(tmp_path)) as pair:
        yield pair


def python_call(guest: Guest, module: str, name: str, params: str, *args: int) -> int:
    hf = next(f for (m, n, p, _), f in SIGNATURES.items() if (m, n, p) == (module, name, params))
    set_current_context(guest.ctx)
    try:
        return _wrap(hf)(*args)  # type: ignore[no-any-return]
    finally:
        set_current_context(None)


def answers(guest: Guest, fd: int, path: str, follow: bool, *, native_first: bool) -> list[object]:
    """Every stat form's answer for (fd, path, follow): from the C functions (falling
    back to Python on a miss) or from the Python functions alone."""
    p, n = guest.put(path)
    ret = guest.alloc(64)
    out: list[object] = []
    if native_first:
        out.append((native_call(guest, "path_filestat_get", fd, int(follow), p, n, ret), guest.read(ret, 64)))
        out.append(native_call(guest, "path_mode", fd, p, n, int(follow), module="host_fs", params="iiii"))
        out.append(native_call(guest, "path_size", fd, p, n, int(follow), module="host_fs"))
        out.append(native_call(guest, "path_mode", p, n, int(follow), module="host_fs", params="iii"))
    else:
        err = python_call(guest, "wasi_snapshot_preview1", "path_filestat_get", "iiiii", fd, int(follow), p, n, ret)
        out.append((err, guest.read(ret, 64)))
        out.append(python_call(guest, "host_fs", "path_mode", "iiii", fd, p, n, int(follow)))
        out.append(python_call(guest, "host_fs", "path_size", "iiii", fd, p, n, int(follow)))
        out.append(python_call(guest, "host_fs", "path_mode", "iii", p, n, int(follow)))
    return out


def agree(guest: Guest, fd: int, path: str, follow: bool = True) -> list[object]:
    """The C answers equal Python's (C asked first: a stale memo would show)."""
    got = answers(guest, fd, path, follow, native_first=True)
    want = answers(guest, fd, path, follow, native_first=False)
    assert got == want, (fd, path, follow)
    return want


def size_of(answer: list[object]) -> int:
    err, filestat = answer[0]  # type: ignore[misc]
    assert err == 0
    return struct.unpack_from("<Q", filestat, 32)[0]  # type: ignore[no-any-return]


def served(g: Guest) -> int:
    """Stat calls of the guest's process the C functions answered themselves so far."""
    mirror = g.proc.fds.native
    return sum(mirror.served(name) for name in ("path_filestat_get", "path_mode", "path_mode_cwd", "path_size"))


def in_other_thread(fn: Callable[[], object]) -> None:
    """Run ``fn`` as another process or the client would: on another thread,
    without this process's attribute cache."""
    errors: list[BaseException] = []

    def run() -> None:
        TEST_THREADS.add(threading.get_ident())
        try:
            fn()
        except BaseException as exc:  # re-raised below
            errors.append(exc)
        finally:
            TEST_THREADS.discard(threading.get_ident())

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if errors:
        raise errors[0]


# -- the memo serves ------------------------------------------------------------------
def test_a_repeated_stat_is_answered_in_c_in_every_form(vm) -> None:  # type: ignore[no-untyped-def]
    _, g = vm
    agree(g, PRE0, "sub/file.txt")  # Python answers the first ask and fills the memo
    before = served(g)
    again = agree(g, PRE0, "sub/file.txt")
    assert served(g) == before + 4  # all four forms from C
    assert again[2] == len(b"inside")


def test_dot_slash_and_plain_names_share_an_entry(vm) -> None:  # type: ignore[no-untyped-def]
    _, g = vm
    agree(g, PRE0, "sub/file.txt", follow=False)
    before = served(g)
    agree(g, PRE0, "./sub/file.txt", follow=False)
    assert served(g) == before + 4
    agree(g, PRE0, ".//sub/file.txt", follow=False)  # stays its own key; same answer


def test_errors_are_never_memoized(vm) -> None:  # type: ignore[no-untyped-def]
    kernel, g = vm
    assert agree(g, PRE0, "new.txt")[0][0] != 0  # type: ignore[index]
    kernel.vfs.write_file("/mnt/host/new.txt", b"now here")
    assert size_of(agree(g, PRE0, "new.txt")) == 8


def test_the_two_call_forms_are_kept_apart_where_they_resolve_differently(vm) -> None:  # type: ignore[no-untyped-def]
    _, g = vm
    # host_fs takes an absolute path, path_filestat_get refuses it (ENOTCAPABLE)
    answer = agree(g, PRE0, "/mnt/host/a.txt")
    assert answer[1] != 0 and answer[0][0] != 0  # type: ignore[index]
    before = served(g)
    agree(g, PRE0, "/mnt/host/a.txt")
    assert served(g) == before + 3  # the host_fs forms only


def test_a_memory_file_is_never_memoized(vm) -> None:  # type: ignore[no-untyped-def]
    kernel, g = vm
    kernel.vfs.write_file("/tmp/m.txt", b"memory")
    agree(g, PRE0, "/tmp/m.txt")
    kernel.vfs.write_file("/tmp/m.txt", b"memory grew")  # MemoryFs writes bump no epoch
    assert agree(g, PRE0, "/tmp/m.txt")[2] == len(b"memory grew")


def test_a_guest_asking_one_stat_in_a_loop_still_reaches_python(vm) -> None:  # type: ignore[no-untyped-def]
    # A host call's return is the guest thread's safe point (kills, its run slot):
    # the memo sends one ask in every run of them to Python.
    _, g = vm
    agree(g, PRE0, "a.txt")
    p, n = g.put("a.txt")
    before = g.proc.fds.native.served("path_mode")
    for _ in range(2000):
        native_call(g, "path_mode", PRE0, p, n, 1, module="host_fs", params="iiii")
    assert 2000 - (g.proc.fds.native.served("path_mode") - before) >= 3  # at least 3 went to Python


# -- each invalidation ----------------------------------------------------------------
def test_a_write_through_the_guest_is_seen_at_once(vm) -> None:  # type: ignore[no-untyped-def]
    _, g = vm
    assert size_of(agree(g, PRE0, "a.txt")) == 5
    fd = g.open("a.txt", fdflags=1)  # APPEND
    assert g.write(fd, b"-more") == (0, 5)
    assert size_of(agree(g, PRE0, "a.txt")) == 10


def test_a_change_by_another_process_is_seen_at_once(vm) -> None:  # type: ignore[no-untyped-def]
    kernel, g = vm
    other = Guest(kernel, cwd="/mnt/host")
    agree(g, PRE0, "sub/file.txt")
    in_other_thread(lambda: other.call("path_unlink_file", PRE0, *other.put("sub/file.txt")))
    assert agree(g, PRE0, "sub/file.txt")[1] == 0  # gone


def test_a_change_through_the_client_fs_api_is_seen_at_once(vm) -> None:  # type: ignore[no-untyped-def]
    kernel, g = vm
    agree(g, PRE0, "a.txt")
    in_other_thread(lambda: kernel.vfs.truncate("/mnt/host/a.txt", 1))
    assert size_of(agree(g, PRE0, "a.txt")) == 1


def test_a_mode_change_of_a_memory_directory_on_the_way_is_seen_at_once(vm) -> None:  # type: ignore[no-untyped-def]
    kernel, g = vm
    agree(g, PRE0, "/mnt/host/a.txt")  # through /mnt, a memory directory
    in_other_thread(lambda: kernel.vfs.chmod("/mnt", 0o700))
    assert agree(g, PRE0, "/mnt/host/a.txt")[1] == 0  # EACCES for the user now


def test_a_new_mount_is_seen_at_once(vm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    kernel, g = vm
    agree(g, PRE0, "sub/file.txt")
    (tmp_path / "over").mkdir()
    (tmp_path / "over" / "file.txt").write_bytes(b"mounted over")
    in_other_thread(lambda: kernel.mount_host_dir("/mnt/host/sub", str(tmp_path / "over"), read_only=True))
    assert size_of(agree(g, PRE0, "sub/file.txt")) == len(b"mounted over")


def test_a_host_change_is_seen_once_the_cache_entry_expires(
    vm, share_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    _, g = vm
    monkeypatch.setattr(attrcache, "TTL_SECONDS", 0.2)
    g.kernel.vfs.readdir("/mnt/host")  # entries cached for 0.2 s from now
    agree(g, PRE0, "a.txt")
    (share_path / "a.txt").write_bytes(b"changed on the host")
    time.sleep(0.3)
    assert size_of(agree(g, PRE0, "a.txt")) == len(b"changed on the host")


def test_a_host_change_a_fresh_listing_saw_is_not_hidden_by_the_memo(vm, share_path: Path) -> None:  # type: ignore[no-untyped-def]
    kernel, g = vm
    agree(g, PRE0, "a.txt")
    (share_path / "a.txt").write_bytes(b"changed on the host")
    kernel.vfs.readdir("/mnt/host")  # this process lists again: Python now answers the new size
    assert size_of(agree(g, PRE0, "a.txt")) == len(b"changed on the host")


def test_a_directory_fd_replaced_at_the_same_number_is_seen_at_once(vm) -> None:  # type: ignore[no-untyped-def]
    _, g = vm
    fd = g.open("sub", oflags=2, rights=DIR_RIGHTS)  # DIRECTORY
    assert size_of(agree(g, fd, "file.txt")) == len(b"inside")
    g.call("fd_close", fd)
    assert g.open("other", oflags=2, rights=DIR_RIGHTS) == fd
    assert size_of(agree(g, fd, "file.txt")) == len(b"another file")


def test_a_directory_fd_beyond_the_mirror_replaced_is_seen_at_once(vm) -> None:  # type: ignore[no-untyped-def]
    kernel, g = vm
    high = native.library().avm_mirror_fds() + 6
    sub = kernel.vfs.open("/mnt/host/sub", OpenFlags.READ | OpenFlags.DIRECTORY)
    other = kernel.vfs.open("/mnt/host/other", OpenFlags.READ | OpenFlags.DIRECTORY)
    g.proc.fds.install_at(high, FileDescription(sub))
    assert size_of(agree(g, high, "file.txt")) == len(b"inside")
    g.proc.fds.install_at(high, FileDescription(other))
    assert size_of(agree(g, high, "file.txt")) == len(b"another file")


def test_a_cred_change_is_seen_at_once(vm) -> None:  # type: ignore[no-untyped-def]
    _, g = vm
    g.proc.cred = ROOT  # before anything is memoized
    assert agree(g, PRE0, "secret/x")[1] != 0  # root may search the 0700 directory
    assert python_call(g, "host_user", "setuid", "i", 2000) == 0
    assert agree(g, PRE0, "secret/x")[1] == 0  # EACCES for uid 2000


def test_another_process_s_cred_change_keeps_this_process_s_memo(vm) -> None:  # type: ignore[no-untyped-def]
    kernel, g = vm
    other = Guest(kernel, cwd="/mnt/host")
    other.proc.cred = ROOT
    agree(g, PRE0, "a.txt")
    assert python_call(other, "host_user", "setuid", "i", 2000) == 0  # its memo only
    before = served(g)
    agree(g, PRE0, "a.txt")
    assert served(g) == before + 4


# -- differential: interleaved stats and changes --------------------------------------
NAMES = ["a.txt", "sub", "sub/file.txt", "link", "missing", "secret/x", "other/file.txt"]
_STATS = st.tuples(
    st.just("stat"), st.sampled_from(NAMES), st.sampled_from(["", "./"]), st.booleans(), st.booleans()
)
_CHANGES = st.tuples(
    st.sampled_from(
        ["write", "truncate", "chmod", "unlink", "create", "rename", "symlink", "host_write", "host_expire", "refd"]
    ),
    st.sampled_from(NAMES),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(st.one_of(_STATS, _STATS, _CHANGES), min_size=4, max_size=25))
def test_interleaved_stats_and_changes_agree_with_python(ops: list[tuple], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attrcache, "TTL_SECONDS", 0.05)
    with tempfile.TemporaryDirectory() as tmp, vm_with_share(make_share(Path(tmp))) as (kernel, g):
        share = Path(tmp) / "share"
        other = Guest(kernel, cwd="/mnt/host")
        dirfd = g.open("sub", oflags=2, rights=DIR_RIGHTS)
        for op in ops:
            name = op[1]
            full = f"/mnt/host/{name}"
            if op[0] == "stat":
                _, _, dot, follow, via_dirfd = op
                if via_dirfd:
                    agree(g, dirfd, dot + (name[4:] if name.startswith("sub/") else "../" + name), follow)
                else:
                    agree(g, PRE0, dot + name, follow)
                continue
            with contextlib.suppress(Exception):  # a change may fail (no such file): fine
                change(op[0], kernel, g, other, share, full, name, dirfd)


def change(kind: str, kernel: Kernel, g: Guest, other: Guest, share: Path, full: str, name: str, dirfd: int) -> None:
    if kind == "write":  # the guest itself
        fd = g.open(name, fdflags=1)
        g.write(fd, b"+")
        g.call("fd_close", fd)
    elif kind == "truncate":  # the client's fs API
        in_other_thread(lambda: kernel.vfs.truncate(full, 2))
    elif kind == "chmod":  # another process
        in_other_thread(lambda: kernel.vfs.chmod(full, 0o600, cred=other.proc.cred))
    elif kind == "unlink":
        in_other_thread(lambda: other.call("path_unlink_file", PRE0, *other.put(name)))
    elif kind == "create":
        in_other_thread(lambda: kernel.vfs.write_file(full, b"created"))
    elif kind == "rename":
        in_other_thread(lambda: kernel.vfs.rename(full, "/mnt/host/a.txt"))
    elif kind == "symlink":
        in_other_thread(lambda: kernel.vfs.symlink("other", full))
    elif kind == "host_write":  # on the host, then this process lists again
        (share / name).write_bytes(b"host wrote this")
        kernel.vfs.readdir("/mnt/host")
    elif kind == "host_expire":  # on the host, then the cache entries expire
        (share / name).write_bytes(b"host wrote this later")
        time.sleep(0.06)
    elif kind == "refd":  # another directory at the same fd number
        g.call("fd_close", dirfd)
        g.open("other" if name < "m" else "sub", oflags=2, rights=DIR_RIGHTS)


@pytest.fixture
def share_path(vm, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    return tmp_path / "share"


def test_the_memo_is_charged_with_the_attribute_cache() -> None:
    assert native.library().avm_memo_bytes() <= attrcache.MEMO_BYTES


# -- hostile arguments ----------------------------------------------------------------
_ptr = st.one_of(st.none(), _pointer())  # None: the real path / a real result buffer
_len = st.one_of(st.none(), _length())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path_ptr=_ptr, path_len=_len, ret=_ptr)
def test_hostile_pointers_get_efault_or_the_python_answer(
    vm, path_ptr: int | None, path_len: int | None, ret: int | None
) -> None:  # type: ignore[no-untyped-def]
    _, g = vm
    real_ptr, real_len = g.put("./sub/file.txt")
    agree(g, PRE0, "sub/file.txt", follow=False)  # memoized
    p = real_ptr if path_ptr is None else path_ptr
    n = real_len if path_len is None else path_len
    r = g.alloc(64) if ret is None else ret
    before = g.read(0, g.mem_size)
    got = native_call(g, "path_filestat_get", PRE0, 0, p, n, r)
    native_memory = g.read(0, g.mem_size)
    g.ctx.write(0, before)
    want = python_call(g, "wasi_snapshot_preview1", "path_filestat_get", "iiiii", PRE0, 0, p, n, r)
    assert (got, native_memory) == (want, g.read(0, g.mem_size))
    for params in ("iiii", "iii"):
        args = (PRE0, p, n, 0) if params == "iiii" else (p, n, 0)
        got = native_call(g, "path_mode", *args, module="host_fs", params=params)
        assert got == python_call(g, "host_fs", "path_mode", params, *args)
    got = native_call(g, "path_size", PRE0, p, n, 0, module="host_fs")
    assert got == python_call(g, "host_fs", "path_size", "iiii", PRE0, p, n, 0)
