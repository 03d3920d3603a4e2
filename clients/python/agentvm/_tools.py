"""Host tool handlers: the client side of ``tools.invoke`` requests.

The sidecar sends one ``tools.invoke {vmId, name, input}`` per guest call;
:class:`ToolHandlers` routes it to the function registered for ``name`` and wraps
its return value as ``{output}``. A tool without a handler is answered
``method_not_found``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from agentvm_protocol import make_error

from ._errors import RpcError

__all__ = ["ToolHandler", "ToolHandlers"]

ToolHandler = Callable[[Any, str], Awaitable[Any]]


class ToolHandlers:
    """Tool name -> handler."""

    def __init__(self) -> None:
        self._handlers: dict[str, ToolHandler] = {}

    def __bool__(self) -> bool:
        return bool(self._handlers)

    def set(self, name: str, handler: ToolHandler | None) -> None:
        if handler is None:
            self._handlers.pop(name, None)
        else:
            self._handlers[name] = handler

    async def invoke(self, params: Any) -> Any:
        handler = self._handlers.get(params.get("name"))
        if handler is None:
            raise RpcError(make_error("method_not_found", f"no handler for tool {params.get('name')!r}"))
        return {"output": await handler(params.get("input"), params.get("vmId"))}
