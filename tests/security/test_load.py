"""Load: many VMs in one sidecar at once, none lost, and the canary's VM answering."""

from __future__ import annotations

import pytest
import trio

VMS = 200


@pytest.mark.canary_bound(30)  # the canary's VM is the 201st, sharing 2 cores fairly
@pytest.mark.attack(f"{VMS} VMs in one sidecar, each running a short pipeline at the same time")
async def test_two_hundred_vms_each_run_a_pipeline_concurrently_and_none_is_lost(client, canary):
    vm_ids: list[str] = []
    results: dict[str, tuple[int, bytes]] = {}

    async def create() -> None:
        vm_ids.append((await client.vm.create()).vm_id)

    async def pipeline(vm_id: str) -> None:
        out = await client.process.exec(vm_id, f"echo {vm_id} | tr a-z A-Z | wc -c", timeout_ms=120_000)
        results[vm_id] = (out.exit_code, out.stdout)

    with trio.fail_after(300):
        async with trio.open_nursery() as nursery:
            for _ in range(VMS):
                nursery.start_soon(create)
        async with trio.open_nursery() as nursery:
            for vm_id in vm_ids:
                nursery.start_soon(pipeline, vm_id)
    assert len(vm_ids) == VMS and len((await client.vm.list()).vms) == VMS + 1  # and the canary's
    assert results == {vm_id: (0, f"{len(vm_id) + 1}\n".encode()) for vm_id in vm_ids}
    async with trio.open_nursery() as nursery:
        for vm_id in vm_ids:
            nursery.start_soon(client.vm.dispose, vm_id)
    assert [vm.vm_id for vm in (await client.vm.list()).vms] == [canary.vm_id]
