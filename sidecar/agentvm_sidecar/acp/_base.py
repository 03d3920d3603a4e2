"""What every session does, whatever protocol its agent speaks.

A session owns its state machine (_state.py), its event log (_events.py), its
nursery inside the VM's nursery, and the prompt-turn discipline: one turn at a
time, the turn bounded by the prompt timeout, cancellation that answers pending
permission requests ``cancelled`` at once and then gives the agent ``close_grace``
seconds to end the turn (https://agentclientprotocol.com/protocol/prompt-turn:
"the Client MUST respond to all pending session/request_permission requests with
the cancelled outcome"; the agent "MUST respond to the original session/prompt
request with StopReason::Cancelled"). An agent that does not is not waited for:
the turn still ends ``cancelled``.

Subclasses say how to talk to their agent: :class:`~.session.AcpSession` (ACP over
stdio) and :class:`~.codex.CodexSession` (the Codex CLI's ``--session-turn``).
"""

from __future__ import annotations

import secrets
from typing import Any

import trio

from agentvm_protocol import AgentCommand, Event, SessionCreateResult, SessionInfo, SessionTimeouts

from ..logs import get_logger
from ..rpc.errors import RpcError
from ._events import EventLog
from ._permissions import CANCELLED, decide
from ._state import SessionState, State, Trigger

__all__ = ["SessionBase", "SessionContext"]

log = get_logger("acp")


class SessionContext:
    """Where a session reports: the connection's event stream and its client."""

    def __init__(self, emit: Any, ask_client: Any) -> None:
        self.emit = emit
        self.ask_client = ask_client


class SessionBase:
    """One agent session in ``vm``; subclasses implement the agent's side."""

    def __init__(self, vm: Any, command: AgentCommand, policy: str, timeouts: SessionTimeouts, ctx: SessionContext) -> None:
        self.session_id = f"ses-{secrets.token_hex(6)}"
        self.vm = vm
        self.command = command
        self.policy = policy
        self.timeouts = timeouts
        self.request_timeout = timeouts.request
        self.ctx = ctx
        self.cwd = command.cwd or vm.config.cwd
        self.state = SessionState()
        self.log = EventLog(self.session_id)
        self.agent_session_id = ""
        self._nursery: trio.Nursery | None = None
        self._permission_scopes: set[trio.CancelScope] = set()
        self._prompt_scope: trio.CancelScope | None = None
        self._cancel_requested = False

    # -- what subclasses provide ----------------------------------------------------

    @property
    def pid(self) -> int:
        """The agent process (0 when none runs now)."""
        raise NotImplementedError

    async def _start(self, mcp_servers: list[dict[str, Any]], auth_method: str | None, load: str | None,
                     resume: str | None) -> SessionCreateResult:
        """Start the agent and open its session (in ``self._nursery``)."""
        raise NotImplementedError

    async def _turn(self, blocks: list[dict[str, Any]]) -> str:
        """Run one prompt turn; returns its stop reason."""
        raise NotImplementedError

    async def _stop_turn(self) -> None:
        """Ask the agent to end the running turn (bounded by ``close_grace``)."""
        raise NotImplementedError

    async def _stop_agent(self, grace: float) -> int:
        """End the agent process(es); returns the exit code."""
        raise NotImplementedError

    def _lost_reason(self) -> str | None:
        """Why the agent can no longer be talked to, or None."""
        return None

    async def set_mode(self, mode_id: str) -> None:
        await trio.lowlevel.checkpoint()
        raise RpcError("unsupported", "this agent has no modes")

    async def set_config_option(self, config_id: str, value: Any) -> list[dict[str, Any]]:
        await trio.lowlevel.checkpoint()
        raise RpcError("unsupported", "this agent has no config options")

    # -- lifetime ---------------------------------------------------------------------

    async def open(self, mcp_servers: list[dict[str, Any]], auth_method: str | None, *, load: str | None = None,
                   resume: str | None = None) -> SessionCreateResult:
        """Start the agent and open the session; on any failure the agent is stopped
        and the error raised (``timeout``, ``agent_error``, ``unsupported``, or the
        spawn's KernelError)."""
        self._nursery = await self.vm.tasks.start(_run_session_nursery)
        try:
            result = await self._start(mcp_servers, auth_method, load, resume)
        except BaseException:
            with trio.CancelScope(shield=True):
                await self._shutdown(grace=0.5)
            raise
        self.state.fire(Trigger.OPENED)
        log.info("session_opened", session_id=self.session_id, vm_id=self.vm.vm_id, pid=self.pid)
        return result

    async def close(self) -> int:
        """Close the session and stop the agent; returns its exit code (as a shell reports it)."""
        self.state.fire(Trigger.CLOSE)
        if self._prompt_scope is not None:
            self._prompt_scope.cancel()
        code = await self._shutdown(self.timeouts.close_grace)
        self.state.fire(Trigger.CLOSED)
        return code

    async def _shutdown(self, grace: float) -> int:
        code = await self._stop_agent(grace)
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()
        return code

    # -- prompt turns -------------------------------------------------------------------

    async def prompt(self, blocks: list[dict[str, Any]], ctx: SessionContext) -> tuple[str, int]:
        """Run one prompt turn; returns (stop reason, last seq).

        Raises: RpcError ``busy`` (a turn is running), ``timeout``, ``agent_error``
        (the agent failed or answered an error), ``cancelled`` (session closed).
        """
        self.state.fire(Trigger.PROMPT)
        self.ctx = ctx
        self._cancel_requested = False
        try:
            with trio.CancelScope(deadline=trio.current_time() + self.timeouts.prompt) as scope:
                self._prompt_scope = scope
                return await self._turn(blocks), self.log.last_seq
            if self.state.state is State.CLOSING:
                raise RpcError("cancelled", "the session was closed during the prompt")
            if self._cancel_requested:
                return "cancelled", self.log.last_seq
            with trio.CancelScope(shield=True):
                await self._stop_turn()
            raise RpcError("timeout", f"the prompt turn did not end within {self.timeouts.prompt:g} s; it was cancelled")
        except trio.Cancelled:
            # The client abandoned session.prompt: the agent's turn is cancelled too.
            with trio.CancelScope(shield=True):
                await self._stop_turn()
            raise
        finally:
            self._prompt_scope = None
            lost = self._lost_reason()
            if lost is not None:
                self.state.fire(Trigger.AGENT_LOST, reason=lost)
            self.state.fire(Trigger.TURN_ENDED)

    async def cancel(self) -> None:
        """Cancel the running turn (nothing to do when idle)."""
        before = self.state.state
        self.state.fire(Trigger.CANCEL)
        if before is not State.PROMPTING:
            await trio.lowlevel.checkpoint()
            return
        self._cancel_requested = True
        self._end_permission_requests()
        await self._stop_turn()
        if self._prompt_scope is not None:
            self._prompt_scope.deadline = min(self._prompt_scope.deadline, trio.current_time() + self.timeouts.close_grace)

    def on_lost(self, reason: str) -> None:
        """The agent went away. A running prompt fires AGENT_LOST itself when it ends."""
        if self.state.state in (State.READY, State.STARTING):
            self.state.fire(Trigger.AGENT_LOST, reason=reason)

    # -- updates and permissions ----------------------------------------------------------

    async def publish(self, update: dict[str, Any]) -> None:
        """Number and keep an ACP session update, and stream it to the client."""
        await self._emit(self.log.append(update))

    async def _emit(self, event: Event) -> None:
        try:
            await self.ctx.emit(event)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # no client to stream to; the log keeps it

    def _end_permission_requests(self) -> None:
        """Answer every pending permission request ``cancelled``."""
        for scope in list(self._permission_scopes):
            scope.cancel()

    async def request_permission(self, params: dict[str, Any]) -> dict[str, Any]:
        """The outcome of an ACP permission request: by policy or the client's answer
        within the request timeout (a rejection otherwise), ``cancelled`` once the
        turn is being cancelled."""
        if self.state.state is State.CANCELLING:
            await trio.lowlevel.checkpoint()
            return CANCELLED
        with trio.CancelScope() as scope:
            self._permission_scopes.add(scope)
            try:
                with trio.move_on_after(self.timeouts.request):
                    return await decide(self.policy, self.session_id, params, self.ctx.ask_client)
                return await decide("deny", self.session_id, params, self.ctx.ask_client)
            finally:
                self._permission_scopes.discard(scope)
        return CANCELLED

    def info(self) -> SessionInfo:
        state = self.state.state
        return SessionInfo(
            session_id=self.session_id,
            vm_id=self.vm.vm_id,
            agent_session_id=self.agent_session_id,
            pid=self.pid,
            state="ready" if state is State.STARTING else state.value,  # type: ignore[arg-type]
            last_seq=self.log.last_seq,
        )


async def _run_session_nursery(*, task_status: trio.TaskStatus[trio.Nursery] = trio.TASK_STATUS_IGNORED) -> None:
    async with trio.open_nursery() as nursery:
        task_status.started(nursery)
        await trio.sleep_forever()
