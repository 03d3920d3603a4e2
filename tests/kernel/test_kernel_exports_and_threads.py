"""The package's public surface and VM-lock thread safety."""

from __future__ import annotations

import threading

from agentvm_sidecar import kernel
from agentvm_sidecar.kernel import OpenFlags as O
from agentvm_sidecar.kernel import Vfs


def test_every_public_name_is_exported_and_importable() -> None:
    for name in kernel.__all__:
        assert hasattr(kernel, name), name
    for name in (
        "Vfs",
        "FileHandle",
        "MemoryFs",
        "HostFs",
        "KernelError",
        "Limits",
        "FsAccounting",
        "OpenFlags",
        "Stat",
        "DirEntry",
        "FileKind",
        "Cred",
    ):
        assert name in kernel.__all__
    assert len(set(kernel.__all__)) == len(kernel.__all__)


def test_concurrent_appends_from_many_threads_are_never_interleaved(vfs: Vfs) -> None:
    vfs.write_file("/tmp/log", b"")
    handles = [vfs.open("/tmp/log", O.APPEND) for _ in range(8)]

    def worker(i: int) -> None:
        line = (f"{i}:" + "x" * 50 + "\n").encode()
        for _ in range(200):
            handles[i].write(line)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = vfs.read_file("/tmp/log").splitlines()
    assert len(lines) == 1600
    assert all(line.endswith(b"x" * 50) and len(line) == 52 for line in lines)
    for h in handles:
        h.close()


def test_concurrent_namespace_changes_keep_accounting_consistent(vfs: Vfs) -> None:
    base = vfs.usage()

    def worker(i: int) -> None:
        for j in range(100):
            p = f"/tmp/w{i}-{j}"
            vfs.write_file(p, b"z" * 10)
            vfs.rename(p, p + ".done")
            vfs.unlink(p + ".done")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert vfs.usage() == base
