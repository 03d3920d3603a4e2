"""Expensive saturation tests: they prove a bound by actually saturating a resource.
Skipped by default (AGENTVM_SATURATION=1 runs them); the fast tests in test_limits.py
are the default-suite guard that each safeguard fires."""

from __future__ import annotations

import pytest
import trio

pytestmark = pytest.mark.saturation


async def test_fork_bomb_is_bounded_by_the_process_limit_and_the_sidecar_stays_responsive(client, vm_id):
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: client.process.exec(vm_id, ":(){ :|:& };:", timeout_ms=10_000))
        await trio.sleep(3)
        assert len((await client.process.list(vm_id)).processes) <= 128
        assert (await client.vm.list()).vms
    await client.vm.dispose(vm_id)


async def test_memory_bomb_in_many_processes_is_bounded_per_process(client, vm_id):
    script = "for i in $(seq 1 8); do (x=$(seq 1 10000000 | tr -d '\\n')) & done; wait; echo done"
    res = await client.process.exec(vm_id, script, timeout_ms=120_000)
    assert res.stdout.endswith(b"done\n") or res.timed_out
    assert (await client.process.exec(vm_id, "echo alive")).stdout == b"alive\n"
