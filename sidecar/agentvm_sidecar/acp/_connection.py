"""The trio side of one ACP connection: the agent process's pipes driven through
the sans-I/O :class:`~._peer.AcpPeer`.

One reader task turns the agent's stdout into events: responses wake the request
waiting for them, ``session/update`` notifications go to the session, and each
agent request runs as its own task (bounded by the session's request timeout) so
a slow ``terminal/wait_for_exit`` never holds up the stream. Writes to the agent's
stdin are serialized by a lock, so lines never interleave, and every write is
bounded by the timeout of the exchange it belongs to (an agent that stops reading
its stdin cannot hang a request).

When the agent's stdout ends or it breaks the transport, the connection is LOST:
every waiting request fails with kind ``agent_error`` naming the reason and the
agent's last stderr, and the session is told once. Every message in both directions
is logged at debug level as ``acp_message`` (the tests validate these lines against
the ACP schema).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any, Protocol

import msgspec
import trio

from ..kernel.errors import KernelError
from ..logs import get_logger
from ..rpc.errors import RpcError
from ._agent_process import AgentProcess
from ._peer import (
    ACP_INTERNAL_ERROR,
    ACP_INVALID_PARAMS,
    ACP_RESOURCE_NOT_FOUND,
    EOF,
    NEED_DATA,
    AcpError,
    AcpPeer,
    AgentNotification,
    AgentRequest,
    AgentResponse,
    StrayResponse,
    Violation,
)

__all__ = ["MAX_AGENT_LINE_BYTES", "AcpConnection", "AgentRequestError", "ConnectionHost"]

log = get_logger("acp")

MAX_AGENT_LINE_BYTES = 16 * 1024 * 1024
# Agent requests served at once per session; beyond that the reader stops reading
# the agent's stdout (so a request flood blocks the agent, not the sidecar's memory).
MAX_CONCURRENT_AGENT_REQUESTS = 32


class AgentRequestError(Exception):
    """Answer an agent request with this ACP error (code and message)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class ConnectionHost(Protocol):
    """What the connection reports to (the session)."""

    request_timeout: float

    def on_notification(self, method: str, params: Any) -> Awaitable[None]: ...
    def serve_request(self, method: str, params: Any) -> Awaitable[Any]: ...
    def on_lost(self, reason: str) -> None: ...


class _Waiter:
    __slots__ = ("done", "response")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.response: AgentResponse | None = None


class AcpConnection:
    """The client end of ACP over ``agent``'s stdio."""

    def __init__(self, agent: AgentProcess, host: ConnectionHost, label: str) -> None:
        self._agent = agent
        self._host = host
        self._label = label
        self._peer = AcpPeer(MAX_AGENT_LINE_BYTES)
        self._waiting: dict[int, _Waiter] = {}
        self._write_lock = trio.Lock()
        self._serving = trio.Semaphore(MAX_CONCURRENT_AGENT_REQUESTS)
        self.lost_reason: str | None = None

    async def serve(self, nursery: trio.Nursery) -> None:
        """Read the agent's stdout until it ends or breaks the transport; agent
        requests run in ``nursery``."""
        try:
            while True:
                event = self._peer.next_event()
                if event is NEED_DATA:
                    self._peer.receive_data(await self._agent.read_stdout())
                elif event is EOF:
                    await self._agent.wait(1.0)  # to name its exit status
                    self._lose(self._exit_reason())
                    return
                elif isinstance(event, Violation):
                    self._lose(event.reason)
                    return
                else:
                    await self._dispatch(event, nursery)
        finally:
            self._agent.release()

    async def _dispatch(self, event: Any, nursery: trio.Nursery) -> None:
        self._trace("from_agent", event)
        if isinstance(event, AgentResponse):
            waiter = self._waiting.get(event.id)
            if waiter is not None:
                waiter.response = event
                waiter.done.set()
        elif isinstance(event, AgentNotification):
            await self._host.on_notification(event.method, event.params)
        elif isinstance(event, AgentRequest):
            await self._serving.acquire()
            nursery.start_soon(self._answer, event)
        elif isinstance(event, StrayResponse):
            log.warning("acp_stray_response", session=self._label, id=event.id)

    async def _answer(self, req: AgentRequest) -> None:
        """Serve one agent request within the request timeout and answer it."""
        try:
            await self._answer_within_timeout(req)
        finally:
            self._serving.release()

    async def _answer_within_timeout(self, req: AgentRequest) -> None:
        line: bytes | None = None
        with trio.move_on_after(self._host.request_timeout):
            try:
                result = await self._host.serve_request(req.method, req.params)
                line = self._peer.send_result(req.id, result)
            except AgentRequestError as exc:
                line = self._peer.send_error(req.id, exc.code, str(exc))
            except msgspec.ValidationError as exc:
                line = self._peer.send_error(req.id, ACP_INVALID_PARAMS, f"invalid params: {exc}")
            except KernelError as exc:
                code = ACP_RESOURCE_NOT_FOUND if exc.errno == "ENOENT" else ACP_INTERNAL_ERROR
                line = self._peer.send_error(req.id, code, str(exc))
            except RpcError as exc:
                line = self._peer.send_error(req.id, ACP_INTERNAL_ERROR, exc.message)
        if line is None:
            line = self._peer.send_error(req.id, ACP_INTERNAL_ERROR, f"{req.method} timed out in the client")
        with trio.move_on_after(self._host.request_timeout):
            await self._write(line)

    async def request(self, method: str, params: Any, timeout: float) -> Any:
        """Send a request and wait up to ``timeout`` seconds for its result.

        Raises:
            RpcError: ``timeout``; ``agent_error`` when the agent answered an error
                (its code and message are in the text) or the connection was lost.
        """
        self._raise_if_lost()
        request_id, line = self._peer.send_request(method, params)
        waiter = self._waiting[request_id] = _Waiter()
        try:
            with trio.move_on_after(timeout):
                await self._write(line)
                await waiter.done.wait()
        finally:
            del self._waiting[request_id]
        response = waiter.response
        if response is None:
            self._raise_if_lost()
            self._peer.forget(request_id)
            raise RpcError("timeout", f"the agent did not answer {method} within {timeout:g} s")
        if response.error is not None:
            raise AgentError(method, response.error)
        return response.result

    async def notify(self, method: str, params: Any, timeout: float) -> None:
        """Send a notification (dropped when the agent does not read it in time)."""
        if self.lost_reason is None:
            with trio.move_on_after(timeout):
                await self._write(self._peer.send_notification(method, params))

    async def _write(self, line: bytes) -> None:
        async with self._write_lock:
            self._trace_line("to_agent", line)
            if not await self._agent.write_stdin(line):
                self._lose(self._exit_reason() if self._agent.exited else "the agent closed its stdin")
                self._raise_if_lost()

    def _raise_if_lost(self) -> None:
        if self.lost_reason is not None:
            raise RpcError("agent_error", self.lost_reason)

    def _exit_reason(self) -> str:
        status = self._agent.status()
        how = "is still running" if status is None else f"exited with status {status.shell_code}"
        tail = self._agent.stderr_tail
        return f"the agent closed its stdout and {how}" + (f"; its stderr ends with: {tail[-500:]}" if tail else "")

    def _lose(self, reason: str) -> None:
        if self.lost_reason is not None:
            return
        self.lost_reason = reason
        log.info("acp_connection_lost", session=self._label, reason=reason)
        for waiter in self._waiting.values():
            waiter.done.set()
        self._host.on_lost(reason)

    def _trace(self, direction: str, event: Any) -> None:
        if not log.is_enabled_for(logging.DEBUG):
            return
        if isinstance(event, AgentRequest):
            message = {"jsonrpc": "2.0", "id": event.id, "method": event.method, "params": event.params}
        elif isinstance(event, AgentNotification):
            message = {"jsonrpc": "2.0", "method": event.method, "params": event.params}
        elif isinstance(event, AgentResponse):
            message = {"jsonrpc": "2.0", "id": event.id}
            if event.error is not None:
                message["error"] = msgspec.to_builtins(event.error)
            else:
                message["result"] = event.result
            message["_method"] = event.method
        else:
            return
        log.debug("acp_message", session=self._label, direction=direction, message=message)

    def _trace_line(self, direction: str, line: bytes) -> None:
        if log.is_enabled_for(logging.DEBUG):
            log.debug("acp_message", session=self._label, direction=direction, message=msgspec.json.decode(line))


class AgentError(RpcError):
    """The agent answered one of our requests with an ACP error."""

    def __init__(self, method: str, error: AcpError) -> None:
        super().__init__("agent_error", f"the agent answered {method} with error {error.code}: {error.message}")
        self.code = error.code

