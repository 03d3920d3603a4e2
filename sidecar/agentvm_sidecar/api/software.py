"""``software.*`` handlers."""

from __future__ import annotations

import trio

from agentvm_protocol import SoftwareCommand, SoftwareListParams, SoftwareListResult

from ..rpc.errors import RpcError
from ..software.layer import shared_bin_layer
from ..software.library import SoftwareMissingError
from ._registry import RequestContext, handler


@handler("software.list")
async def software_list(ctx: RequestContext, params: SoftwareListParams) -> SoftwareListResult:
    try:
        layer = await trio.to_thread.run_sync(shared_bin_layer)  # loads it on first use
    except SoftwareMissingError as exc:
        raise RpcError("unavailable", f"guest software is not set up: {exc}") from None
    return SoftwareListResult(
        commands=[SoftwareCommand(name=c.name, package=c.package, version=c.version, source=c.source) for c in layer.listing]
    )
