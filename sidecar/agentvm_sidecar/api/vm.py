"""``vm.*`` handlers."""

from __future__ import annotations

import trio

from agentvm_protocol import (
    Empty,
    MountInfo,
    VmCreateParams,
    VmCreateResult,
    VmDisposeParams,
    VmInfo,
    VmInfoParams,
    VmInfoResult,
    VmListParams,
    VmListResult,
    VmSetNetworkPolicyParams,
    VmSummary,
    VmUsage,
)

from ..thread_calls import run_in_thread
from ..vms import egress_policy
from ._registry import RequestContext, handler


@handler("vm.create")
async def vm_create(ctx: RequestContext, params: VmCreateParams) -> VmCreateResult:
    vm = await ctx.vms.create(params.config)
    return VmCreateResult(vm_id=vm.vm_id)


@handler("vm.dispose")
async def vm_dispose(ctx: RequestContext, params: VmDisposeParams) -> Empty:
    await ctx.vms.dispose(params.vm_id)
    return Empty()


@handler("vm.list")
async def vm_list(ctx: RequestContext, params: VmListParams) -> VmListResult:
    await trio.lowlevel.checkpoint()
    return VmListResult(
        vms=[
            VmSummary(vm_id=vm.vm_id, created_at_ms=vm.created_at_ms, processes=vm.kernel.usage().processes)
            for vm in ctx.vms.all()
        ]
    )


@handler("vm.info")
async def vm_info(ctx: RequestContext, params: VmInfoParams) -> VmInfoResult:
    vm = ctx.vms.get(params.vm_id)
    usage = await run_in_thread(vm.kernel.usage, vm.threads)
    return VmInfoResult(
        info=VmInfo(
            vm_id=vm.vm_id,
            created_at_ms=vm.created_at_ms,
            usage=VmUsage(
                fs_bytes=usage.fs_bytes,
                fs_inodes=usage.fs_inodes,
                processes=usage.processes,
                open_fds=usage.open_fds,
                pipes=usage.pipes,
                memory_bytes=usage.memory_bytes,
            ),
            limits=vm.config.limits,
            mounts=[
                MountInfo(
                    path=m.path,
                    type=kind,
                    read_only=m.read_only,
                    host_path=host_path,
                )
                for m, kind, host_path in vm.kernel.mounts()
            ],
        )
    )


@handler("vm.setNetworkPolicy")
async def vm_set_network_policy(ctx: RequestContext, params: VmSetNetworkPolicyParams) -> Empty:
    await trio.lowlevel.checkpoint()
    ctx.vms.get(params.vm_id).kernel.sockets.set_egress(egress_policy(params.network))
    return Empty()
