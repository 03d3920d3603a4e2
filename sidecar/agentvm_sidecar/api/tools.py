"""``tools.*`` handlers: host tools served inside a VM (logic in tools/)."""

from __future__ import annotations

import trio

from agentvm_protocol import (
    Empty,
    ToolsListParams,
    ToolsListResult,
    ToolsLogParams,
    ToolsLogResult,
    ToolsRegisterParams,
    ToolsRotateTokenParams,
    ToolsUnregisterParams,
)

from ..rpc.errors import RpcError
from ..tools.registry import MAX_TOOLS
from ._registry import RequestContext, handler


@handler("tools.register")
async def tools_register(ctx: RequestContext, params: ToolsRegisterParams) -> Empty:
    tools = ctx.vms.get(params.vm_id).tools
    names = {t.name for t in params.tools} | {t.name for t in tools.specs()}
    if len(names) > MAX_TOOLS:
        raise RpcError("limit_exceeded", f"a VM has at most {MAX_TOOLS} tools")
    tools.register(params.tools, ctx.ask_client)
    await tools.write_docs()
    return Empty()


@handler("tools.unregister")
async def tools_unregister(ctx: RequestContext, params: ToolsUnregisterParams) -> Empty:
    tools = ctx.vms.get(params.vm_id).tools
    tools.unregister(params.names)
    await tools.write_docs()
    return Empty()


@handler("tools.list")
async def tools_list(ctx: RequestContext, params: ToolsListParams) -> ToolsListResult:
    await trio.lowlevel.checkpoint()
    return ToolsListResult(tools=ctx.vms.get(params.vm_id).tools.specs())


@handler("tools.rotateToken")
async def tools_rotate_token(ctx: RequestContext, params: ToolsRotateTokenParams) -> Empty:
    await trio.lowlevel.checkpoint()
    ctx.vms.get(params.vm_id).tools.rotate_token()
    return Empty()


@handler("tools.log")
async def tools_log(ctx: RequestContext, params: ToolsLogParams) -> ToolsLogResult:
    await trio.lowlevel.checkpoint()
    return ToolsLogResult(entries=ctx.vms.get(params.vm_id).tools.audit.since(params.since))
