"""One agent session: an ACP agent process in a VM, driven by the sidecar.

Each wire request is a whole ACP exchange (DESIGN.md, "ACP sessions"):
:meth:`Session.open` spawns the agent and runs ``initialize`` (protocol version 1,
fs and terminal capabilities), ``authenticate`` when ``session/new`` answers "auth
required" (ACP error -32000), and ``session/new`` (or ``session/load`` /
``session/resume``); :meth:`Session.prompt` runs one turn to its stop reason while
every ``session/update`` is numbered, kept in the bounded :class:`EventLog` and
streamed as a ``session.update`` event.

The state machine lives in _state.py; this module only fires its triggers. The
agent's requests are served here: fs/* from the kernel (_fs.py), terminal/* as VM
processes (_terminals.py), session/request_permission by policy or by asking the
client (_permissions.py). Everything a session runs (the stdout reader, stderr
drain, agent requests, terminal readers) lives in the session's own nursery inside
its VM's nursery, so closing the session or disposing the VM ends all of it.

Prompt turn and cancellation (https://agentclientprotocol.com/protocol/prompt-turn):
``session.cancel`` sends ``session/cancel``, answers pending permission requests
``cancelled`` at once, and gives the agent ``close_grace`` seconds to answer the
prompt (it "MUST respond ... with the cancelled stop reason"); one that does not
still ends the turn as ``cancelled``. A prompt that outlives its timeout is
cancelled the same way and fails with kind ``timeout``.
"""

from __future__ import annotations

import math
import secrets
from typing import Any

import msgspec
import trio

from agentvm_protocol import (
    AgentCommand,
    Event,
    SessionCreateResult,
    SessionInfo,
    SessionTimeouts,
)

from ..logs import get_logger
from ..rpc.errors import RpcError
from ._agent_process import AgentProcess
from ._connection import AcpConnection, AgentError, AgentRequestError
from ._events import EventLog
from ._fs import ReadTextFileParams, WriteTextFileParams, read_text_file, write_text_file
from ._peer import ACP_AUTH_REQUIRED, ACP_METHOD_NOT_FOUND
from ._permissions import CANCELLED, decide
from ._state import SessionState, State, Trigger
from ._terminals import CreateTerminalParams, TerminalParams, Terminals

__all__ = ["ACP_PROTOCOL_VERSION", "Session", "SessionContext"]

log = get_logger("acp")

ACP_PROTOCOL_VERSION = 1
CLIENT_INFO = {"name": "agentvm", "title": "agentvm sidecar", "version": "0.1.0"}
CLIENT_CAPABILITIES = {"fs": {"readTextFile": True, "writeTextFile": True}, "terminal": True}


class SessionContext:
    """Where a session reports: the connection's event stream and its client."""

    def __init__(self, emit: Any, ask_client: Any) -> None:
        self.emit = emit
        self.ask_client = ask_client


def _to(tp: type[msgspec.Struct]) -> Any:
    """A converter from an agent request's JSON params to ``tp`` (ValidationError
    becomes ACP's invalid-params answer)."""
    return lambda params: msgspec.convert(params, tp)


_to_read = _to(ReadTextFileParams)
_to_write = _to(WriteTextFileParams)
_to_create = _to(CreateTerminalParams)
_to_terminal = _to(TerminalParams)


class Session:
    """An agent process in ``vm`` and the ACP session the sidecar holds with it."""

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
        self.capabilities: dict[str, Any] = {}
        self._agent: AgentProcess | None = None
        self._conn: AcpConnection | None = None
        self._nursery: trio.Nursery | None = None
        self._terminals: Terminals | None = None
        self._permission_scopes: set[trio.CancelScope] = set()
        self._prompt_scope: trio.CancelScope | None = None
        self._cancel_requested = False

    # -- lifetime ------------------------------------------------------------------

    @property
    def pid(self) -> int:
        return self._agent.pid if self._agent is not None else 0

    async def open(self, mcp_servers: list[dict[str, Any]], auth_method: str | None, *, load: str | None = None,
                   resume: str | None = None) -> SessionCreateResult:
        """Spawn the agent and open the ACP session; on any failure the agent is
        stopped and the error raised (``timeout``, ``agent_error``, ``unsupported``,
        or the spawn's KernelError)."""
        self._nursery = await self.vm.nursery.start(_run_session_nursery)
        try:
            return await self._open(mcp_servers, auth_method, load, resume)
        except BaseException:
            with trio.CancelScope(shield=True):
                await self._shutdown(grace=0.5)
            raise

    async def _open(self, mcp_servers: list[dict[str, Any]], auth_method: str | None, load: str | None,
                    resume: str | None) -> SessionCreateResult:
        assert self._nursery is not None
        command = self.command
        self._agent = await AgentProcess.start(
            self.vm.processes, argv=command.argv, command=command.command, cwd=self.cwd, env=command.env, nursery=self._nursery
        )
        self._terminals = Terminals(self.vm.processes, self.cwd, self._nursery)
        self._conn = conn = AcpConnection(self._agent, self, self.session_id)
        self._nursery.start_soon(conn.serve, self._nursery)
        init = await conn.request(
            "initialize",
            {"protocolVersion": ACP_PROTOCOL_VERSION, "clientCapabilities": CLIENT_CAPABILITIES, "clientInfo": CLIENT_INFO},
            self.timeouts.initialize,
        )
        if not isinstance(init, dict) or init.get("protocolVersion") != ACP_PROTOCOL_VERSION:
            version = init.get("protocolVersion") if isinstance(init, dict) else None
            raise RpcError("agent_error", f"the agent speaks ACP protocol version {version!r}, not {ACP_PROTOCOL_VERSION}")
        self.capabilities = init.get("agentCapabilities") or {}
        auth_methods = init.get("authMethods") or []
        params: dict[str, Any] = {"cwd": self.cwd, "mcpServers": mcp_servers}
        method = "session/new"
        if load is not None or resume is not None:
            method, params["sessionId"] = self._reopen_method(load, resume)
        try:
            opened = await conn.request(method, params, self.timeouts.new_session)
        except AgentError as exc:
            if exc.code != ACP_AUTH_REQUIRED or not auth_methods:
                raise
            chosen = auth_method or auth_methods[0].get("id")
            await conn.request("authenticate", {"methodId": chosen}, self.timeouts.request)
            opened = await conn.request(method, params, self.timeouts.new_session)
        opened = opened if isinstance(opened, dict) else {}
        self.agent_session_id = opened.get("sessionId") or params.get("sessionId") or ""
        if not self.agent_session_id:
            raise RpcError("agent_error", f"the agent's {method} answer has no sessionId")
        self.state.fire(Trigger.OPENED)
        log.info("session_opened", session_id=self.session_id, vm_id=self.vm.vm_id, pid=self.pid)
        return SessionCreateResult(
            session_id=self.session_id,
            agent_session_id=self.agent_session_id,
            pid=self.pid,
            agent_info=init.get("agentInfo"),
            agent_capabilities=self.capabilities,
            auth_methods=auth_methods,
            modes=opened.get("modes"),
            config_options=opened.get("configOptions"),
        )

    def _reopen_method(self, load: str | None, resume: str | None) -> tuple[str, str]:
        if load is not None:
            if not self.capabilities.get("loadSession"):
                raise RpcError("unsupported", "the agent does not advertise loadSession")
            return "session/load", load
        assert resume is not None
        if (self.capabilities.get("sessionCapabilities") or {}).get("resume") is None:
            raise RpcError("unsupported", "the agent does not advertise sessionCapabilities.resume")
        return "session/resume", resume

    async def close(self) -> int:
        """Close the session and stop the agent; returns its exit code (as a shell reports it)."""
        self.state.fire(Trigger.CLOSE)
        if self._prompt_scope is not None:
            self._prompt_scope.cancel()
        conn = self._conn
        if conn is not None and conn.lost_reason is None and (self.capabilities.get("sessionCapabilities") or {}).get("close") is not None:
            try:
                await conn.request("session/close", {"sessionId": self.agent_session_id}, self.timeouts.close_grace)
            except RpcError as exc:
                log.info("session_close_refused", session_id=self.session_id, error=exc.message)
        status = await self._shutdown(self.timeouts.close_grace)
        self.state.fire(Trigger.CLOSED)
        return status

    async def _shutdown(self, grace: float) -> int:
        code = 0
        if self._terminals is not None:
            self._terminals.release_all()
        if self._agent is not None:
            code = (await self._agent.stop(grace)).shell_code
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()
        return code

    # -- requests to the agent -------------------------------------------------------

    def _live_connection(self, what: str) -> AcpConnection:
        self.state.require_live(what)
        assert self._conn is not None
        return self._conn

    async def prompt(self, blocks: list[dict[str, Any]], ctx: SessionContext) -> tuple[str, int]:
        """Run one prompt turn; returns (stop reason, last seq).

        Raises: RpcError ``busy`` (a turn is running), ``timeout``, ``agent_error``
        (the agent failed or answered an error), ``cancelled`` (session closed).
        """
        self.state.fire(Trigger.PROMPT)
        self.ctx = ctx
        self._cancel_requested = False
        conn = self._conn
        assert conn is not None
        try:
            with trio.CancelScope(deadline=trio.current_time() + self.timeouts.prompt) as scope:
                self._prompt_scope = scope
                result = await conn.request("session/prompt", {"sessionId": self.agent_session_id, "prompt": blocks}, math.inf)
                stop_reason = result.get("stopReason") if isinstance(result, dict) else None
                if not isinstance(stop_reason, str):
                    raise RpcError("agent_error", "the agent's session/prompt answer has no stopReason")
                return stop_reason, self.log.last_seq
            if self.state.state is State.CLOSING:
                raise RpcError("cancelled", "the session was closed during the prompt")
            if self._cancel_requested:
                return "cancelled", self.log.last_seq
            with trio.CancelScope(shield=True):
                await self._cancel_turn()
            raise RpcError("timeout", f"the prompt turn did not end within {self.timeouts.prompt:g} s; it was cancelled")
        except trio.Cancelled:
            # The client abandoned session.prompt: the agent's turn is cancelled too.
            with trio.CancelScope(shield=True):
                await self._cancel_turn()
            raise
        finally:
            self._prompt_scope = None
            if self._agent_lost():
                self.state.fire(Trigger.AGENT_LOST, reason=conn.lost_reason)
            self.state.fire(Trigger.TURN_ENDED)

    def _agent_lost(self) -> bool:
        return self._conn is not None and self._conn.lost_reason is not None

    async def cancel(self) -> None:
        """Cancel the running turn (nothing to do when idle)."""
        before = self.state.state
        self.state.fire(Trigger.CANCEL)
        if before is State.PROMPTING:
            self._cancel_requested = True
            await self._cancel_turn()
            if self._prompt_scope is not None:
                self._prompt_scope.deadline = min(self._prompt_scope.deadline, trio.current_time() + self.timeouts.close_grace)
        else:
            await trio.lowlevel.checkpoint()

    async def _cancel_turn(self) -> None:
        for scope in list(self._permission_scopes):
            scope.cancel()
        if self._conn is not None:
            await self._conn.notify("session/cancel", {"sessionId": self.agent_session_id}, self.timeouts.close_grace)

    async def set_mode(self, mode_id: str) -> None:
        conn = self._live_connection("set the mode")
        await conn.request("session/set_mode", {"sessionId": self.agent_session_id, "modeId": mode_id}, self.timeouts.request)

    async def set_config_option(self, config_id: str, value: Any) -> list[dict[str, Any]]:
        conn = self._live_connection("set a config option")
        result = await conn.request(
            "session/set_config_option",
            {"sessionId": self.agent_session_id, "configId": config_id, "value": value},
            self.timeouts.request,
        )
        options = result.get("configOptions") if isinstance(result, dict) else None
        return options if isinstance(options, list) else []

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

    # -- the agent's side (ConnectionHost) ------------------------------------------

    async def on_notification(self, method: str, params: Any) -> None:
        if method != "session/update" or not isinstance(params, dict) or not isinstance(params.get("update"), dict):
            log.info("acp_notification_ignored", session_id=self.session_id, method=method)
            await trio.lowlevel.checkpoint()
            return
        await self._publish(self.log.append(params["update"]))

    async def _publish(self, event: Event) -> None:
        try:
            await self.ctx.emit(event)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # no client to stream to; the log keeps it

    def on_lost(self, reason: str) -> None:
        if self.state.state in (State.READY, State.STARTING):
            self.state.fire(Trigger.AGENT_LOST, reason=reason)
        # a running prompt fires AGENT_LOST itself when its request fails

    async def serve_request(self, method: str, params: Any) -> Any:
        """Answer one agent -> client request (bounded by the caller's timeout)."""
        kernel, threads = self.vm.kernel, self.vm.threads
        terminals = self._terminals
        assert terminals is not None
        match method:
            case "session/request_permission":
                return {"outcome": await self._permission(params)}
            case "fs/read_text_file":
                return await read_text_file(kernel, threads, _to_read(params))
            case "fs/write_text_file":
                return await write_text_file(kernel, threads, _to_write(params))
            case "terminal/create":
                return await terminals.create(_to_create(params))
            case "terminal/output":
                return await terminals.output(_to_terminal(params))
            case "terminal/wait_for_exit":
                return await terminals.wait_for_exit(_to_terminal(params))
            case "terminal/kill":
                return await terminals.kill(_to_terminal(params))
            case "terminal/release":
                return await terminals.release(_to_terminal(params))
        raise AgentRequestError(ACP_METHOD_NOT_FOUND, f"the client does not implement {method!r}")

    async def _permission(self, params: Any) -> dict[str, Any]:
        if not isinstance(params, dict):
            raise msgspec.ValidationError("session/request_permission params must be an object")
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


async def _run_session_nursery(*, task_status: trio.TaskStatus[trio.Nursery] = trio.TASK_STATUS_IGNORED) -> None:
    async with trio.open_nursery() as nursery:
        task_status.started(nursery)
        await trio.sleep_forever()

