"""The handler table and the context every handler receives."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentvm_protocol import METHODS, Event

if TYPE_CHECKING:
    from ..vms import VmRegistry

__all__ = ["HANDLERS", "Handler", "RequestContext", "handler"]


@dataclass
class RequestContext:
    """What a handler may touch: the VMs and the connection's event stream."""

    vms: VmRegistry
    emit: Callable[[Event], Awaitable[None]]


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
