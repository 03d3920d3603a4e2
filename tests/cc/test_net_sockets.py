"""The compat library's BSD sockets (software/cc/compat/src/net.c, poll.c,
resolve.c) in a real VM: a program written against plain POSIX headers and built
with agentvm-cc talks over VM loopback, resolves names, polls sockets and pipes,
and reaches a host server only as the VM's network policy allows, TLS included.
Errnos are wasi-libc's numbers (WASI's)."""

from __future__ import annotations

from agentvm_protocol import NetworkPolicy, NetworkRule, VmConfig
from tests.net.conftest import body_of, start_server
from tests.net.host_server import HOST_BODY, host_http_server, make_ca_and_server_context
from tests.process.conftest import install_guest

EACCES = 2
ECONNREFUSED = 14
EAI_SYSTEM = -11
OVERRIDES = {"api.test": "127.0.0.1"}


async def tool(client, vm_id: str, *args: str):
    return await client.process.exec(vm_id, argv=["/usr/bin/net_tool", *args], timeout_ms=60_000)


async def vm_with(client, guest: bytes, *rules: NetworkRule, **network) -> str:
    """A VM with ``rules`` (api.test -> the host's 127.0.0.1) and /usr/bin/net_tool."""
    config = VmConfig(network=NetworkPolicy(rules=list(rules), dns_overrides=OVERRIDES, **network))
    vm_id = (await client.vm.create(config)).vm_id
    await client.fs.write_file(vm_id, "/usr/bin/net_tool", guest, mode=0o755)
    return vm_id


def allow(pattern: str) -> NetworkRule:
    return NetworkRule(mode="allow", operations=["*"], patterns=[pattern])


async def test_every_socket_call_behaves_as_posix_says_over_vm_loopback(client, net_tool_guest):
    vm_id = await vm_with(client, net_tool_guest)
    result = await tool(client, vm_id, "selftest")
    lines = result.stdout.decode().splitlines()
    assert result.exit_code == 0 and lines[-1] == "selftest passed", result.stdout + result.stderr
    assert all(line.startswith("ok ") for line in lines[:-1]), lines


async def test_getaddrinfo_of_localhost_answers_both_loopback_addresses(client, net_tool_guest):
    vm_id = await vm_with(client, net_tool_guest)
    assert (await tool(client, vm_id, "resolve", "localhost")).stdout == b"4 127.0.0.1 80\n6 ::1 80\n"
    assert (await tool(client, vm_id, "resolve", "localhost", "6")).stdout == b"6 ::1 80\n"
    assert (await tool(client, vm_id, "resolve", "10.1.2.3")).stdout == b"4 10.1.2.3 80\n"


async def test_a_client_reaches_a_server_in_the_same_vm_by_name(client, net_tool_guest):
    vm_id = await vm_with(client, net_tool_guest)
    await install_guest(client, vm_id, "net_bad")  # start_server's port probe
    port = 8081
    await start_server(client, vm_id, port, "/usr/bin/net_tool", "serve", str(port), "1")
    out = (await tool(client, vm_id, "get", "localhost", str(port), "/")).stdout
    assert out.startswith(b"HTTP/1.0 200") and body_of(out) == b"hello from the vm\n", out


async def test_connecting_to_a_port_nobody_listens_on_is_econnrefused(client, net_tool_guest):
    vm_id = await vm_with(client, net_tool_guest)
    result = await tool(client, vm_id, "get", "127.0.0.1", "8082", "/")
    assert (result.exit_code, result.stdout) == (2, f"error connect errno={ECONNREFUSED}\n".encode())


async def test_an_allowed_egress_reaches_the_host_server(client, net_tool_guest):
    with host_http_server() as port:
        vm_id = await vm_with(client, net_tool_guest, allow("api.test"))
        out = (await tool(client, vm_id, "get", "api.test", str(port), "/")).stdout
        assert out.startswith(b"HTTP/1.0 200") and body_of(out) == HOST_BODY, out


async def test_a_denied_egress_fails_in_getaddrinfo_or_connect_with_eacces(client, net_tool_guest):
    with host_http_server() as port:
        vm_id = await vm_with(client, net_tool_guest, allow("other.test"))
        # the name: getaddrinfo says EAI_SYSTEM with errno EACCES
        result = await tool(client, vm_id, "get", "api.test", str(port), "/")
        assert (result.exit_code, result.stdout) == (2, f"error getaddrinfo gai={EAI_SYSTEM} errno={EACCES}\n".encode())
        # an address literal resolves locally; the policy refuses the connect itself
        result = await tool(client, vm_id, "get", "192.0.2.1", "80", "/")
        assert (result.exit_code, result.stdout) == (2, f"error connect errno={EACCES}\n".encode())


async def test_tls_through_the_sidecar_trusts_the_vm_ca_and_rejects_an_unknown_one(client, net_tool_guest):
    ca_pem, server_context = make_ca_and_server_context("api.test")
    with host_http_server(server_context) as port:
        trusted = await vm_with(client, net_tool_guest, allow("api.test"), ca_certificates=[ca_pem])
        out = (await tool(client, trusted, "get", "--tls", "api.test", str(port), "/")).stdout
        assert body_of(out) == HOST_BODY, out
        untrusted = await vm_with(client, net_tool_guest, allow("api.test"))
        result = await tool(client, untrusted, "get", "--tls", "api.test", str(port), "/")
        assert (result.exit_code, result.stdout) == (2, f"error tls errno={EACCES}\n".encode())
        out = (await tool(client, untrusted, "get", "--tls", "--insecure", "api.test", str(port), "/")).stdout
        assert body_of(out) == HOST_BODY, out
