"""The VM socket table without a guest: kernel sockets, VM loopback, the host's
connect_from_host / HostConnection contract, limits and the listen policy."""

from __future__ import annotations

import threading

import pytest

from agentvm_sidecar.kernel.errors import KernelError
from agentvm_sidecar.kernel.kernel import Kernel
from agentvm_sidecar.kernel.limits import Limits
from agentvm_sidecar.net import HostConnection, ListenPolicy, Socket


def errno_of(fn, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(KernelError) as info:
        fn(*args, **kwargs)
    return info.value.errno


def listening(kernel: Kernel, port: int) -> Socket:
    server = kernel.sockets.new_socket(stream=True)
    server.retain()
    kernel.sockets.bind(server, f"127.0.0.1:{port}")
    kernel.sockets.listen(server, 16)
    return server


def test_host_connection_exchanges_bytes_with_an_accepted_guest_socket() -> None:
    kernel = Kernel(Limits())
    server = listening(kernel, 8080)
    conn = kernel.sockets.connect_from_host(8080)
    assert isinstance(conn, HostConnection)
    accepted = kernel.sockets.accept(server)
    accepted.retain()
    assert conn.send_nowait(b"GET / HTTP/1.1\r\n\r\n") == 18
    assert accepted.read(100) == b"GET / HTTP/1.1\r\n\r\n"
    accepted.write(b"HTTP/1.1 200 OK\r\n\r\nhi")
    assert conn.recv_nowait(5) == b"HTTP/"
    accepted.release()  # guest closes: the host reads the rest, then EOF
    assert conn.recv_nowait(100) == b"1.1 200 OK\r\n\r\nhi"
    assert conn.recv_nowait(100) == b""
    assert errno_of(conn.send_nowait, b"x") == "EPIPE"
    conn.close()
    conn.close()  # idempotent


def test_host_connection_watch_fires_when_the_guest_writes_and_eagain_before() -> None:
    kernel = Kernel(Limits())
    server = listening(kernel, 9000)
    conn = kernel.sockets.connect_from_host(9000)
    fired = threading.Event()
    conn.watch(fired.set)
    assert errno_of(conn.recv_nowait, 10) == "EAGAIN"
    accepted = kernel.sockets.accept(server)
    accepted.retain()
    fired.clear()
    accepted.write(b"x")
    assert fired.is_set()
    conn.unwatch(fired.set)
    assert conn.recv_nowait(10) == b"x"
    conn.shutdown_write()
    assert accepted.read(10) == b""  # EOF after the buffered bytes


def test_host_connection_to_a_port_nobody_listens_on_is_refused() -> None:
    kernel = Kernel(Limits())
    assert errno_of(kernel.sockets.connect_from_host, 8080) == "ECONNREFUSED"
    assert kernel.sockets.count == 0


def test_a_guest_that_never_reads_fills_its_buffer_then_eagain() -> None:
    kernel = Kernel(Limits(socket_buffer_bytes=4096))
    server = listening(kernel, 8080)
    conn = kernel.sockets.connect_from_host(8080)
    sent = 0
    with pytest.raises(KernelError) as info:
        while True:
            sent += conn.send_nowait(b"x" * 1000)
    assert info.value.errno == "EAGAIN"
    assert sent == 4096
    server.release()  # the listener closes with the connection still queued
    assert errno_of(conn.recv_nowait, 1) == "ECONNRESET"


def test_connections_past_max_sockets_fail_with_enfile_and_closing_frees_them() -> None:
    kernel = Kernel(Limits(max_sockets=5))
    server = listening(kernel, 8080)  # 1
    first = kernel.sockets.connect_from_host(8080)  # 3
    second = kernel.sockets.connect_from_host(8080)  # 5
    assert errno_of(kernel.sockets.connect_from_host, 8080) == "ENFILE"
    assert errno_of(kernel.sockets.new_socket, True) == "ENFILE"
    first.close()
    accepted = kernel.sockets.accept(server)
    accepted.discard()
    assert kernel.sockets.count == 3
    second.close()
    server.release()
    assert kernel.sockets.count == 0


def test_two_kernels_do_not_share_loopback_ports() -> None:
    a, b = Kernel(Limits()), Kernel(Limits())
    listening(a, 8080)
    assert errno_of(b.sockets.connect_from_host, 8080) == "ECONNREFUSED"
    listening(b, 8080)  # no EADDRINUSE either


def test_bind_outside_the_listen_range_or_privileged_is_eacces() -> None:
    kernel = Kernel(Limits())
    kernel.sockets.set_listen(ListenPolicy(port_min=3000, port_max=4000))
    sock = kernel.sockets.new_socket(stream=True)
    assert errno_of(kernel.sockets.bind, sock, "127.0.0.1:80") == "EACCES"
    assert errno_of(kernel.sockets.bind, sock, "127.0.0.1:5000") == "EACCES"
    kernel.sockets.bind(sock, "127.0.0.1:3000")
    other = kernel.sockets.new_socket(stream=True)
    assert errno_of(kernel.sockets.bind, other, "127.0.0.1:3000") == "EADDRINUSE"
    kernel.sockets.bind(other, "127.0.0.1:0")  # picks a port inside the range
    assert other.port is not None and 3000 < other.port <= 4000


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "host name:80", "[::1]80", ""])
def test_malformed_connect_addresses_are_einval(address: str) -> None:
    kernel = Kernel(Limits())
    sock = kernel.sockets.new_socket(stream=True)
    assert errno_of(kernel.sockets.connect, sock, address) == "EINVAL"


def test_guest_to_guest_loopback_over_ipv6_and_localhost() -> None:
    kernel = Kernel(Limits())
    server = listening(kernel, 7000)
    for address in ("::1:7000", "[::1]:7000", "localhost:7000"):
        client = kernel.sockets.new_socket(stream=True)
        client.retain()
        kernel.sockets.connect(client, address)
        accepted = kernel.sockets.accept(server)
        accepted.retain()
        client.write(b"ping")
        assert accepted.read(4) == b"ping"
        client.release()
        accepted.release()


def test_udp_datagrams_on_vm_loopback() -> None:
    kernel = Kernel(Limits())
    receiver = kernel.sockets.new_socket(stream=False)
    kernel.sockets.bind(receiver, "127.0.0.1:5353")
    sender = kernel.sockets.new_socket(stream=False)
    sender.send_to(b"hello", "127.0.0.1:5353")
    data, source = receiver.recv_from(100)
    assert data == b"hello"
    assert source == sender.local
    receiver.nonblocking = True
    assert errno_of(receiver.recv_from, 100) == "EAGAIN"
