"""``net.*`` handlers: thin adapters over net/ (HTTP into the VM)."""

from __future__ import annotations

from agentvm_protocol import NetFetchParams, NetFetchResult

from ..net.fetch import fetch, max_body_for_frame
from ._registry import RequestContext, handler


@handler("net.fetch")
async def net_fetch(ctx: RequestContext, p: NetFetchParams) -> NetFetchResult:
    vm = ctx.vms.get(p.vm_id)
    return await fetch(vm.kernel.sockets.connect_from_host, p, max_body_bytes=max_body_for_frame(ctx.max_frame_bytes))
