"""VmTasks: a VM's nursery opens with its first task, and cancelling it ends every
task as cancelling a nursery does: started ones, and ones started meanwhile, which
still run (cancelled) so their ``finally`` blocks release what they hold."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from agentvm_protocol import VmConfig
from agentvm_sidecar.vm_tasks import VmTasks
from agentvm_sidecar.vms import VmRegistry


async def test_an_idle_vm_holds_no_task_and_its_first_task_opens_the_nursery():
    async with trio.open_nursery() as parent:
        vms = VmRegistry(parent)
        vm = await vms.create(VmConfig())
        await trio.testing.wait_all_tasks_blocked()
        assert len(parent.child_tasks) == 0
        ran = trio.Event()

        async def task() -> None:
            ran.set()
            await trio.sleep_forever()

        vm.tasks.start_soon(task)
        vm.tasks.start_soon(task)  # a second one while the nursery opens: same nursery
        await ran.wait()
        await trio.testing.wait_all_tasks_blocked()
        assert len(parent.child_tasks) == 1
        await vms.dispose(vm.vm_id)
        await trio.testing.wait_all_tasks_blocked()
        assert len(parent.child_tasks) == 0  # dispose ended them, and the nursery closed


async def test_tasks_started_around_a_cancel_run_cancelled_and_release_what_they_hold():
    released: list[str] = []

    async def holder(name: str) -> None:
        try:
            await trio.sleep_forever()
        finally:
            released.append(name)

    async with trio.open_nursery() as parent:
        tasks = VmTasks(parent)
        tasks.start_soon(holder, "before")  # the nursery is not open yet
        tasks.cancel()
        tasks.start_soon(holder, "after")
        await trio.testing.wait_all_tasks_blocked()
        assert sorted(released) == ["after", "before"]
        with pytest.raises(RuntimeError):  # the cancelled nursery has closed
            tasks.start_soon(holder, "late")


async def test_start_returns_what_the_task_reports_and_cancel_ends_it():
    async def reporter(*, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started("ready")
        await trio.sleep_forever()

    async with trio.open_nursery() as parent:
        tasks = VmTasks(parent)
        assert await tasks.start(reporter) == "ready"
        tasks.cancel()
        await trio.testing.wait_all_tasks_blocked()
        assert len(parent.child_tasks) == 0
