# The socket table of one VM: ports, counts, policy, resolution.
#
# One SocketTable per Kernel (`kernel.sockets`).  It owns what belongs to the VM
# as a whole: the TCP and UDP port spaces of the VM's loopback (two VMs never see
# each other's: each has its own table), the `max_sockets` count, the listen
# policy, and the ONE egress policy that every process reads at the moment of each
# call (`set_egress` swaps the reference, so all processes obey the new rules at
# once).  Sockets themselves are descriptions (sockets.py).
#
# Counting: every endpoint inside the VM costs one socket — a socket(), the server
# end of a connection while queued or accepted, and a HostConnection.  A connect
# when the VM is full fails with ENFILE before anything is allocated.
#
# Where a connect goes: 127.0.0.0/8, ::1, localhost and "any" are the VM's own
# loopback; everything else is egress, decided by the policy and performed by the
# sidecar (outbound.py) on the calling guest's thread.  A connect completes (or
# fails) before returning even on a non-blocking socket, which POSIX allows; it is
# bounded by outbound.CONNECT_TIMEOUT_S and ends early when the guest is killed.
# Guest listeners bind the VM loopback only.  Names and addresses of VM-internal
# services (services.py) are neither: the sidecar answers them itself, whatever
# the policy says.
#
# Outbound filters: `request_filter(name, port)` (set by the VM, e.g. the secrets
# injector of tools/) may return a filter that every byte the guest sends on that
# outbound connection passes through (outbound.py), before TLS.
#
# XX: host name resolution (socket.getaddrinfo) is not interruptible; it is bounded
# only by the host resolver's own timeouts.

from __future__ import annotations

import socket as host_socket
import threading
from collections.abc import Callable

from ..kernel.blocking import before_blocking
from ..kernel.errors import KernelError
from ..kernel.pipes import Interrupted, never_interrupted
from .addresses import format_address, is_loopback_host, parse_address, parse_ip
from .datagrams import DatagramQueue
from .host_connection import HostConnection
from .loopback import Listener, LoopbackEnd, loopback_pair
from .names import SyntheticNames
from .outbound import OutboundEnd, StreamFilter, open_connection, tls_context
from .policy import EgressPolicy, ListenPolicy
from .services import Services
from .sockets import Socket

__all__ = ["MAX_BACKLOG", "RequestFilterFactory", "SocketTable"]

# The filter (outbound.StreamFilter) of an outbound connection to (name, port).
RequestFilterFactory = Callable[[str, int], "StreamFilter | None"]

MAX_BACKLOG = 128
MAX_RESOLVED = 16
EPHEMERAL_FIRST = 49152
_LOOPBACK = "127.0.0.1"


class SocketTable:
    """A VM's sockets, ports and network policy. Thread-safe."""

    def __init__(self, max_sockets: int, buffer_bytes: int) -> None:
        self.max_sockets = max_sockets
        self.buffer_bytes = buffer_bytes
        self.listen_policy = ListenPolicy()
        self.egress = EgressPolicy()
        self._lock = threading.Lock()
        self._count = 0
        self._tcp: dict[int, Socket] = {}
        self._listeners: dict[int, Listener] = {}
        self._udp: dict[int, Socket] = {}
        self._next_ephemeral = EPHEMERAL_FIRST
        self._names = SyntheticNames()
        self.services = Services()
        self.request_filter: RequestFilterFactory | None = None

    # -- policy ---------------------------------------------------------------------
    def set_egress(self, policy: EgressPolicy) -> None:
        """Replace the egress policy for every process of the VM at once."""
        self.egress = policy

    def set_listen(self, policy: ListenPolicy) -> None:
        self.listen_policy = policy

    # -- counting -------------------------------------------------------------------
    def _take(self, n: int = 1) -> None:
        with self._lock:
            if self._count + n > self.max_sockets:
                raise KernelError.enfile(message=f"socket limit reached ({self.max_sockets})")
            self._count += n

    def _give(self) -> None:
        with self._lock:
            self._count -= 1

    @property
    def count(self) -> int:
        return self._count

    # -- lifecycle --------------------------------------------------------------------
    def new_socket(self, stream: bool, ipv6: bool = False) -> Socket:
        """A fresh socket (not yet in any fd table). Raises: ENFILE."""
        self._take()
        return Socket(self, stream, ipv6)

    def close_socket(self, sock: Socket) -> None:
        """The last fd of ``sock`` closed: free its port, connection and count."""
        with self._lock:
            if sock.port is not None:
                ports = self._tcp if sock.stream else self._udp
                if ports.get(sock.port) is sock:
                    del ports[sock.port]
                    self._listeners.pop(sock.port, None)
        if sock.listener is not None:
            sock.listener.close()
        if sock.end is not None:
            sock.end.close()
        if sock.datagrams is not None:
            sock.datagrams.close()
        self._give()

    # -- binding ----------------------------------------------------------------------
    def bind(self, sock: Socket, address: str) -> None:
        """Bind ``sock`` to a VM-loopback port (0 picks one in the listen range).

        Raises: EINVAL (malformed, or already bound), EADDRNOTAVAIL (not a VM
        address), EACCES (listen policy), EADDRINUSE.
        """
        host, port = parse_address(address, allow_port_zero=True)
        if not is_loopback_host(host):
            raise KernelError("EADDRNOTAVAIL", "guests bind the VM's loopback only")
        if sock.port is not None or sock.end is not None:
            raise KernelError.einval(message="socket is already bound")
        if port:
            self.listen_policy.check(port)
            if self.egress.decide("listen", host, port) is False:
                raise KernelError.eacces(message="listen denied by the network policy")
        self._reserve(sock, host, port)

    def _reserve(self, sock: Socket, host: str, port: int) -> None:
        ports = self._tcp if sock.stream else self._udp
        with self._lock:
            if port == 0:
                port = self._free_port(ports)
            elif port in ports:
                raise KernelError("EADDRINUSE", f"port {port} is in use")
            ports[port] = sock
        sock.port = port
        sock.local = format_address("::1" if sock.ipv6 and host in ("0.0.0.0", "::") else host if host != "localhost" else _LOOPBACK, port)
        if not sock.stream:
            sock.attach(datagrams=DatagramQueue(self.buffer_bytes))

    def _free_port(self, ports: dict[int, Socket]) -> int:
        """A free port inside the listen range (caller holds the lock). Raises: EADDRINUSE."""
        policy = self.listen_policy
        low = max(policy.port_min, 1 if policy.allow_privileged else 1024)
        span = policy.port_max - low + 1
        if span <= 0:
            raise KernelError.eacces(message="no port in the listen range")
        for i in range(span):
            port = low + (self._next_ephemeral - EPHEMERAL_FIRST + i) % span
            if port not in ports:
                self._next_ephemeral += i + 1
                return port
        raise KernelError("EADDRINUSE", "no free port")

    def _ephemeral_address(self) -> str:
        with self._lock:
            port = self._next_ephemeral
            self._next_ephemeral = EPHEMERAL_FIRST + (port + 1 - EPHEMERAL_FIRST) % (65536 - EPHEMERAL_FIRST)
        return format_address(_LOOPBACK, port)

    # -- listening and accepting -------------------------------------------------------
    def listen(self, sock: Socket, backlog: int) -> None:
        """Raises: ENOTSUP (datagram socket), EINVAL (connected), EACCES, EADDRINUSE."""
        if not sock.stream:
            raise KernelError.enotsup(message="listen on a datagram socket")
        if sock.end is not None:
            raise KernelError.einval(message="socket is connected")
        if sock.listener is not None:
            return
        if sock.port is None:
            self._reserve(sock, _LOOPBACK, 0)
        assert sock.port is not None
        listener = Listener(min(max(backlog, 1), MAX_BACKLOG), self._give)
        with self._lock:
            self._listeners[sock.port] = listener
        sock.attach(listener=listener)

    def accept(self, sock: Socket, interrupted: Interrupted = never_interrupted) -> Socket:
        """The next queued connection as a new connected socket (counted already).

        Raises: EINVAL (not listening), EAGAIN, EINTR.
        """
        listener = sock.listener
        if listener is None:
            raise KernelError.einval(message="socket is not listening")
        end = listener.accept(nonblocking=sock.nonblocking, deadline=sock.receive_deadline(), interrupted=interrupted)
        accepted = Socket(self, True, sock.ipv6)
        accepted.local = end.local
        accepted.attach(end=end)
        return accepted

    # -- connecting ---------------------------------------------------------------------
    def connect(self, sock: Socket, address: str, interrupted: Interrupted = never_interrupted) -> None:
        """Connect to the VM loopback or, if the policy allows, out through the host.

        Raises: EINVAL (malformed address or port), EISCONN, ECONNREFUSED, EACCES
        (policy), ENFILE, ETIMEDOUT, EHOSTUNREACH, EINTR.
        """
        host, port = parse_address(address)
        if sock.end is not None or sock.listener is not None:
            raise KernelError("EISCONN", "socket is already connected")
        if not sock.stream:
            if not is_loopback_host(host):
                self._egress_targets(host, port)  # the policy check; UDP egress is below
            sock.default_peer = format_address(host, port)
            return
        if is_loopback_host(host):
            client = self._connect_loopback(port)
            sock.local = client.local
            sock.attach(end=client)
            return
        service = self.services.find(host, port)
        if service is not None:
            client = self._connect_service(service.accept, format_address(service.address, port))
            sock.local = client.local
            sock.attach(end=client)
            return
        targets = self._egress_targets(host, port)
        factory = self.request_filter
        request_filter = None if factory is None else factory(self._egress_name(host), port)
        connection = open_connection(targets, interrupted)
        local_port = connection.getsockname()[1]
        sock.local = format_address("0.0.0.0", local_port)
        sock.attach(end=OutboundEnd(connection, sock.local, format_address(host, port), request_filter))

    def _egress_name(self, host: str) -> str:
        """The name an egress target is known by (the name behind a synthetic address)."""
        if parse_ip(host) is None:
            return host.lower().rstrip(".")
        found = self._names.lookup(host)
        return found[0] if found else host

    def _connect_service(self, accept: Callable[[HostConnection], None], service_address: str) -> LoopbackEnd:
        """A connection to a VM-internal service: the guest keeps the client end,
        ``accept`` takes the far end as a HostConnection, which counts one socket
        until closed. Raises: ENFILE."""
        self._take()
        client, server = loopback_pair(self.buffer_bytes, self._ephemeral_address(), service_address)
        accept(HostConnection(server, self._give))
        return client

    def _connect_loopback(self, port: int) -> LoopbackEnd:
        with self._lock:
            listener = self._listeners.get(port)
        if listener is None:
            raise KernelError("ECONNREFUSED", f"nothing listens on port {port}")
        self._take()  # the server end
        client, server = loopback_pair(self.buffer_bytes, self._ephemeral_address(), format_address(_LOOPBACK, port))
        try:
            listener.enqueue(server)
        except KernelError:
            self._give()
            raise
        return client

    def connect_from_host(self, port: int) -> HostConnection:
        """A TCP connection from outside the VM to the guest listener on VM loopback
        ``port``, queued on its accept backlog like a guest connect. Counts two
        sockets (the host end and the guest's end) against ``max_sockets``.

        Raises: KernelError ECONNREFUSED (no guest socket listens on ``port``, or
        its backlog is full), ENFILE (the VM holds ``max_sockets`` sockets), EINVAL
        (port outside 1-65535).
        """
        if not 1 <= port <= 65535:
            raise KernelError.einval(message="port outside 1-65535")
        self._take()  # the host end
        try:
            client = self._connect_loopback(port)
        except KernelError:
            self._give()
            raise
        return HostConnection(client, self._give)

    def start_tls(self, sock: Socket, server_name: str, verify: bool, interrupted: Interrupted = never_interrupted) -> None:
        """Make ``sock``'s outbound connection TLS (the guest keeps plaintext).

        Raises: ENOTCONN, ENOTSUP (a VM-loopback connection), EACCES (certificate),
        EPROTO, EINTR.
        """
        end = sock.connected_end()
        if not isinstance(end, OutboundEnd):
            raise KernelError.enotsup(message="TLS is done by the sidecar for outbound connections only")
        policy = self.egress
        end.start_tls(tls_context(policy.ca_certificates, verify), server_name, interrupted)

    # -- egress policy and resolution -------------------------------------------------------
    def _egress_targets(self, host: str, port: int) -> list[tuple[str, int]]:
        """The host addresses an egress to ``host:port`` may use.

        Raises: EACCES (policy), EHOSTUNREACH (the name does not resolve).
        """
        policy = self.egress  # one read: the whole decision uses one policy
        if parse_ip(host) is not None:
            name, real = self._names.lookup(host) or (None, host)
            if not policy.allows_target("connect", name, real, port):
                raise KernelError.eacces(message=f"connect to {name or host} denied by the network policy")
            return [(real, port)]
        try:
            addresses = self._lookup(policy, "connect", host, port)
        except KernelError as exc:
            if exc.errno == "ENOENT":
                raise KernelError("EHOSTUNREACH", f"cannot resolve {host}") from None
            raise
        allowed = [(a, port) for a in addresses if policy.allows_target("connect", host, a, port)]
        if not allowed:
            raise KernelError.eacces(message=f"connect to {host} denied by the network policy")
        return allowed

    def _lookup(self, policy: EgressPolicy, operation: str, name: str, port: int | None) -> list[str]:
        """Host addresses of ``name``: its dnsOverride, else (only when the policy
        allows the name) the host's resolver.

        Raises: EACCES (the name is not allowed), ENOENT (no address).
        """
        override = policy.dns_overrides.get(name.lower().rstrip("."))
        if override is not None:
            return [override]
        if not policy.allows(operation, name, port):
            raise KernelError.eacces(message=f"{name} is not allowed by the network policy")
        try:
            before_blocking()  # the host's resolver may wait on the network
            infos = host_socket.getaddrinfo(name, port, type=host_socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise KernelError.enoent(message=f"cannot resolve {name}") from None
        seen: list[str] = []
        for info in infos:
            ip = str(info[4][0])
            if ip not in seen:
                seen.append(ip)
        return seen[:MAX_RESOLVED]

    def getaddrinfo(self, host: str, port: int | None, family: int) -> list[tuple[str, int]]:
        """(address, 4|6) pairs for the guest's resolver (``family`` 0, 4 or 6).

        Loopback names and IP literals resolve to themselves; other names resolve
        on the host (dnsOverrides first), keep only the addresses the policy allows
        for "dns", and come back as synthetic addresses (names.py) that a later
        connect maps to the name.

        Raises: EINVAL (malformed name), EACCES (denied), ENOENT (no address).
        """
        if not host:
            host = _LOOPBACK
        service_address = self.services.address_of(host)
        if host == "localhost":
            found = [("127.0.0.1", 4), ("::1", 6)]
        elif service_address is not None:
            found = [(service_address, 4)]
        elif (ip := parse_ip(host)) is not None:
            found = [(str(ip), ip.version)]
        else:
            parse_address(f"{host}:1")  # validates the name
            policy = self.egress
            real = [a for a in self._lookup(policy, "dns", host, port) if policy.allows_target("dns", host, a, port)]
            if not real:
                raise KernelError.eacces(message=f"resolving {host} denied by the network policy")
            synthetic = [self._names.assign(host.lower(), a) for a in real]
            found = [(a, 4) for a in synthetic] if family != 6 else [(f"::ffff:{a}", 6) for a in synthetic]
        found = [(a, f) for a, f in found if family in (0, f)]
        if not found:
            raise KernelError.enoent(message=f"no address of family {family} for {host}")
        return found

    # -- datagrams ----------------------------------------------------------------------------
    def autobind_datagram(self, sock: Socket) -> DatagramQueue:
        """Bind an unbound datagram socket to a free port (as a first sendto does)."""
        if sock.datagrams is None:
            with self._lock:
                port = self._ephemeral_udp_port()
                self._udp[port] = sock
            sock.port = port
            sock.local = format_address(_LOOPBACK, port)
            sock.attach(datagrams=DatagramQueue(self.buffer_bytes))
        assert sock.datagrams is not None
        return sock.datagrams

    def _ephemeral_udp_port(self) -> int:
        for _ in range(65536 - EPHEMERAL_FIRST):
            port = self._next_ephemeral
            self._next_ephemeral = EPHEMERAL_FIRST + (port + 1 - EPHEMERAL_FIRST) % (65536 - EPHEMERAL_FIRST)
            if port not in self._udp:
                return port
        raise KernelError("EADDRINUSE", "no free port")

    def send_datagram(self, sock: Socket, data: bytes, address: str) -> int:
        """Deliver one datagram on the VM loopback (dropped if nobody is bound there).

        Raises: EINVAL, EACCES (policy), ENETUNREACH (UDP egress is not supported).
        """
        host, port = parse_address(address)
        self.autobind_datagram(sock)
        if not is_loopback_host(host):
            self._egress_targets(host, port)
            # XX: UDP egress through the host is not implemented; allowed or not, it
            # cannot reach the network yet.
            raise KernelError("ENETUNREACH", "UDP egress is not supported")
        with self._lock:
            target = self._udp.get(port)
        if target is not None and target.datagrams is not None:
            target.datagrams.deliver(data, sock.local or format_address(_LOOPBACK, 0))
        return len(data)
