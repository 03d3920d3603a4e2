"""VmTasks: a VM's nursery opens with its first task, and cancelling it ends every
task as cancelling a nursery does: started ones, and ones started meanwhile, which
still run (cancelled) so their ``finally`` blocks release what they hold."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from agentvm_protocol import ProcessSpawnParams, VmConfig
from agentvm_sidecar import client_processes
from agentvm_sidecar.rpc.errors import RpcError
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
        tasks.start_soon(holder, "late")  # the cancelled nursery has closed: it runs cancelled all the same
        await trio.testing.wait_all_tasks_blocked()
        assert sorted(released) == ["after", "before", "late"]
        assert len(parent.child_tasks) == 0
        with pytest.raises(RpcError) as failed:
            await tasks.start(holder, "later")
        assert failed.value.kind == "not_found"


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


async def test_a_spawn_that_outlives_its_vm_s_dispose_is_no_internal_error(monkeypatch: pytest.MonkeyPatch):
    # The spawn is past its VM lookup and its process exists, but its task runs
    # again only after dispose closed the VM's nursery: registering its output
    # pump then raised RuntimeError (an internal error on the wire, seen once by
    # the protocol fuzzer under load).
    disposed = trio.Event()
    create_and_run = client_processes.ClientProcesses._create_and_run

    async def resumed_after_dispose(self, create):  # type: ignore[no-untyped-def]
        proc = await create_and_run(self, create)
        await disposed.wait()
        return proc

    async def emit(event: object) -> None:
        pass

    async with trio.open_nursery() as parent:
        vms = VmRegistry(parent)
        vm = await vms.create(VmConfig())
        await vm.processes.spawn(ProcessSpawnParams(vm_id=vm.vm_id, command="sleep 30"), emit)  # opens the nursery
        monkeypatch.setattr(client_processes.ClientProcesses, "_create_and_run", resumed_after_dispose)
        async with trio.open_nursery() as racing:
            racing.start_soon(vm.processes.spawn, ProcessSpawnParams(vm_id=vm.vm_id, argv=["sleep", "30"]), emit)
            with trio.fail_after(10):
                while len(vm.kernel.processes.all()) < 2:  # made on its guest thread
                    await trio.sleep(0.005)
            await vms.dispose(vm.vm_id)
            await trio.testing.wait_all_tasks_blocked()  # the VM's nursery has closed
            disposed.set()
        await trio.testing.wait_all_tasks_blocked()
        assert len(parent.child_tasks) == 0  # the late spawn's pump ran, cancelled, and ended
