"""Helpers for the networking tests: guest servers and clients in a real sidecar."""

from __future__ import annotations

import trio

from tests.process.conftest import install_guest, running_pids

GUESTS = ("http_server", "http_client", "udp_echo", "net_bad")
ECONNREFUSED = 14


async def install_net_guests(client, vm_id: str) -> None:
    for name in GUESTS:
        await install_guest(client, vm_id, name)


async def run(client, vm_id: str, *argv: str, command: str | None = None):
    if command is not None:
        return await client.process.exec(vm_id, command, timeout_ms=60_000)
    return await client.process.exec(vm_id, argv=list(argv), timeout_ms=60_000)


async def start_server(client, vm_id: str, port: int, *argv: str) -> int:
    """Spawn a guest server (default ``http_server PORT 1``) and wait until it holds ``port``."""
    argv = argv or ("/usr/bin/http_server", str(port), "1")
    pid = (await client.process.spawn(vm_id, argv=list(argv))).pid
    # A liveness bound, not a timing: the server's first run compiles it in the
    # compile helper, which on a 2-core CI machine competes with the whole suite.
    with trio.fail_after(90):
        while True:
            udp = ["udp"] if "udp_echo" in argv[0] else []
            probe = await client.process.exec(
                vm_id, argv=["/usr/bin/net_bad", "probe", str(port), *udp], timeout_ms=30_000
            )
            if probe.stdout == b"open\n":
                return pid
            # The probe binds the port to test it: a server that tried to bind at that
            # very moment failed with EADDRINUSE and exited. Start it again.
            if pid not in await running_pids(client, vm_id):
                pid = (await client.process.spawn(vm_id, argv=list(argv))).pid
            await trio.sleep(0.05)


def body_of(response: bytes) -> bytes:
    return response.split(b"\r\n\r\n", 1)[1]
