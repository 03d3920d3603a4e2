"""In-process: a disposed VM is gone, not kept alive by the threads and tasks that
served it. Its kernel holds every file of its memory filesystem, so anything that
keeps a reference (a spare guest thread's first work, the last callback a guest
thread queued for trio) keeps all of that memory until it happens to be replaced."""

from __future__ import annotations

import gc
import weakref

import trio

from agentvm_protocol import HostDirMount, ProcessExecParams, VmConfig
from agentvm_sidecar.api import HANDLERS, RequestContext
from agentvm_sidecar.vms import VmRegistry


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
