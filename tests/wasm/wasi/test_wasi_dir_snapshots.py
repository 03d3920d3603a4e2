"""Directory listings held for open directory fds are charged to the VM's
snapshot budget: bounded in sidecar memory, ENOMEM when spent, given back on
close and refresh."""

from __future__ import annotations

import pytest

from agentvm_sidecar.kernel.dir_snapshot import SNAPSHOT_ENTRY_BYTES
from agentvm_sidecar.kernel.kernel import Kernel
from agentvm_sidecar.kernel.limits import Limits
from agentvm_sidecar.kernel.process import ExitStatus

from .conftest import E, Guest
from .test_wasi_fd import DIRECTORY, RO, readdir

ENTRIES = 200
LISTING = (ENTRIES + 2) * (SNAPSHOT_ENTRY_BYTES + 16)  # a bit more than one listing costs


@pytest.fixture
def kernel():
    k = Kernel(Limits(dir_snapshot_bytes_per_vm=3 * LISTING))
    yield k
    for proc in k.processes.all():  # no program runs them: end them like the runtime would
        k.processes.exit(proc, ExitStatus(0))
    k.shutdown()


def _big_dir(g: Guest) -> None:
    g.kernel.vfs.mkdir("/tmp/big")
    for i in range(ENTRIES):
        g.kernel.vfs.write_file(f"/tmp/big/file-{i:05}", b"")


def test_listings_past_the_budget_fail_with_enomem_and_closing_gives_it_back(guest: Guest):
    _big_dir(guest)
    fds = [guest.open("big", oflags=DIRECTORY, rights=RO) for _ in range(5)]
    results = [readdir(guest, fd, 256)[0] for fd in fds]
    assert results == [0, 0, 0, E["ENOMEM"], E["ENOMEM"]]
    used = guest.kernel.dir_snapshots.used
    assert 0 < used <= 3 * LISTING
    guest.call("fd_close", fds[0])
    assert readdir(guest, fds[3], 256)[0] == 0  # the closed fd's listing was given back
    assert guest.kernel.dir_snapshots.used == used
    for fd in fds[1:]:
        guest.call("fd_close", fd)
    assert guest.kernel.dir_snapshots.used == 0


def test_a_refreshed_listing_replaces_its_charge(guest: Guest):
    _big_dir(guest)
    fd = guest.open("big", oflags=DIRECTORY, rights=RO)
    for _ in range(10):  # cookie 0 takes a new listing each time
        assert readdir(guest, fd, 256)[0] == 0
    one = guest.kernel.dir_snapshots.used
    assert 0 < one <= LISTING
    _err, raw = readdir(guest, fd, 4096, cookie=5)  # resuming keeps the listing
    assert raw and guest.kernel.dir_snapshots.used == one
