"""Finding, opening and forgetting sessions.

A session belongs to its VM (``Vm.sessions``): disposing the VM kills the agent
with every other process and cancels the session's nursery with the VM's. Session
ids are unique across VMs, so the wire names a session by its id alone.
"""

from __future__ import annotations

from typing import Any

from agentvm_protocol import SessionCreateResult, SessionInfo

from ..rpc.errors import RpcError
from ._base import SessionBase, SessionContext
from .codex import CodexSession
from .presets import resolve_agent
from .session import AcpSession

__all__ = ["SessionRegistry"]


class SessionRegistry:
    """The sessions of every VM of ``vms`` (a VmRegistry)."""

    def __init__(self, vms: Any) -> None:
        self._vms = vms

    def get(self, session_id: str) -> SessionBase:
        """Raises: not_found."""
        for vm in self._vms.all():
            session = vm.sessions.get(session_id)
            if session is not None:
                return session
        raise RpcError("not_found", f"no session {session_id!r}")

    async def open(self, params: Any, ctx: SessionContext, *, load: str | None = None, resume: str | None = None) -> SessionCreateResult:
        """Start the agent ``params`` describes and open its session (create, load or resume)."""
        vm = self._vms.get(params.vm_id)
        command = resolve_agent(params.agent)
        kind = CodexSession if command.preset == "codex" else AcpSession
        session = kind(vm, command, params.permission_policy, params.timeouts, ctx)
        result = await session.open(params.mcp_servers, params.auth_method, load=load, resume=resume)
        vm.sessions[session.session_id] = session
        return result

    async def close(self, session_id: str) -> int:
        session = self.get(session_id)
        try:
            return await session.close()
        finally:
            session.vm.sessions.pop(session_id, None)

    def list(self, vm_id: str | None) -> list[SessionInfo]:
        vms = [self._vms.get(vm_id)] if vm_id is not None else self._vms.all()
        return [session.info() for vm in vms for session in vm.sessions.values()]
