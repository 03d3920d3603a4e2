"""The client side of one ACP connection, sans I/O.

ACP is JSON-RPC 2.0 over the agent's stdio, one message per line
(https://agentclientprotocol.com/protocol/transports: "Messages are delimited by
newlines (\\n), and MUST NOT contain embedded newlines"; "The agent MUST NOT write
anything to its stdout that is not a valid ACP message"). Like h11 (and our own
``agentvm_protocol.RpcConnection``, whose line buffer this reuses) the peer does no
I/O: the owner feeds the agent's stdout with :meth:`AcpPeer.receive_data`, pulls
events with :meth:`AcpPeer.next_event`, and writes the bytes the ``send_*`` methods
return to the agent's stdin.

What differs from our wire: ACP's error objects carry any ``data`` (ours must be an
``ErrorData``), and a response is matched to the request it answers here, so the
owner gets the method name with it. A line that is not a JSON-RPC message, or is
longer than the line cap, becomes :class:`Violation`: the agent broke the transport
rule quoted above, and the owner ends the session. Once a violation happened the
peer stays broken (every later call returns EOF), as h11 keeps a broken connection
broken.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import msgspec

from agentvm_protocol import (
    EOF,
    NEED_DATA,
    ErrorObject,
    RpcConnection,
    encode_error,
    encode_notification,
    encode_request,
    encode_result,
)

__all__ = [
    "ACP_AUTH_REQUIRED",
    "ACP_INTERNAL_ERROR",
    "ACP_INVALID_PARAMS",
    "ACP_METHOD_NOT_FOUND",
    "ACP_RESOURCE_NOT_FOUND",
    "EOF",
    "NEED_DATA",
    "AcpError",
    "AcpPeer",
    "AgentNotification",
    "AgentRequest",
    "AgentResponse",
    "LineSplitter",
    "StrayResponse",
    "Violation",
]

# JSON-RPC codes ACP uses in its own ErrorCode enum.
ACP_INVALID_PARAMS = -32602
ACP_METHOD_NOT_FOUND = -32601
ACP_INTERNAL_ERROR = -32603
ACP_RESOURCE_NOT_FOUND = -32002
ACP_AUTH_REQUIRED = -32000


class AcpError(msgspec.Struct, frozen=True):
    """An ACP (JSON-RPC) error object as the agent sent it."""

    code: int
    message: str
    data: Any = None


@dataclass(frozen=True)
class AgentRequest:
    id: int | str
    method: str
    params: Any


@dataclass(frozen=True)
class AgentNotification:
    method: str
    params: Any


@dataclass(frozen=True)
class AgentResponse:
    """The answer to one of our requests (``method`` is what we asked)."""

    id: int
    method: str
    result: Any = None
    error: AcpError | None = None


@dataclass(frozen=True)
class StrayResponse:
    """A response to no request of ours (unknown or already answered id)."""

    id: Any


@dataclass(frozen=True)
class Violation:
    """The agent wrote something that is not an ACP message; ``reason`` says what."""

    reason: str


class _Envelope(msgspec.Struct):
    jsonrpc: Any = msgspec.UNSET
    id: Any = msgspec.UNSET
    method: str | msgspec.UnsetType = msgspec.UNSET
    params: Any = msgspec.UNSET
    result: Any = msgspec.UNSET
    error: AcpError | msgspec.UnsetType = msgspec.UNSET


_decode_envelope = msgspec.json.Decoder(_Envelope).decode


class LineSplitter(RpcConnection):
    """RpcConnection's bounded, O(bytes) line splitter, handing out raw lines (bytes)
    or, for a line over the cap, a non-bytes report; the caller parses lines."""

    @staticmethod
    def _parse(line: bytes) -> Any:  # type: ignore[override]
        return line


class AcpPeer:
    """One ACP connection seen from the client. ``max_line_bytes`` caps one line."""

    def __init__(self, max_line_bytes: int) -> None:
        self._lines = LineSplitter(max_line_bytes)
        self._max_line_bytes = max_line_bytes
        self._ids = itertools.count(0)
        self._pending: dict[int, str] = {}
        self._broken = False

    @property
    def pending(self) -> int:
        """Requests sent and not yet answered."""
        return len(self._pending)

    def receive_data(self, data: bytes) -> None:
        """Feed bytes the agent wrote to stdout; ``b""`` marks its end."""
        if not self._broken:
            self._lines.receive_data(data)

    def next_event(self) -> AgentRequest | AgentNotification | AgentResponse | StrayResponse | Violation | Any:
        """The next message, NEED_DATA or EOF. Never raises on bad input."""
        if self._broken:
            return EOF
        item = self._lines.next_event()
        if item is NEED_DATA or item is EOF:
            return item
        if not isinstance(item, bytes):  # the splitter's own frame_too_large report
            return self._violate(f"the agent wrote a line longer than {self._max_line_bytes} bytes")
        return self._parse(item)

    def _violate(self, reason: str) -> Violation:
        self._broken = True
        return Violation(reason)

    def _parse(self, line: bytes) -> Any:
        try:
            env = _decode_envelope(line)
        except msgspec.DecodeError as exc:
            return self._violate(f"the agent wrote a line that is not a JSON-RPC message ({exc}): {line[:80]!r}")
        if env.jsonrpc != "2.0":
            return self._violate('the agent wrote a message without "jsonrpc": "2.0"')
        params = None if env.params is msgspec.UNSET else env.params
        if isinstance(env.method, str):
            if env.id is msgspec.UNSET:
                return AgentNotification(env.method, params)
            if isinstance(env.id, (int, str)) and not isinstance(env.id, bool):
                return AgentRequest(env.id, env.method, params)
            return self._violate("the agent sent a request whose id is neither a number nor a string")
        if env.result is msgspec.UNSET and env.error is msgspec.UNSET:
            return self._violate("the agent sent a message that is neither a request, a notification nor a response")
        method = self._pending.pop(env.id, None) if isinstance(env.id, int) and not isinstance(env.id, bool) else None
        if method is None:
            return StrayResponse(None if env.id is msgspec.UNSET else env.id)
        if env.error is not msgspec.UNSET:
            return AgentResponse(env.id, method, error=env.error)
        return AgentResponse(env.id, method, result=env.result)

    def send_request(self, method: str, params: Any) -> tuple[int, bytes]:
        """A request line for the agent, and its id (to match the response)."""
        request_id = next(self._ids)
        self._pending[request_id] = method
        return request_id, encode_request(request_id, method, params)

    def forget(self, request_id: int) -> None:
        """Stop waiting for an answer (it timed out); a late one becomes a StrayResponse."""
        self._pending.pop(request_id, None)

    @staticmethod
    def send_notification(method: str, params: Any) -> bytes:
        return encode_notification(method, params)

    @staticmethod
    def send_result(request_id: int | str, result: Any) -> bytes:
        return encode_result(request_id, result)

    @staticmethod
    def send_error(request_id: int | str, code: int, message: str) -> bytes:
        return encode_error(request_id, ErrorObject(code=code, message=message))
