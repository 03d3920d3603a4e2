"""Wire errors: one ``ErrorData`` shape carried in every JSON-RPC error object.

``kind`` is the stable, machine-readable part of an error. Kinds are chosen on purpose
and never derived from exception class names; clients branch on ``kind`` (and on
``errno`` for kernel errors), never on message text. Each kind has one JSON-RPC error
``code`` so generic JSON-RPC tooling still sees sensible numbers.
"""

from __future__ import annotations

from typing import Literal

from ._base import Base

__all__ = ["ERROR_CODES", "ErrorData", "ErrorKind", "ErrorObject", "error_kind_for_errno"]

ErrorKind = Literal[
    "parse_error",
    "invalid_request",
    "method_not_found",
    "invalid_params",
    "frame_too_large",
    "not_initialized",
    "version_mismatch",
    "not_found",
    "already_exists",
    "permission_denied",
    "limit_exceeded",
    "os_error",
    "busy",
    "timeout",
    "cancelled",
    "guest_error",
    "unavailable",
    # HTTP into the VM (net.fetch, preview): nothing listens on the port; the guest
    # closed the connection before a complete response.
    "connection_refused",
    "connection_closed",
    "unsupported",
    "agent_error",
    "internal",
]

# JSON-RPC 2.0 reserves -32768..-32000; the first five are the spec's own codes,
# -32800 is LSP's RequestCancelled, the rest are server-defined.
ERROR_CODES: dict[str, int] = {
    "parse_error": -32700,
    "invalid_request": -32600,
    "method_not_found": -32601,
    "invalid_params": -32602,
    "internal": -32603,
    "cancelled": -32800,
    "frame_too_large": -32001,
    "not_initialized": -32002,
    "version_mismatch": -32003,
    "not_found": -32010,
    "already_exists": -32011,
    "permission_denied": -32012,
    "limit_exceeded": -32013,
    "os_error": -32014,
    "busy": -32015,
    "timeout": -32016,
    "guest_error": -32017,
    "unavailable": -32018,
    "connection_refused": -32030,
    "connection_closed": -32031,
    "unsupported": -32019,
    "agent_error": -32020,
}

_KIND_BY_ERRNO: dict[str, str] = {
    "ENOENT": "not_found",
    "ESRCH": "not_found",
    "EEXIST": "already_exists",
    "EACCES": "permission_denied",
    "EPERM": "permission_denied",
    "EROFS": "permission_denied",
    "ENOSPC": "limit_exceeded",
    "EMFILE": "limit_exceeded",
    "ENFILE": "limit_exceeded",
    "ENOMEM": "limit_exceeded",
    "E2BIG": "limit_exceeded",
    "EAGAIN": "limit_exceeded",
    "EFBIG": "limit_exceeded",
    "EBUSY": "busy",
    "ETIMEDOUT": "timeout",
    "ECONNREFUSED": "connection_refused",
}


def error_kind_for_errno(errno_name: str) -> ErrorKind:
    """The wire kind for a kernel errno name (``"ENOENT"`` -> ``"not_found"``)."""
    return _KIND_BY_ERRNO.get(errno_name, "os_error")  # type: ignore[return-value]


class ErrorData(Base):
    """Structured detail of a JSON-RPC error.

    ``kind`` is stable and meant for programs. ``errno`` is the POSIX name of a kernel
    error (``ENOENT``, ``EROFS``...), ``path`` the VM path it concerns, when known.
    """

    kind: ErrorKind
    errno: str | None = None
    path: str | None = None
    expected_version: int | None = None
    received_version: int | None = None


class ErrorObject(Base):
    """A JSON-RPC 2.0 error object."""

    code: int
    message: str
    data: ErrorData | None = None
