"""Attacks on process, poll, directory and memory limits (issue 8 rows 9-14).

Each test runs one attack in a VM of a real sidecar and asserts that the safeguard
fires within a generous bound (the machine is shared and noisy), that the sidecar's
memory stays bounded (its /proc/<pid>/status), and that a second VM keeps answering
while the attack runs. Saturation-sized variants are marked ``saturation``.
"""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
import trio

from agentvm import VmConfig, VmLimits
from tests.process.conftest import install_guest, running_pids

MiB = 1024 * 1024
# How long the second VM may take to answer while an attack runs (a 2-core machine
# shared by several test runs: generous, but far below "hung").
ANSWER_BOUND_S = 10.0
# How much the sidecar's resident memory may grow during one attack.
GROWTH_BOUND = 400 * MiB


def sidecar_pid(client) -> int:
    return client._conn._process.pid


def rss_bytes(pid: int) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@dataclass
class Watch:
    """What happened to the sidecar and the bystander VM during an attack."""

    baseline: int
    peak: int = 0
    answers: int = 0
    slowest: float = 0.0

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


@asynccontextmanager
async def watching(client) -> AsyncIterator[Watch]:
    """Run the block while sampling the sidecar's RSS and asking a second VM to
    answer (``fs.stat``); fails the test if it ever takes over ANSWER_BOUND_S."""
    pid = sidecar_pid(client)
    bystander = (await client.vm.create()).vm_id
    watch = Watch(baseline=rss_bytes(pid))
    watch.peak = watch.baseline

    async def sample() -> None:
        while True:
            watch.peak = max(watch.peak, rss_bytes(pid))
            t0 = trio.current_time()
            with trio.fail_after(ANSWER_BOUND_S):
                await client.fs.stat(bystander, "/")
            watch.slowest = max(watch.slowest, trio.current_time() - t0)
            watch.answers += 1
            await trio.sleep(0.1)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sample)
        yield watch
        nursery.cancel_scope.cancel()
    watch.peak = max(watch.peak, rss_bytes(pid))
    await client.vm.dispose(bystander)
    assert watch.answers > 0


async def no_process_runs_within(client, vm_id: str, seconds: float) -> None:
    with trio.fail_after(seconds):
        while await running_pids(client, vm_id):
            await trio.sleep(0.05)


# -- row 12: fork bomb ------------------------------------------------------------------
@pytest.mark.attack("fork bomb under process.exec with a timeout")
async def test_fork_bomb_ends_with_the_exec_timeout_and_frees_the_vm(client):
    vm = (await client.vm.create()).vm_id
    async with watching(client) as watch:
        res = await client.process.exec(vm, "f(){ f | f & }; f", timeout_ms=2000)
        assert res.timed_out and res.exit_code == 124
        await no_process_runs_within(client, vm, 20)
        await trio.sleep(0.5)
        assert await running_pids(client, vm) == []  # nothing respawned
        assert (await client.process.exec(vm, "echo alive", timeout_ms=60_000)).stdout == b"alive\n"
    assert watch.growth < GROWTH_BOUND


@pytest.mark.attack("fork bomb spawned, then process.kill")
async def test_process_kill_ends_a_fork_bomb_session(client):
    vm = (await client.vm.create()).vm_id
    async with watching(client) as watch:
        pid = (await client.process.spawn(vm, "f(){ f | f & }; f")).pid
        await trio.sleep(1.5)
        await client.process.kill(vm, pid, "SIGKILL")
        await no_process_runs_within(client, vm, 20)
    assert watch.growth < GROWTH_BOUND


# -- row 13: cancelled exec -----------------------------------------------------------------
@pytest.mark.attack("$/cancelRequest of an exec")
async def test_a_cancelled_exec_leaves_no_process_holding_a_slot(client):
    vm = (await client.vm.create(VmConfig(limits=VmLimits(max_processes=4)))).vm_id
    async with watching(client):
        for _ in range(3):  # each would hold two slots for good without the fix
            with trio.move_on_after(1.0):
                await client.process.exec(vm, "sleep 30 & sleep 30")
        await no_process_runs_within(client, vm, 20)
        assert (await client.process.exec(vm, "echo alive", timeout_ms=60_000)).stdout == b"alive\n"


# -- row 9: dispose with stuck processes ------------------------------------------------------
@pytest.mark.attack("dispose of a VM running many processes")
async def test_dispose_ends_many_processes_at_once(client):
    vm = (await client.vm.create()).vm_id
    spin = await install_guest(client, vm, "spin")
    for _ in range(6):
        await client.process.spawn(vm, argv=[spin])
    async with watching(client):
        with trio.fail_after(15):
            await client.vm.dispose(vm)
    assert vm not in [v.vm_id for v in (await client.vm.list()).vms]


