"""In-process: what a VM costs in memory, and that dispose returns it.

A disposed VM is gone, not kept alive by the threads and tasks that served it. Its
kernel holds every file of its memory filesystem, so anything that keeps a reference
(a spare guest thread's first work, the last callback a guest thread queued for
trio) keeps all of that memory until it happens to be replaced. An idle VM's Python
heap is bounded loosely (16.6-16.9 KiB measured, bench/vm_memory.py): the bound catches
a buffer or a table added per VM, not a few objects."""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import trio

from agentvm_protocol import HostDirMount, ProcessExecParams, VmConfig
from agentvm_sidecar.api import HANDLERS, RequestContext
from agentvm_sidecar.vms import VmRegistry

IDLE_VM_HEAP_BOUND = 24 * 1024


async def _noop_emit(event) -> None:
    await trio.lowlevel.checkpoint()


async def test_a_disposed_vm_that_ran_pipelines_is_collected(tmp_path):
    (tmp_path / "f").write_text("x\n")
    async with trio.open_nursery() as nursery:
        vms = VmRegistry(nursery)
        ctx = RequestContext(vms=vms, emit=_noop_emit)
        exec_ = HANDLERS["process.exec"]
        vm = await vms.create(VmConfig(mounts=[HostDirMount(path="/w", host_path=str(tmp_path))], cwd="/w"))
        for command in ("seq 1 1000 | wc -l", "cat f > /tmp/copy && ls -R | wc -l"):
            result = await exec_(ctx, ProcessExecParams(vm_id=vm.vm_id, command=command))
            assert result.exit_code == 0, result.stderr
        kernel = weakref.ref(vm.kernel)
        await vms.dispose(vm.vm_id)
        del vm, result
        with trio.fail_after(10):
            while True:
                await trio.sleep(0.01)  # the VM's tasks end once cancelled
                gc.collect()
                if kernel() is None:
                    break
        nursery.cancel_scope.cancel()


async def test_an_idle_vm_costs_a_bounded_python_heap_and_dispose_returns_it():
    async with trio.open_nursery() as nursery:
        vms = VmRegistry(nursery)
        await vms.dispose((await vms.create(VmConfig())).vm_id)  # the /bin layer and first-use caches
        count = 50
        tracemalloc.start()
        try:
            gc.collect()
            base = tracemalloc.get_traced_memory()[0]
            ids = [(await vms.create(VmConfig())).vm_id for _ in range(count)]
            gc.collect()
            idle = (tracemalloc.get_traced_memory()[0] - base) / count
            for vm_id in ids:
                await vms.dispose(vm_id)
            await trio.sleep(0.05)  # the VMs' nurseries end
            gc.collect()
            left = (tracemalloc.get_traced_memory()[0] - base) / count
        finally:
            tracemalloc.stop()
        assert idle < IDLE_VM_HEAP_BOUND, f"an idle VM holds {idle / 1024:.1f} KiB"
        assert left < 1024, f"{left:.0f} bytes per VM stay after dispose"
        nursery.cancel_scope.cancel()
