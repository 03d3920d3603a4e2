"""agentvm Python client: spawn ``agentvm-sidecar --stdio`` and drive VMs over JSON-RPC.

``AsyncClient`` is the trio API; ``Client`` is its blocking facade. ``create_vm``
returns a VM handle (``AsyncVm`` / ``Vm``) whose ``spawn`` returns a process handle
(``AsyncProcess`` / ``Process``). Wire types are re-exported from
:mod:`agentvm_protocol` for convenience. Binary parameters take ``bytes`` or ``str``
(sent as UTF-8); anything else raises ``TypeError`` before it is sent.
"""

from agentvm_protocol import (
    AgentCommand,
    FsFileToWrite,
    HostDirMount,
    HttpHeader,
    MemoryMount,
    NetworkPolicy,
    SecretConfig,
    SessionTimeouts,
    ToolSpec,
    VmConfig,
    VmLimits,
)

from ._client import AsyncClient, Client
from ._errors import AgentVmError, RpcError, SidecarError, VersionMismatchError
from ._handles import AsyncProcess, AsyncVm, AsyncVmFs
from ._sync_handles import Process, Vm, VmFs

__all__ = [
    "AgentCommand",
    "AgentVmError",
    "AsyncClient",
    "AsyncProcess",
    "AsyncVm",
    "AsyncVmFs",
    "Client",
    "FsFileToWrite",
    "HostDirMount",
    "HttpHeader",
    "MemoryMount",
    "NetworkPolicy",
    "Process",
    "RpcError",
    "SecretConfig",
    "SessionTimeouts",
    "SidecarError",
    "ToolSpec",
    "VersionMismatchError",
    "Vm",
    "VmConfig",
    "VmFs",
    "VmLimits",
]
