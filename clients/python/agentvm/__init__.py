"""agentvm Python client: spawn ``agentvm-sidecar --stdio`` and drive VMs over JSON-RPC.

``AsyncClient`` is the trio API; ``Client`` is its blocking facade. Wire types are
re-exported from :mod:`agentvm_protocol` for convenience.
"""

from agentvm_protocol import (
    FsFileToWrite,
    HostDirMount,
    MemoryMount,
    NetworkPolicy,
    SecretConfig,
    ToolSpec,
    VmConfig,
    VmLimits,
)

from ._client import AsyncClient, Client
from ._errors import AgentVmError, RpcError, SidecarError, VersionMismatchError

__all__ = [
    "AgentVmError",
    "AsyncClient",
    "Client",
    "FsFileToWrite",
    "HostDirMount",
    "MemoryMount",
    "NetworkPolicy",
    "RpcError",
    "SecretConfig",
    "SidecarError",
    "ToolSpec",
    "VersionMismatchError",
    "VmConfig",
    "VmLimits",
]
