"""host_dir reads run without the VM lock (kernel/unlocked.py), and unmount never
closes the root fd under a read still using it."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from agentvm_sidecar.kernel import HostFs, KernelError, Limits
from agentvm_sidecar.kernel import hostfs as hostfs_module
from agentvm_sidecar.kernel.kernel import Kernel
from agentvm_sidecar.kernel.unlocked import HostSections


def _other_thread_takes(lock: threading.RLock) -> bool:
    taken: list[bool] = []

    def take() -> None:
        ok = lock.acquire(timeout=5)
        taken.append(ok)
        if ok:
            lock.release()

    t = threading.Thread(target=take)
    t.start()
    t.join()
    return taken[0]


@pytest.fixture
def kernel(tmp_path: Path) -> Kernel:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "file.txt").write_bytes(b"inside")
    k = Kernel(Limits())
    k.vfs.mkdir("/workspace")
    k.mount_host_dir("/workspace", str(tmp_path), read_only=False)
    return k


@pytest.fixture
def share(tmp_path: Path) -> Path:
    (tmp_path / "sub").mkdir()
    return tmp_path


def test_a_host_listing_lets_other_threads_take_the_vm_lock(kernel: Kernel, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    real_list_dir = hostfs_module.native.list_dir

    def list_dir(*args):  # type: ignore[no-untyped-def]
        seen.append(_other_thread_takes(kernel.lock))
        return real_list_dir(*args)

    monkeypatch.setattr(hostfs_module.native, "list_dir", list_dir)
    names = [e.name for e in kernel.vfs.readdir("/workspace/sub")]
    assert names == ["file.txt"]
    assert seen == [True]
    assert kernel.lock.acquire(blocking=False)  # and the caller holds nothing afterwards...
    kernel.lock.release()


def test_a_host_stat_lets_other_threads_take_the_vm_lock(kernel: Kernel, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    real_stat = os.stat

    def stat(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(_other_thread_takes(kernel.lock))
        return real_stat(*args, **kwargs)

    monkeypatch.setattr(hostfs_module.os, "stat", stat)
    assert kernel.vfs.stat("/workspace/sub/file.txt").size == 6
    assert seen and all(seen)


def test_the_vm_lock_is_held_again_after_a_section_at_its_old_depth() -> None:
    lock = threading.RLock()
    sections = HostSections(lock)
    with lock, lock:
        with sections.section():
            assert not lock._is_owned()
        assert lock._is_owned()
        lock.release()
        assert lock._is_owned()  # the outer level is still held
        lock.acquire()


def test_closing_the_root_fd_waits_for_the_sections_using_it(tmp_path: Path) -> None:
    lock = threading.RLock()
    sections = HostSections(lock)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    in_section = threading.Event()
    leave = threading.Event()

    def reader() -> None:
        with lock, sections.section():
            in_section.set()
            leave.wait(5)
            os.fstat(fd)  # still this directory, not a reused number

    t = threading.Thread(target=reader)
    t.start()
    assert in_section.wait(5)
    with lock:
        sections.close_fd(fd)  # unmount, while the reader is still out of the lock
    os.fstat(fd)  # not closed yet
    leave.set()
    t.join()
    with pytest.raises(OSError):
        os.fstat(fd)


def test_an_unmounted_host_dir_answers_eio_not_a_reused_fd(share: Path) -> None:
    kernel = Kernel(Limits())
    kernel.vfs.mkdir("/workspace")
    fs = HostFs(share, vm_lock=kernel.lock)
    kernel.vfs.mount("/workspace", fs)
    kernel.vfs.unmount("/workspace")
    with pytest.raises(KernelError) as excinfo:
        fs.readdir(fs.root())
    assert excinfo.value.errno == "EIO"


def test_an_unmount_during_a_host_read_keeps_the_root_fd_until_the_read_leaves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stat is out of the VM lock, in its fstatat relative to the mount's root
    # fd, when the client unmounts: that fstatat must still find the root fd
    # open (not closed, not reused for another directory); the stat's next
    # host operation then answers EIO, as any after an unmount.
    (tmp_path / "file.txt").write_bytes(b"inside")
    kernel = Kernel(Limits())
    kernel.vfs.mkdir("/workspace")
    kernel.vfs.mount("/workspace", HostFs(tmp_path, vm_lock=kernel.lock))
    in_stat = threading.Event()
    leave = threading.Event()
    real_stat = os.stat

    def stat(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not in_stat.is_set():
            in_stat.set()
            leave.wait(5)
        return real_stat(*args, **kwargs)

    def read() -> None:
        try:
            results.append(kernel.vfs.stat("/workspace/file.txt").size)
        except Exception as exc:  # reported below
            results.append(exc)

    monkeypatch.setattr(hostfs_module.os, "stat", stat)
    results: list[object] = []
    t = threading.Thread(target=read)
    t.start()
    assert in_stat.wait(5)
    kernel.vfs.unmount("/workspace")
    leave.set()
    t.join()
    assert [getattr(r, "errno", r) for r in results] == ["EIO"]  # closed at once: OSError EBADF
