"""Host tools the guest calls over HTTP, secrets that never enter the VM, and the
audit log of both (``tools.*``, ``VmConfig.secrets``, the ``tools.invoke`` request
the sidecar makes of the client)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from ._base import Base, Empty

__all__ = [
    "MAX_TOOLS_PER_VM",
    "AuditEntry",
    "SecretConfig",
    "ToolSpec",
    "ToolsInvokeParams",
    "ToolsInvokeResult",
    "ToolsListParams",
    "ToolsListResult",
    "ToolsLogParams",
    "ToolsLogResult",
    "ToolsRegisterParams",
    "ToolsRegisterResult",
    "ToolsRotateTokenParams",
    "ToolsRotateTokenResult",
    "ToolsUnregisterParams",
    "ToolsUnregisterResult",
]

VmId = Annotated[str, Meta(min_length=1, max_length=64, description="A VM handle returned by vm.create.")]
ToolName = Annotated[str, Meta(pattern="^[A-Za-z0-9_-]{1,64}$", description="A tool name: the last segment of its URL path.")]
SecretName = Annotated[str, Meta(pattern="^[A-Za-z0-9_-]{1,64}$", description="A secret name, as in its placeholder agentvm-secret:<name>.")]
HeaderName = Annotated[str, Meta(pattern="^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$", description="An HTTP header field name.")]
JsonSchema = Annotated[dict[str, Any], Meta(description="A JSON Schema (draft 2020-12) object.")]

MAX_TOOLS_PER_VM = 256


class ToolSpec(Base):
    """One host tool: the guest calls ``POST /tools/<name>`` with a JSON body that must
    match ``input_schema``; the client's handler answers with a value that must match
    ``output_schema`` (when given)."""

    name: ToolName
    description: Annotated[str, Meta(max_length=4096)] = ""
    input_schema: JsonSchema = msgspec.field(default_factory=lambda: {"type": "object"})
    output_schema: JsonSchema | None = None
    timeout_ms: Annotated[int, Meta(ge=1, le=24 * 3600 * 1000)] = 30_000
    """How long the client's handler may take; past it the call fails (504, or a
    failed job)."""
    long_running: bool = False
    """Answer ``202 {jobId}`` at once and let the guest poll ``GET /jobs/<id>``."""


class ToolsRegisterParams(Base):
    """Add tools to a VM (a tool with the same name is replaced). The VM's
    ``/etc/agentvm/tools/openapi.json`` and ``README.md`` are rewritten."""

    vm_id: VmId
    tools: Annotated[list[ToolSpec], Meta(min_length=1, max_length=MAX_TOOLS_PER_VM)]


ToolsRegisterResult = Empty


class ToolsUnregisterParams(Base):
    """Remove tools from a VM by name (unknown names are ignored)."""

    vm_id: VmId
    names: Annotated[list[ToolName], Meta(max_length=MAX_TOOLS_PER_VM)]


ToolsUnregisterResult = Empty


class ToolsListParams(Base):
    """The tools registered in a VM."""

    vm_id: VmId


class ToolsListResult(Base):
    """A VM's tools, in registration order."""

    tools: list[ToolSpec]


class ToolsRotateTokenParams(Base):
    """Replace the VM's tools bearer token: the old one is refused (401) from now on,
    and processes spawned from now on get the new one in ``AGENTVM_TOOLS_TOKEN``."""

    vm_id: VmId


ToolsRotateTokenResult = Empty


class ToolsLogParams(Base):
    """The VM's audit log: tool calls and requests that had a secret injected."""

    vm_id: VmId
    since: Annotated[int, Meta(ge=0)] = 0
    """Only entries at or after this time (milliseconds since the epoch)."""


class AuditEntry(Base):
    """One audited action. Secret values never appear, only secret names."""

    time_ms: int
    kind: Literal["tool", "secret"]
    vm_id: VmId
    target: str
    """The tool name (``kind: tool``) or the host the request went to (``secret``)."""
    status: str
    """An HTTP status (``200``, ``400``, ``202``...) or ``refused`` / ``injected``."""
    duration_ms: int = 0
    secret: str | None = None
    """The secret's name (``kind: secret``)."""


class ToolsLogResult(Base):
    """Audit entries, oldest first (the log keeps the most recent ones only)."""

    entries: list[AuditEntry]


class ToolsInvokeParams(Base):
    """Sidecar -> client: run the handler of tool ``name`` with ``input`` (already
    validated against its input schema). Cancelled with ``$/cancelRequest`` when the
    guest cancels the job or the call times out."""

    vm_id: VmId
    name: ToolName
    input: Any = None


class ToolsInvokeResult(Base):
    """The handler's answer, checked against the tool's output schema."""

    output: Any = None


class SecretConfig(Base):
    """A credential that never enters the VM. The guest sees only the placeholder
    ``agentvm-secret:<name>`` (in the env variable ``env``, when set); on connections
    to a host matching ``hosts`` (egress rule patterns) the sidecar replaces the
    placeholder in request header ``header`` with ``format`` (``{value}`` standing for
    the value). A request carrying the placeholder to any other host is refused
    (EACCES)."""

    name: SecretName
    value: Annotated[str, Meta(min_length=1, max_length=16384, pattern="^[^\\r\\n\\x00]*$")]
    hosts: Annotated[list[Annotated[str, Meta(min_length=1, max_length=512)]], Meta(min_length=1, max_length=64)]
    header: HeaderName = "Authorization"
    format: Annotated[str, Meta(max_length=1024, pattern="\\{value\\}")] = "Bearer {value}"
    env: Annotated[str, Meta(pattern="^[^=\x00]+$")] | None = None
    """Environment variable that holds the placeholder in every process."""
