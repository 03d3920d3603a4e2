"""A sidecar started with ``--run-slots 1`` (wasm/scheduler.py): concurrent CPU-bound
guests take turns and all finish, and pipelines, whose stages wait on each other,
still flow with one guest thread running at a time."""

from __future__ import annotations

import sys

import pytest
import trio

from agentvm import AsyncClient
from tests.process.conftest import install_guest, running_pids, wait_until_no_process_runs

ONE_SLOT = [sys.executable, "-m", "agentvm_sidecar", "--stdio", "--log-level", "warning", "--run-slots", "1"]


@pytest.fixture
async def one_slot():
    async with AsyncClient.connect(ONE_SLOT) as c:
        yield c


async def exec_all(client, runs: list[tuple[str, list[str]]]) -> list:  # type: ignore[no-untyped-def]
    """Run every (vm, argv) at once; their results in order."""
    results: list = [None] * len(runs)

    async def run(i: int) -> None:
        vm, argv = runs[i]
        results[i] = await client.process.exec(vm, argv=argv, timeout_ms=120_000)

    async with trio.open_nursery() as nursery:
        for i in range(len(runs)):
            nursery.start_soon(run, i)
    return results


async def test_concurrent_cpu_bound_guests_take_turns_and_all_finish(one_slot):
    vm = (await one_slot.vm.create()).vm_id
    # Each guest computes and appends its progress to one log; with one slot, only
    # time slices let the others write while the first is still running.
    script = 'i=0; while [ $i -lt 300 ]; do i=$((i+1)); echo "$0" >> /tmp/log; done'
    names = [f"g{k}" for k in range(4)]
    results = await exec_all(one_slot, [(vm, ["sh", "-c", script, name]) for name in names])
    assert [r.exit_code for r in results] == [0] * 4, [r.stderr for r in results]
    log = (await one_slot.fs.read_file(vm, "/tmp/log")).data.decode().split()
    assert sorted(set(log)) == names and all(log.count(n) == 300 for n in names)
    first = {n: log.index(n) for n in names}
    last = {n: len(log) - 1 - log[::-1].index(n) for n in names}
    # every guest made progress before any guest finished
    assert max(first.values()) < min(last.values()), (first, last)


async def test_a_pipeline_flows_with_one_slot(one_slot):
    vm = (await one_slot.vm.create()).vm_id
    res = await one_slot.process.exec(vm, "yes | head -c 10M | wc -c", timeout_ms=120_000)
    assert (res.exit_code, res.stdout.strip()) == (0, b"10485760"), res.stderr


async def test_concurrent_pipelines_in_one_vm_and_in_two_flow_with_one_slot(one_slot):
    first, second = [(await one_slot.vm.create()).vm_id for _ in range(2)]
    command = ["sh", "-c", "yes abc | head -c 3M | wc -c"]
    results = await exec_all(one_slot, [(first, command)] * 3 + [(second, command)] * 2)
    assert [(r.exit_code, r.stdout.strip()) for r in results] == [(0, b"3145728")] * 5, [r.stderr for r in results]


async def test_the_wire_answers_and_kills_land_while_spinners_share_the_slot(one_slot):
    vm = (await one_slot.vm.create()).vm_id
    spin = await install_guest(one_slot, vm, "spin")
    pids = [(await one_slot.process.spawn(vm, argv=[spin])).pid for _ in range(3)]
    # the trio thread never waits for a slot: the wire is served while guests queue
    await one_slot.fs.write_file(vm, "/tmp/note", b"served")
    assert (await one_slot.fs.read_file(vm, "/tmp/note")).data == b"served"
    assert sorted(await running_pids(one_slot, vm)) == sorted(pids)
    for pid in pids:
        await one_slot.process.kill(vm, pid, "SIGKILL")
    await wait_until_no_process_runs(one_slot, vm)
