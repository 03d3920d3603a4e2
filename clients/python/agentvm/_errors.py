"""Client-side errors.

:class:`RpcError` is a wire error returned by the sidecar; branch on ``kind`` and
``errno``. :class:`SidecarError` means the sidecar itself is unusable: it failed to
start, died, or speaks another protocol version. Neither is ever replaced by a hang.
"""

from __future__ import annotations

from agentvm_protocol import ErrorObject

__all__ = ["AgentVmError", "RpcError", "SidecarError", "VersionMismatchError"]


class AgentVmError(Exception):
    """Base of every error this client raises."""


class RpcError(AgentVmError):
    """The sidecar answered a request with an error.

    Attributes:
        kind: stable error kind (``not_found``, ``invalid_params``, ``limit_exceeded``...).
        errno: POSIX errno name for kernel errors (``ENOENT``...), else None.
        path: VM path the error concerns, when known.
        code: JSON-RPC error code.
        message: the sidecar's human-readable message.
    """

    def __init__(self, error: ErrorObject) -> None:
        super().__init__(error.message)
        self.error = error
        self.message = error.message
        self.code = error.code
        self.kind = error.data.kind if error.data else "internal"
        self.errno = error.data.errno if error.data else None
        self.path = error.data.path if error.data else None

    def __repr__(self) -> str:
        return f"RpcError(kind={self.kind!r}, errno={self.errno!r}, message={str(self)!r})"


class VersionMismatchError(RpcError):
    """The sidecar speaks another protocol version; nothing else will be served."""


class SidecarError(AgentVmError):
    """The sidecar process could not be started, exited, or broke the protocol.

    Attributes:
        reason: ``failed_to_start``, ``exited``, ``protocol_error`` or ``timeout``
            (no answer to ``hello``).
        returncode: the sidecar's exit status when it exited, else None.
    """

    def __init__(self, reason: str, message: str, returncode: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.returncode = returncode
