# VM-internal services: names the sidecar itself answers inside one VM.
#
# A service (the host tools API at tools.agentvm.internal:80) is a virtual
# listener in the VM's socket table: a guest connect to its name or address makes
# a VM-loopback connection whose far end is handed to the sidecar (`accept`, a
# callback that must not block: it schedules a trio task) instead of a guest
# listener.  It never touches the host network, the egress policy does not apply
# (the VM always reaches its own services), and it exists only in the table of the
# VM that registered it, so no other VM can reach it.
#
# Its address is link-local (169.254.0.0/16: never routed, and outside the
# synthetic 198.18.0.0/15 range names.py hands out), so resolving the name gives
# an address a guest may connect to like any other.

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from .host_connection import HostConnection

__all__ = ["SERVICE_ADDRESS_PREFIX", "Service", "Services"]

SERVICE_ADDRESS_PREFIX = "169.254.77."


@dataclass(frozen=True, slots=True)
class Service:
    """One VM-internal service: a name, its address and port, and what takes each
    new connection (called on the connecting guest's thread; must not block)."""

    name: str
    address: str
    port: int
    accept: Callable[[HostConnection], None]


class Services:
    """The services of one VM, by name and by address. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_name: dict[str, Service] = {}
        self._by_endpoint: dict[tuple[str, int], Service] = {}

    def add(self, name: str, port: int, accept: Callable[[HostConnection], None]) -> Service:
        """Register a service; its address is chosen here (one per name)."""
        name = name.lower()
        with self._lock:
            old = self._by_name.get(name)
            address = old.address if old else f"{SERVICE_ADDRESS_PREFIX}{len(self._by_name) + 1}"
            service = Service(name, address, port, accept)
            self._by_name[name] = service
            self._by_endpoint[(address, port)] = service
            self._by_endpoint[(name, port)] = service
        return service

    def address_of(self, name: str) -> str | None:
        """The address a service name resolves to (None: not a service)."""
        with self._lock:
            service = self._by_name.get(name.lower().rstrip("."))
        return None if service is None else service.address

    def find(self, host: str, port: int) -> Service | None:
        """The service a connect to ``host:port`` (name or address) reaches."""
        with self._lock:
            return self._by_endpoint.get((host.lower().rstrip("."), port))
