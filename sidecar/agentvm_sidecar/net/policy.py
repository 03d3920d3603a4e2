# The VM's network policies: egress rules and the listen range.
#
# Egress.  `EgressPolicy(default, rules, dns_overrides, ca_certificates)`; every rule
# has a mode (allow/deny), operations (connect, dns, listen, *) and patterns.
# FIRST MATCH WINS: rules are tried in order and the first rule whose operation and
# pattern match decides; when none matches, `default` decides (like a firewall
# ACL).  A pattern is one of
#   api.example.com          a host name (case-insensitive), any port
#   *.example.com            any subdomain of example.com (not example.com itself)
#   *                        anything
#   10.0.0.0/8, 127.0.0.1    a CIDR or an IP address (IPv4 or IPv6)
#   host:port, [v6]:port     any of the above restricted to one port
#   tcp://host:port, dns://name, https://host/...   URI forms: the scheme and path
#                            are ignored, so a URI form behaves exactly like the
#                            host form it contains (a port only counts if written).
# An egress names a target twice, by name and by address (a connect by name, or to
# an address getaddrinfo handed out for a name).  Each is judged on its own, first
# match wins, and then: an explicit deny of EITHER wins (so a name cannot smuggle a
# denied address, whatever the rule order); else an explicit allow of either
# allows (so a CIDR rule admits a name that resolves into it); else `default`.
# The host's resolver is only asked about names the policy allows (the name itself,
# or the default): resolving arbitrary guest-chosen names would leak them in DNS
# queries.  dnsOverrides are local and always consulted.
# The policy object is immutable; the VM's SocketTable holds ONE reference that
# every process reads at the moment of each call, so replacing it
# (vm.setNetworkPolicy) changes the rules for every process at once.
#
# Listen.  `ListenPolicy(port_min, port_max, allow_privileged)`: binding outside the
# range, or below 1024 without allow_privileged, fails with EACCES.

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..kernel.errors import KernelError
from .addresses import parse_ip

__all__ = ["EgressPolicy", "ListenPolicy", "Pattern", "Rule", "parse_pattern"]

Operation = str  # "connect" | "dns" | "listen" | "*"


@dataclass(frozen=True)
class Pattern:
    """One parsed rule pattern (see the module comment for the forms)."""

    text: str
    any_host: bool = False
    name: str | None = None
    suffix: str | None = None  # ".example.com" for "*.example.com"
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    port: int | None = None

    def matches(self, host: str, port: int | None) -> bool:
        if self.port is not None and port != self.port:
            return False
        if self.any_host:
            return True
        ip = parse_ip(host)
        if ip is not None:
            if ip.version == 6 and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            return self.network is not None and ip.version == self.network.version and ip in self.network
        host = host.lower().rstrip(".")
        if self.name is not None:
            return host == self.name
        return self.suffix is not None and host.endswith(self.suffix)


def parse_pattern(text: str) -> Pattern:
    """Parse one rule pattern. Raises: ValueError (malformed)."""
    rest = text.strip()
    if "://" in rest:
        rest = rest.split("://", 1)[1].split("/", 1)[0]
        rest = rest.rsplit("@", 1)[-1]  # user@host
    port: int | None = None
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        if tail:
            if not tail.startswith(":") or not tail[1:].isdigit():
                raise ValueError(f"malformed pattern {text!r}")
            port = int(tail[1:])
    elif rest.count(":") == 1:
        host, port_text = rest.split(":")
        if not port_text.isdigit():
            raise ValueError(f"malformed port in pattern {text!r}")
        port = int(port_text)
    else:
        host = rest
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"port outside 1-65535 in pattern {text!r}")
    host = host.lower().rstrip(".")
    if not host:
        raise ValueError(f"empty pattern {text!r}")
    if host == "*":
        return Pattern(text, any_host=True, port=port)
    if host.startswith("*."):
        return Pattern(text, suffix=host[1:], port=port)
    if "*" in host:
        raise ValueError(f"a wildcard may only be a leading '*.' in {text!r}")
    try:
        return Pattern(text, network=ipaddress.ip_network(host, strict=False), port=port)
    except ValueError:
        pass
    return Pattern(text, name=host, port=port)


@dataclass(frozen=True)
class Rule:
    allow: bool
    operations: frozenset[Operation]
    patterns: tuple[Pattern, ...]

    def applies(self, operation: Operation, host: str, port: int | None) -> bool:
        if "*" not in self.operations and operation not in self.operations:
            return False
        return any(p.matches(host, port) for p in self.patterns)


@dataclass(frozen=True)
class EgressPolicy:
    """Immutable egress rules of one VM (first match wins, else ``default_allow``)."""

    default_allow: bool = False
    rules: tuple[Rule, ...] = ()
    dns_overrides: Mapping[str, str] = field(default_factory=dict)
    ca_certificates: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        default: str,
        rules: Iterable[tuple[str, Iterable[str], Iterable[str]]],
        dns_overrides: Mapping[str, str] | None = None,
        ca_certificates: Iterable[str] = (),
    ) -> EgressPolicy:
        """From config values: ``rules`` are (mode, operations, patterns).
        Raises: ValueError (a malformed pattern or override)."""
        parsed = tuple(
            Rule(mode == "allow", frozenset(ops), tuple(parse_pattern(p) for p in patterns))
            for mode, ops, patterns in rules
        )
        overrides = {name.lower().rstrip("."): addr for name, addr in (dns_overrides or {}).items()}
        for addr in overrides.values():
            if parse_ip(addr) is None:
                raise ValueError(f"dnsOverrides value {addr!r} is not an IP address")
        return cls(default == "allow", parsed, overrides, tuple(ca_certificates))

    def decide(self, operation: Operation, host: str, port: int | None = None) -> bool | None:
        """The first matching rule's verdict (True = allow), None when none matches."""
        for rule in self.rules:
            if rule.applies(operation, host, port):
                return rule.allow
        return None

    def allows(self, operation: Operation, host: str, port: int | None = None) -> bool:
        verdict = self.decide(operation, host, port)
        return self.default_allow if verdict is None else verdict

    def allows_target(self, operation: Operation, name: str | None, address: str, port: int | None = None) -> bool:
        """May ``operation`` reach ``address`` (known by ``name``, if any)? See the
        module comment: an explicit deny of either wins, then an explicit allow."""
        by_address = self.decide(operation, address, port)
        by_name = None if name is None else self.decide(operation, name, port)
        if by_address is False or by_name is False:
            return False
        if by_address or by_name:
            return True
        return self.default_allow


@dataclass(frozen=True)
class ListenPolicy:
    """Which ports guests may bind."""

    port_min: int = 1
    port_max: int = 65535
    allow_privileged: bool = False

    def check(self, port: int) -> None:
        """Raises: EACCES (outside the range, or privileged without permission)."""
        if port < 1024 and not self.allow_privileged:
            raise KernelError.eacces(message=f"port {port} is privileged")
        if not self.port_min <= port <= self.port_max:
            raise KernelError.eacces(message=f"port {port} is outside {self.port_min}-{self.port_max}")
