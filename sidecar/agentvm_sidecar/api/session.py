"""``session.*`` handlers: thin adapters over the ACP layer (acp/)."""

from __future__ import annotations

import trio

from agentvm_protocol import (
    Empty,
    SessionCancelParams,
    SessionCloseParams,
    SessionCloseResult,
    SessionCreateParams,
    SessionCreateResult,
    SessionEventsParams,
    SessionEventsResult,
    SessionListParams,
    SessionListResult,
    SessionLoadParams,
    SessionPromptParams,
    SessionPromptResult,
    SessionResumeParams,
    SessionSetConfigOptionParams,
    SessionSetConfigOptionResult,
    SessionSetModeParams,
)

from ..acp import SessionContext, SessionRegistry
from ._registry import RequestContext, handler


def _sessions(ctx: RequestContext) -> SessionRegistry:
    return SessionRegistry(ctx.vms)


def _session_ctx(ctx: RequestContext) -> SessionContext:
    return SessionContext(ctx.emit, ctx.ask_client)


@handler("session.create")
async def session_create(ctx: RequestContext, p: SessionCreateParams) -> SessionCreateResult:
    return await _sessions(ctx).open(p, _session_ctx(ctx))


@handler("session.load")
async def session_load(ctx: RequestContext, p: SessionLoadParams) -> SessionCreateResult:
    return await _sessions(ctx).open(p, _session_ctx(ctx), load=p.agent_session_id)


@handler("session.resume")
async def session_resume(ctx: RequestContext, p: SessionResumeParams) -> SessionCreateResult:
    return await _sessions(ctx).open(p, _session_ctx(ctx), resume=p.agent_session_id)


@handler("session.prompt")
async def session_prompt(ctx: RequestContext, p: SessionPromptParams) -> SessionPromptResult:
    stop_reason, last_seq = await _sessions(ctx).get(p.session_id).prompt(p.prompt, _session_ctx(ctx))
    return SessionPromptResult(stop_reason=stop_reason, last_seq=last_seq)


@handler("session.cancel")
async def session_cancel(ctx: RequestContext, p: SessionCancelParams) -> Empty:
    await _sessions(ctx).get(p.session_id).cancel()
    return Empty()


@handler("session.close")
async def session_close(ctx: RequestContext, p: SessionCloseParams) -> SessionCloseResult:
    return SessionCloseResult(exit_code=await _sessions(ctx).close(p.session_id))


@handler("session.list")
async def session_list(ctx: RequestContext, p: SessionListParams) -> SessionListResult:
    await trio.lowlevel.checkpoint()
    return SessionListResult(sessions=_sessions(ctx).list(p.vm_id))


@handler("session.events")
async def session_events(ctx: RequestContext, p: SessionEventsParams) -> SessionEventsResult:
    await trio.lowlevel.checkpoint()
    events, dropped = _sessions(ctx).get(p.session_id).log.since(p.since)
    return SessionEventsResult(events=events, dropped=dropped)


@handler("session.setMode")
async def session_set_mode(ctx: RequestContext, p: SessionSetModeParams) -> Empty:
    await _sessions(ctx).get(p.session_id).set_mode(p.mode_id)
    return Empty()


@handler("session.setConfigOption")
async def session_set_config_option(ctx: RequestContext, p: SessionSetConfigOptionParams) -> SessionSetConfigOptionResult:
    options = await _sessions(ctx).get(p.session_id).set_config_option(p.config_id, p.value)
    return SessionSetConfigOptionResult(config_options=options)
