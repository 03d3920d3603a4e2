"""In-process: one VM whose kernel calls are stuck cannot starve other VMs' requests."""

from __future__ import annotations

import threading

import trio

from agentvm_protocol import FsExistsParams, VmConfig
from agentvm_sidecar.api import HANDLERS, RequestContext
from agentvm_sidecar.vms import VM_WORKER_THREADS, VmRegistry


async def _noop_emit(event) -> None:
    await trio.lowlevel.checkpoint()


async def test_requests_to_other_vms_proceed_while_one_vms_kernel_is_stuck():
    async with trio.open_nursery() as nursery:
        vms = VmRegistry(nursery)
        stuck = await vms.create(VmConfig(software=False))
        healthy = await vms.create(VmConfig(software=False))
        ctx = RequestContext(vms=vms, emit=_noop_emit)
        exists = HANDLERS["fs.exists"]
        release = threading.Event()
        held = threading.Event()

        def hold_lock() -> None:
            with stuck.kernel.lock:  # as a guest stuck in a slow host call would
                held.set()
                release.wait(30)

        threading.Thread(target=hold_lock, daemon=True).start()
        held.wait(5)
        async with trio.open_nursery() as blocked:
            # far more calls than the VM's threads (and than trio's global 40)
            for _ in range(VM_WORKER_THREADS + 40):
                blocked.start_soon(exists, ctx, FsExistsParams(vm_id=stuck.vm_id, path="/tmp"))
            await trio.sleep(0.2)
            with trio.fail_after(10):
                assert (await exists(ctx, FsExistsParams(vm_id=healthy.vm_id, path="/tmp"))).exists
                assert (await vms.create(VmConfig(software=False))).vm_id
            release.set()
        await vms.dispose_all()
        nursery.cancel_scope.cancel()
