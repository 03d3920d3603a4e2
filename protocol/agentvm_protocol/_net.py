"""VM networking configuration (``VmConfig.network``, ``VmConfig.listen``) and
``vm.setNetworkPolicy``."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from ._base import Base, Empty

__all__ = [
    "ListenConfig",
    "NetworkPolicy",
    "NetworkRule",
    "VmSetNetworkPolicyParams",
    "VmSetNetworkPolicyResult",
]

Port = Annotated[int, Meta(ge=1, le=65535)]
Pattern = Annotated[str, Meta(min_length=1, max_length=512)]
HostName = Annotated[str, Meta(min_length=1, max_length=253, pattern="^[A-Za-z0-9_.-]+$")]


class ListenConfig(Base):
    """Which VM-loopback ports guests may bind (listen). A bind outside
    ``[port_min, port_max]``, or below 1024 without ``allow_privileged``, fails with
    EACCES; binding port 0 picks a free port inside the range. ``port_min`` must not
    exceed ``port_max`` (invalid_params)."""

    port_min: Port = 1
    port_max: Port = 65535
    allow_privileged: bool = False
    """Allow ports below 1024."""


class NetworkRule(Base):
    """One egress rule. ``patterns`` take host names (``api.example.com``), leading
    wildcards (``*.example.com``: subdomains only), ``*``, IP addresses and CIDRs
    (``10.0.0.0/8``, ``::1``), any of these with ``:port`` (``[v6]:port`` for IPv6),
    and URI forms (``tcp://host:port``, ``dns://name``, ``https://host/path``) whose
    scheme and path are ignored, so a URI form behaves exactly like its host form."""

    mode: Literal["allow", "deny"]
    operations: Annotated[list[Literal["connect", "dns", "listen", "*"]], Meta(min_length=1)]
    """``connect`` (outbound TCP/UDP), ``dns`` (name resolution), ``listen`` (binding
    a VM port; matched against ``127.0.0.1:<port>``), or ``*`` for all."""
    patterns: Annotated[list[Pattern], Meta(min_length=1, max_length=1024)]


class NetworkPolicy(Base):
    """The VM's egress policy, applied to every process of the VM (however it was
    spawned) at the moment of each call. Rules are tried in order and the FIRST rule
    whose operation and pattern match decides; when none matches, ``default`` does.
    A connect by name needs the name allowed, and loses every resolved address a rule
    explicitly denies. VM loopback (127.0.0.0/8, ::1, localhost) is never egress.
    A denied connect fails at once with EACCES; a denied name fails to resolve."""

    default: Literal["deny", "allow"] = "deny"
    rules: Annotated[list[NetworkRule], Meta(max_length=4096)] = []
    dns_overrides: dict[HostName, Annotated[str, Meta(max_length=64)]] = {}
    """Name -> IP address, used instead of the host's resolver (the policy still
    applies to the name and to the address)."""
    ca_certificates: Annotated[list[Annotated[str, Meta(max_length=1 << 20)]], Meta(max_length=64)] = []
    """Extra trusted CA certificates (PEM) for TLS done by the sidecar
    (``net_tls_connect``), besides the system trust store."""


class VmSetNetworkPolicyParams(Base):
    """Replace a live VM's egress policy; every process, running or future, obeys
    the new one from its next network call."""

    vm_id: Annotated[str, Meta(min_length=1, max_length=64, description="A VM handle returned by vm.create.")]
    network: NetworkPolicy


VmSetNetworkPolicyResult = Empty
