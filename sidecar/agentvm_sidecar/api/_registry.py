"""The handler table and the context every handler receives."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from agentvm_protocol import DEFAULT_MAX_FRAME_BYTES, METHODS, Event

if TYPE_CHECKING:
    from ..vms import VmRegistry

__all__ = ["HANDLERS", "Handler", "RequestContext", "handler"]


async def _no_client(method: str, params: Any) -> msgspec.Raw:
    raise RuntimeError(f"no client to ask {method!r}: this context has no connection")


@dataclass
class RequestContext:
    """What a handler may touch: the VMs, the connection's event stream, its frame
    size, and the client itself (``ask_client(method, params)`` sends a sidecar -> client request
    and returns the raw JSON result; see rpc/client_requests.py)."""

    vms: VmRegistry
    emit: Callable[[Event], Awaitable[None]]
    ask_client: Callable[[str, Any], Awaitable[msgspec.Raw]] = _no_client
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    """The largest line the client accepts: results that could not fit are refused
    before their data is gathered."""


Handler = Callable[[RequestContext, Any], Awaitable[Any]]
HANDLERS: dict[str, Handler] = {}


def handler(name: str) -> Callable[[Handler], Handler]:
    """Register ``fn`` as the implementation of wire method ``name``."""
    if name not in METHODS:
        raise KeyError(f"{name!r} is not in the protocol method table")

    def register(fn: Handler) -> Handler:
        if name in HANDLERS:
            raise KeyError(f"{name!r} registered twice")
        HANDLERS[name] = fn
        return fn

    return register
