"""``preview.*`` handlers: thin adapters over the sidecar's PreviewServer (net/preview.py)."""

from __future__ import annotations

import trio

from agentvm_protocol import (
    Empty,
    PreviewCreateUrlParams,
    PreviewCreateUrlResult,
    PreviewRevokeParams,
    PreviewStartParams,
    PreviewStartResult,
)

from ..net.preview import PreviewServer, revoke
from ..rpc.errors import RpcError
from ._registry import RequestContext, handler


def _previews(ctx: RequestContext) -> PreviewServer:
    if ctx.previews is None:
        raise RpcError("unavailable", "this connection has no preview server")
    return ctx.previews


@handler("preview.start")
async def preview_start(ctx: RequestContext, p: PreviewStartParams) -> PreviewStartResult:
    return PreviewStartResult(url_base=await _previews(ctx).start(p.host, p.port))


@handler("preview.createUrl")
async def preview_create_url(ctx: RequestContext, p: PreviewCreateUrlParams) -> PreviewCreateUrlResult:
    await trio.lowlevel.checkpoint()
    return _previews(ctx).create_url(ctx.vms.get(p.vm_id), p.port, p.ttl_seconds)


@handler("preview.revoke")
async def preview_revoke(ctx: RequestContext, p: PreviewRevokeParams) -> Empty:
    await trio.lowlevel.checkpoint()
    _previews(ctx)  # as createUrl, refused on a connection without a preview server
    revoke(ctx.vms, p.token)
    return Empty()
