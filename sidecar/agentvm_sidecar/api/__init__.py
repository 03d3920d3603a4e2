"""Wire method implementations, one module per namespace.

Each handler is ``async def handler(ctx, params) -> result`` registered under its wire
name with :func:`handler`. Importing this package registers them all; a test checks
that every method in the protocol table has exactly one handler.
"""

from __future__ import annotations

from . import fs, net, preview, process, session, software, tools, vm  # noqa: F401  (registration side effect)
from ._registry import HANDLERS, Handler, RequestContext, handler

__all__ = ["HANDLERS", "Handler", "RequestContext", "handler"]
