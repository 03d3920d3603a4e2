"""Exceptions become wire errors here, and only here.

Handlers raise :class:`RpcError` for protocol-level failures, let
:class:`~agentvm_sidecar.kernel.errors.KernelError` escape for kernel failures, and
let msgspec's ``ValidationError`` escape for bad params. :func:`to_error_object` is the
single translation point, as h11 turns its local errors into remote ones at one
boundary. Anything else is an ``internal`` error: logged with its traceback, and the
connection keeps serving.
"""

from __future__ import annotations

from typing import Any

import msgspec

from agentvm_protocol import ErrorKind, ErrorObject, error_kind_for_errno, make_error

from ..kernel.errors import KernelError

__all__ = ["ForwardedError", "RpcError", "to_error_object"]


class RpcError(Exception):
    """A failure with a stable wire ``kind`` and optional ``ErrorData`` fields."""

    def __init__(self, kind: ErrorKind, message: str, **data: Any) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.data = data


class ForwardedError(Exception):
    """An error another sidecar answered (a worker, workers/): passed on unchanged."""

    def __init__(self, error: ErrorObject) -> None:
        super().__init__(error.message)
        self.error = error


def _printable(text: str) -> str:
    """``text`` as valid UTF-8: a guest's file name may hold undecodable bytes
    (surrogate escapes), which the JSON encoder refuses; they become U+FFFD."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate that is not an escaped byte
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def to_error_object(exc: Exception) -> tuple[ErrorObject, bool]:
    """The wire error for ``exc`` and whether it was unexpected (to be logged loudly)."""
    if isinstance(exc, RpcError):
        return make_error(exc.kind, exc.message, **exc.data), False
    if isinstance(exc, ForwardedError):
        return exc.error, False
    if isinstance(exc, KernelError):
        kind = error_kind_for_errno(exc.errno)
        path = None if exc.path is None else _printable(exc.path)
        return make_error(kind, _printable(str(exc)), errno=exc.errno, path=path), False
    if isinstance(exc, msgspec.ValidationError):
        return make_error("invalid_params", f"invalid params: {exc}"), False
    return make_error("internal", f"internal error: {type(exc).__name__}"), True
