"""Guest programs talking over the VM's network, through the real sidecar."""

from __future__ import annotations

import msgspec

from agentvm_protocol import ListenConfig, VmConfig, VmLimits
from tests.net.conftest import body_of, install_net_guests, run, start_server


async def test_guest_server_and_guest_client_talk_over_vm_loopback(client, vm_id):
    await install_net_guests(client, vm_id)
    await start_server(client, vm_id, 8080, "/usr/bin/http_server", "8080", "4")
    res = await run(client, vm_id, "/usr/bin/http_client", "127.0.0.1", "8080", "/")
    assert res.exit_code == 0, res.stdout
    assert res.stdout.startswith(b"HTTP/1.1 200 OK\r\n")
    assert body_of(res.stdout) == b"hello from guest\n"
    res = await run(client, vm_id, "/usr/bin/http_client", "localhost", "8080", "/echo", "posted body")
    assert body_of(res.stdout) == b"posted body"
    assert b"X-Method: POST\r\n" in res.stdout
    res = await run(client, vm_id, "/usr/bin/http_client", "::1", "8080", "/big")
    assert len(body_of(res.stdout)) == 5 * 1024 * 1024
    # the libc's way: getaddrinfo, then connect to the address it returned
    res = await run(client, vm_id, "/usr/bin/http_client", "--resolve", "localhost", "8080", "/")
    assert body_of(res.stdout) == b"hello from guest\n"


async def test_two_vms_never_see_each_others_loopback(client, vm_id):
    other = (await client.vm.create()).vm_id
    for vm in (vm_id, other):
        await install_net_guests(client, vm)
    await start_server(client, vm_id, 8080)
    res = await run(client, other, "/usr/bin/http_client", "127.0.0.1", "8080", "/")
    assert res.stdout == b"error connect errno=14\n"  # ECONNREFUSED
    res = await run(client, other, "/usr/bin/net_bad", "probe", "8080")
    assert res.stdout == b"closed\n"


async def test_udp_echo_over_vm_loopback(client, vm_id):
    await install_net_guests(client, vm_id)
    await start_server(client, vm_id, 5300, "/usr/bin/udp_echo", "server", "5300", "1")
    res = await run(client, vm_id, "/usr/bin/udp_echo", "client", "5300", "ping")
    assert res.stdout.startswith(b"reply ping from 127.0.0.1:"), res.stdout


async def test_bad_input_ends_in_clear_errnos(client, vm_id):
    await install_net_guests(client, vm_id)
    res = await run(client, vm_id, "/usr/bin/net_bad", "input", "7070")
    assert res.exit_code == 0, (res.stdout, res.stderr)
    lines = dict(line.split(" ", 1) for line in res.stdout.decode().splitlines())
    assert lines == {
        "send-unknown-fd": "errno=8",  # EBADF: the libc falls back to fd_write
        "connect-unknown-fd": "errno=8",
        "connect-file-fd": "errno=57",  # ENOTSOCK
        "seek-socket": "errno=70",  # ESPIPE
        "connect-no-port": "errno=28",  # EINVAL
        "connect-port-0": "errno=28",
        "connect-port-70000": "errno=28",
        "connect-bad-host": "errno=28",
        "connect-nobody-listens": "errno=14",  # ECONNREFUSED
        "recv-outside-memory": "errno=21",  # EFAULT
        "send-outside-memory": "errno=21",
        "huge-send": "errno=0 sent=262144",  # one socket buffer, then it would block
        "tls-on-loopback": "errno=58",  # ENOTSUP
        "poll-5000": "errno=28",
        "poll-1000": "errno=0 ready=0",
        "getaddrinfo-bad-name": "errno=28",
        "listen-datagram": "errno=58",
    }


async def test_a_connect_storm_past_max_sockets_fails_with_enfile(client):
    config = VmConfig(limits=msgspec.structs.replace(VmLimits(), max_sockets=20))
    vm_id = (await client.vm.create(config)).vm_id
    await install_net_guests(client, vm_id)
    res = await run(client, vm_id, "/usr/bin/net_bad", "storm", "7000", "100")
    # 1 listener, then 2 sockets per connection (client + queued server end)
    assert res.stdout == b"storm 9 errno=41\n"  # ENFILE
    assert (await run(client, vm_id, "/usr/bin/net_bad", "probe", "7000")).stdout == b"closed\n"  # all freed


async def test_a_peer_that_never_reads_bounds_what_a_sender_can_queue(client, vm_id):
    await install_net_guests(client, vm_id)
    res = await run(client, vm_id, "/usr/bin/net_bad", "neverread", "7001")
    assert res.stdout == b"neverread sent=262144 errno=6\n"  # EAGAIN after one socket buffer


async def test_binding_outside_the_listen_range_is_eacces(client):
    config = VmConfig(listen=ListenConfig(port_min=3000, port_max=4000))
    vm_id = (await client.vm.create(config)).vm_id
    await install_net_guests(client, vm_id)
    for port in ("80", "5000", "2999"):
        res = await run(client, vm_id, "/usr/bin/http_server", port, "0")
        assert res.stdout == b"error bind errno=2\n", port  # EACCES
    res = await run(client, vm_id, "/usr/bin/http_server", "0", "0")  # a free port inside the range
    assert 3000 <= int(res.stdout.split()[1]) <= 4000, res.stdout
    privileged = (await client.vm.create(VmConfig(listen=ListenConfig(port_min=80, allow_privileged=True)))).vm_id
    await install_net_guests(client, privileged)
    assert (await run(client, privileged, "/usr/bin/http_server", "80", "0")).stdout == b"listening 80\n"


async def test_so_rcvtimeo_ends_a_recv_with_eagain(client, vm_id):
    await install_net_guests(client, vm_id)
    assert (await run(client, vm_id, "/usr/bin/net_bad", "rcvtimeo", "7002")).stdout == b"rcvtimeo errno=6\n"


async def test_preview1_socket_calls_and_fd_io_work_on_sockets(client, vm_id):
    await install_net_guests(client, vm_id)
    res = await run(client, vm_id, "/usr/bin/net_bad", "wasi", "7003")
    assert res.stdout.decode().splitlines() == [
        "sock_accept errno=0",
        "sock_send errno=0",
        "poll_oneoff errno=0 events=1 userdata=7 nbytes=1",
        "sock_recv errno=0 data=ping",
        "fd_write=4 fd_read=4 data=pong",
        "sock_shutdown errno=0",
        "recv-after-shutdown errno=0 n=0",
        "sock_send-file-fd errno=57",  # ENOTSOCK
    ], res.stderr


async def test_a_guest_blocked_in_accept_is_killed_promptly_and_its_port_freed(client, vm_id):
    await install_net_guests(client, vm_id)
    pid = await start_server(client, vm_id, 8081, "/usr/bin/http_server", "8081")
    await client.process.kill(vm_id, pid, "SIGKILL")
    result = await client.process.wait(vm_id, pid, timeout_ms=30_000)
    assert (result.exit_code, result.signal) == (137, "SIGKILL")
    assert (await run(client, vm_id, "/usr/bin/net_bad", "probe", "8081")).stdout == b"closed\n"
