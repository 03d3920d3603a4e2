"""Deciding ACP ``session/request_permission``.

https://agentclientprotocol.com/protocol/tool-calls#requesting-permission. The
agent offers options, each with a ``kind`` (``allow_once``, ``allow_always``,
``reject_once``, ``reject_always``); the client answers with one option id, or with
the ``cancelled`` outcome, which the spec requires once the prompt turn is
cancelled: "the Client MUST respond to all pending session/request_permission
requests with the cancelled outcome".

Policies: ``allow`` picks an allow option, ``deny`` a reject option (``cancelled``
when the agent offers none of that kind), and ``ask`` forwards the request to the
wire client as ``session.requestPermission``. A client that does not answer in
time, answers an error, or names an option that was not offered gets the ``deny``
choice: a silent or broken client never grants anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from agentvm_protocol import SessionRequestPermissionParams, SessionRequestPermissionResult

from ..logs import get_logger
from ..rpc.errors import RpcError

__all__ = ["CANCELLED", "decide", "pick"]

log = get_logger("acp.permissions")

CANCELLED: dict[str, Any] = {"outcome": "cancelled"}
_PREFERENCE = {"allow": ("allow_once", "allow_always"), "deny": ("reject_once", "reject_always")}
_decode_result = msgspec.json.Decoder(SessionRequestPermissionResult).decode

AskClient = Callable[[str, Any], Awaitable[msgspec.Raw]]


def pick(options: list[dict[str, Any]], policy: str) -> dict[str, Any]:
    """The outcome ``policy`` ("allow" or "deny") chooses among ``options``."""
    for kind in _PREFERENCE[policy]:
        for option in options:
            if option.get("kind") == kind and isinstance(option.get("optionId"), str):
                return {"outcome": "selected", "optionId": option["optionId"]}
    return CANCELLED


async def decide(
    policy: str, session_id: str, params: dict[str, Any], ask_client: AskClient
) -> dict[str, Any]:
    """The outcome for one permission request under ``policy``. The caller bounds the
    time (the session's request timeout) and answers ``cancelled`` on cancellation."""
    options = params.get("options") or []
    if policy != "ask":
        return pick(options, policy)
    question = SessionRequestPermissionParams(session_id=session_id, tool_call=params.get("toolCall") or {}, options=options)
    try:
        raw = await ask_client("session.requestPermission", question)
        outcome = _decode_result(raw).outcome
    except (RpcError, msgspec.ValidationError, msgspec.DecodeError) as exc:
        log.info("permission_not_answered", session_id=session_id, error=str(exc))
        return pick(options, "deny")
    if outcome.get("outcome") == "cancelled":
        return CANCELLED
    offered = {o.get("optionId") for o in options}
    if outcome.get("outcome") == "selected" and outcome.get("optionId") in offered:
        return {"outcome": "selected", "optionId": outcome["optionId"]}
    log.info("permission_answer_invalid", session_id=session_id)
    return pick(options, "deny")
