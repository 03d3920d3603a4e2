"""Requests this side of a JSON-RPC connection sends, and the answers they wait for.

Shared by the sidecar's requests to its client (client_requests.py) and the router's
requests to its workers (workers/link.py). A caller cancelled while waiting tells the
other side with ``$/cancelRequest {id}`` (bounded: a peer that stopped reading
cannot hold the cancel up), so the peer's handler is cancelled too. ``close`` (the
connection ended) wakes every waiting call with no answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import trio

from agentvm_protocol import CANCEL_METHOD, NEED_DATA, RequestId, Response, RpcConnection, encode_notification, encode_request

__all__ = ["OutgoingRequests", "next_message"]

_CANCEL_SEND_TIMEOUT_S = 5.0


class _Waiter:
    __slots__ = ("done", "response")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.response: Response | None = None


class OutgoingRequests:
    """Outstanding requests to one peer; ids come from ``ids``."""

    def __init__(self, send: Callable[[bytes], Awaitable[None]], ids: Iterator[RequestId]) -> None:
        self._send = send
        self._ids = ids
        self._waiting: dict[RequestId, _Waiter] = {}
        self.closed = False

    async def call(self, method: str, params: Any) -> Response | None:
        """Send ``method(params)`` and wait for the peer's response; None when the
        connection ended first (or had ended)."""
        if self.closed:
            return None
        request_id = next(self._ids)
        waiter = self._waiting[request_id] = _Waiter()
        try:
            await self._send(encode_request(request_id, method, params))
            try:
                await waiter.done.wait()
            except trio.Cancelled:
                if not self.closed:
                    with trio.CancelScope(shield=True), trio.move_on_after(_CANCEL_SEND_TIMEOUT_S):
                        await self._send(encode_notification(CANCEL_METHOD, {"id": request_id}))
                raise
        finally:
            self._waiting.pop(request_id, None)
        return waiter.response

    def resolve(self, response: Response) -> bool:
        """Hand a response to its waiting call; False when none waits for it."""
        waiter = self._waiting.get(response.id)
        if waiter is None:
            return False
        waiter.response = response
        waiter.done.set()
        return True

    def close(self) -> None:
        """The connection ended: every waiting call returns None."""
        self.closed = True
        for waiter in self._waiting.values():
            waiter.done.set()


async def next_message(rpc: RpcConnection, receive: trio.abc.ReceiveStream) -> Any:
    """``rpc``'s next event, reading from ``receive`` while it needs data: a message,
    a ``BadFrame`` or ``EOF`` (a broken or closed stream counts as its end)."""
    while (event := rpc.next_event()) is NEED_DATA:
        try:
            data = await receive.receive_some(65536)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        rpc.receive_data(data)
    return event
