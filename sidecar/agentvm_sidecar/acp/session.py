"""An ACP agent session: the agent process in a VM speaks ACP over its stdio.

Each wire request is a whole ACP exchange (DESIGN.md, "ACP sessions"): opening
spawns the agent and runs ``initialize`` (protocol version 1, fs and terminal
capabilities), ``authenticate`` when ``session/new`` answers "auth required" (ACP
error -32000), and ``session/new`` (or ``session/load`` / ``session/resume``); a
prompt turn is ``session/prompt``, during which every ``session/update`` becomes a
``session.update`` event. The prompt-turn discipline (one at a time, timeouts,
cancellation) is the base class's (_base.py).

The agent's requests are served here: fs/* from the kernel (_fs.py), terminal/* as
VM processes (_terminals.py), session/request_permission by policy or by asking
the client (_permissions.py via the base class).
"""

from __future__ import annotations

import math
from typing import Any

import msgspec
import trio

from agentvm_protocol import SessionCreateResult

from ..logs import get_logger
from ..rpc.errors import RpcError
from ._agent_process import AgentProcess
from ._base import SessionBase
from ._connection import AcpConnection, AgentError, AgentRequestError
from ._fs import ReadTextFileParams, WriteTextFileParams, read_text_file, write_text_file
from ._peer import ACP_AUTH_REQUIRED, ACP_METHOD_NOT_FOUND
from ._state import State
from ._terminals import CreateTerminalParams, TerminalParams, Terminals

__all__ = ["ACP_PROTOCOL_VERSION", "AcpSession"]

log = get_logger("acp")

ACP_PROTOCOL_VERSION = 1
CLIENT_INFO = {"name": "agentvm", "title": "agentvm sidecar", "version": "0.1.0"}
CLIENT_CAPABILITIES = {"fs": {"readTextFile": True, "writeTextFile": True}, "terminal": True}


def _to(tp: type[msgspec.Struct]) -> Any:
    """A converter from an agent request's JSON params to ``tp`` (ValidationError
    becomes ACP's invalid-params answer)."""
    return lambda params: msgspec.convert(params, tp)


_to_read = _to(ReadTextFileParams)
_to_write = _to(WriteTextFileParams)
_to_create = _to(CreateTerminalParams)
_to_terminal = _to(TerminalParams)


class AcpSession(SessionBase):
    """An agent speaking ACP on its stdio."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.capabilities: dict[str, Any] = {}
        self._agent: AgentProcess | None = None
        self._conn: AcpConnection | None = None
        self._terminals: Terminals | None = None

    @property
    def pid(self) -> int:
        return self._agent.pid if self._agent is not None else 0

    async def _start(self, mcp_servers: list[dict[str, Any]], auth_method: str | None, load: str | None,
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

    async def _stop_agent(self, grace: float) -> int:
        conn = self._conn
        closable = (self.capabilities.get("sessionCapabilities") or {}).get("close") is not None
        if conn is not None and conn.lost_reason is None and closable and self.state.state is not State.STARTING:
            try:
                await conn.request("session/close", {"sessionId": self.agent_session_id}, grace)
            except RpcError as exc:
                log.info("session_close_refused", session_id=self.session_id, error=exc.message)
        if self._terminals is not None:
            self._terminals.release_all()
        if self._agent is None:
            await trio.lowlevel.checkpoint()
            return 0
        return (await self._agent.stop(grace)).shell_code

    def _lost_reason(self) -> str | None:
        return self._conn.lost_reason if self._conn is not None else None

    # -- requests to the agent -------------------------------------------------------

    def _live_connection(self, what: str) -> AcpConnection:
        self.state.require_live(what)
        assert self._conn is not None
        return self._conn

    async def _turn(self, blocks: list[dict[str, Any]]) -> str:
        assert self._conn is not None
        result = await self._conn.request("session/prompt", {"sessionId": self.agent_session_id, "prompt": blocks}, math.inf)
        stop_reason = result.get("stopReason") if isinstance(result, dict) else None
        if not isinstance(stop_reason, str):
            raise RpcError("agent_error", "the agent's session/prompt answer has no stopReason")
        return stop_reason

    async def _stop_turn(self) -> None:
        if self._conn is not None:
            await self._conn.notify("session/cancel", {"sessionId": self.agent_session_id}, self.timeouts.close_grace)

    async def set_mode(self, mode_id: str) -> None:
        conn = self._live_connection("set the mode")
        await conn.request("session/set_mode", {"sessionId": self.agent_session_id, "modeId": mode_id}, self.timeouts.request)

    async def set_config_option(self, config_id: str, value: Any) -> list[dict[str, Any]]:
        conn = self._live_connection("set a config option")
        params = {"sessionId": self.agent_session_id, "configId": config_id, "value": value}
        if isinstance(value, bool):  # ACP tags boolean values; value ids are the untagged default
            params["type"] = "boolean"
        result = await conn.request("session/set_config_option", params, self.timeouts.request)
        options = result.get("configOptions") if isinstance(result, dict) else None
        return options if isinstance(options, list) else []

    # -- the agent's side (ConnectionHost) ------------------------------------------

    async def on_notification(self, method: str, params: Any) -> None:
        if method != "session/update" or not isinstance(params, dict) or not isinstance(params.get("update"), dict):
            log.info("acp_notification_ignored", session_id=self.session_id, method=method)
            await trio.lowlevel.checkpoint()
            return
        await self.publish(params["update"])

    async def serve_request(self, method: str, params: Any) -> Any:
        """Answer one agent -> client request (bounded by the caller's timeout)."""
        kernel, threads = self.vm.kernel, self.vm.threads
        terminals = self._terminals
        assert terminals is not None
        match method:
            case "session/request_permission":
                if not isinstance(params, dict):
                    raise msgspec.ValidationError("session/request_permission params must be an object")
                return {"outcome": await self.request_permission(params)}
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
