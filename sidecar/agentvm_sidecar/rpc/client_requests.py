"""Requests the sidecar makes of the client (permission decisions, host tools).

JSON-RPC is symmetric: the sidecar may send a request and await the client's
response. Ids are ``"sidecar-<n>"`` strings, so a reader of a transcript never
confuses them with the client's own ids (the two id spaces are separate anyway:
a response travels in the opposite direction of its request). The client answers
with a result, or with an error whose ``kind`` it chooses (``method_not_found``
when it has no handler). A caller cancelled while waiting (a host tool job the
guest cancelled, a timeout) sends ``$/cancelRequest {id}`` so the client's handler
is cancelled too. When the connection ends, waiting requests fail with
``cancelled``; a caller that must not wait long bounds the call itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import trio

from agentvm_protocol import CANCEL_METHOD, Response, encode_notification, encode_request

from .errors import RpcError

__all__ = ["ClientRequests"]

_CANCEL_SEND_TIMEOUT_S = 5.0  # a client that stopped reading cannot hold a cancel up


class _Waiter:
    __slots__ = ("done", "response")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.response: Response | None = None


class ClientRequests:
    """The sidecar's outstanding requests to its client."""

    def __init__(self, send: Callable[[bytes], Awaitable[None]]) -> None:
        self._send = send
        self._ids = itertools.count(1)
        self._waiting: dict[str, _Waiter] = {}
        self._closed = False

    async def call(self, method: str, params: Any) -> msgspec.Raw:
        """Send ``method(params)`` to the client and wait for its result.

        Raises:
            RpcError: the client answered an error (its kind is kept, its message
                prefixed), or the connection ended first (``cancelled``).
        """
        if self._closed:
            raise RpcError("cancelled", "the client connection has ended")
        request_id = f"sidecar-{next(self._ids)}"
        waiter = self._waiting[request_id] = _Waiter()
        try:
            await self._send(encode_request(request_id, method, params))
            try:
                await waiter.done.wait()
            except trio.Cancelled:
                if not self._closed:
                    with trio.CancelScope(shield=True), trio.move_on_after(_CANCEL_SEND_TIMEOUT_S):
                        await self._send(encode_notification(CANCEL_METHOD, {"id": request_id}))
                raise
        finally:
            self._waiting.pop(request_id, None)
        response = waiter.response
        if response is None:
            raise RpcError("cancelled", "the client connection ended before it answered")
        if response.error is not None:
            kind = response.error.data.kind if response.error.data else "internal"
            raise RpcError(kind, f"client answered {method}: {response.error.message}")
        return response.result or msgspec.Raw(b"null")

    def resolve(self, response: Response) -> bool:
        """Hand a response to its waiting request; False when none waits for it."""
        waiter = self._waiting.get(response.id) if isinstance(response.id, str) else None
        if waiter is None:
            return False
        waiter.response = response
        waiter.done.set()
        return True

    def close(self) -> None:
        """The connection ended: every waiting request fails with ``cancelled``."""
        self._closed = True
        for waiter in self._waiting.values():
            waiter.done.set()
