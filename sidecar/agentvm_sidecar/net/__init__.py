"""VM networking: the per-VM socket table, VM loopback, the egress and listen
policies, and the sidecar-made outbound connections (with TLS).

Kernel-side and synchronous like kernel/: no trio here. ``kernel.sockets`` is the
VM's :class:`SocketTable`; guest sockets are :class:`Socket` descriptions in fd
tables; the host reaches guest listeners through :meth:`SocketTable.connect_from_host`
and the :class:`HostConnection` it returns.
"""

from .host_connection import HostConnection
from .policy import EgressPolicy, ListenPolicy
from .sockets import Socket
from .table import SocketTable

__all__ = ["EgressPolicy", "HostConnection", "ListenPolicy", "Socket", "SocketTable"]
