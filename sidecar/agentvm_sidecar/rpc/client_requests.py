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

from agentvm_protocol import Response

from .errors import RpcError
from .outgoing import OutgoingRequests

__all__ = ["ClientRequests"]


class ClientRequests:
    """The sidecar's outstanding requests to its client."""

    def __init__(self, send: Callable[[bytes], Awaitable[None]]) -> None:
        self._requests = OutgoingRequests(send, (f"sidecar-{n}" for n in itertools.count(1)))

    async def call(self, method: str, params: Any) -> msgspec.Raw:
        """Send ``method(params)`` to the client and wait for its result.

        Raises:
            RpcError: the client answered an error (its kind is kept, its message
                prefixed), or the connection ended first (``cancelled``).
        """
        if self._requests.closed:
            raise RpcError("cancelled", "the client connection has ended")
        response = await self._requests.call(method, params)
        if response is None:
            raise RpcError("cancelled", "the client connection ended before it answered")
        if response.error is not None:
            kind = response.error.data.kind if response.error.data else "internal"
            raise RpcError(kind, f"client answered {method}: {response.error.message}")
        return response.result or msgspec.Raw(b"null")

    def resolve(self, response: Response) -> bool:
        """Hand a response to its waiting request; False when none waits for it."""
        return isinstance(response.id, str) and self._requests.resolve(response)

    def close(self) -> None:
        """The connection ended: every waiting request fails with ``cancelled``."""
        self._requests.close()
