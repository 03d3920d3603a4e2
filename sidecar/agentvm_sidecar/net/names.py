# Synthetic addresses for names the sidecar resolved for a guest.
#
# The agentOS libc resolves with net_getaddrinfo and then connects to the sockaddr
# it got, as an "ip:port" string: the NAME is gone by connect time, yet the policy
# must judge the name (rules say "api.example.com", not its addresses), and a
# dnsOverrides target such as 127.0.0.1 must reach the HOST, while a guest's own
# 127.0.0.1 means the VM's loopback.  So getaddrinfo answers with an address from
# 198.18.0.0/15 (reserved for benchmarking, never routed) standing for one
# (name, real address) pair; a connect to it is an egress to that name and address.
# The table is bounded by the range itself: slots are reused round-robin.

from __future__ import annotations

import ipaddress
import threading

__all__ = ["SyntheticNames"]

_BASE = ipaddress.IPv4Network("198.18.0.0/15")


class SyntheticNames:
    """Maps synthetic addresses to (name, real address). Thread-safe."""

    def __init__(self, size: int = _BASE.num_addresses - 2) -> None:
        self._size = size
        self._next = 0
        self._by_pair: dict[tuple[str, str], str] = {}
        self._by_address: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()

    def assign(self, name: str, real: str) -> str:
        """The synthetic IPv4 address standing for ``name`` at ``real``."""
        with self._lock:
            existing = self._by_pair.get((name, real))
            if existing is not None:
                return existing
            address = str(_BASE.network_address + 1 + self._next)
            self._next = (self._next + 1) % self._size
            old = self._by_address.pop(address, None)
            if old is not None:
                del self._by_pair[old]
            self._by_pair[(name, real)] = address
            self._by_address[address] = (name, real)
            return address

    def lookup(self, address: str) -> tuple[str, str] | None:
        """(name, real address) for a synthetic address (also IPv4-mapped IPv6)."""
        ip = ipaddress.ip_address(address)
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        with self._lock:
            return self._by_address.get(str(ip))
