"""Egress through the real sidecar: guest clients reach a host server on 127.0.0.1
(through dnsOverrides) only as the VM's ONE network policy says, in every process
however deep, before and after vm.setNetworkPolicy; TLS done by the sidecar."""

from __future__ import annotations

import pytest

from agentvm_protocol import NetworkPolicy, NetworkRule, VmConfig
from tests.net.conftest import body_of, install_net_guests, run
from tests.net.host_server import HOST_BODY, host_http_server, make_ca_and_server_context

EACCES = 2
OVERRIDES = {"api.test": "127.0.0.1"}


def allow(*patterns: str, operations: tuple[str, ...] = ("*",)) -> NetworkRule:
    return NetworkRule(mode="allow", operations=list(operations), patterns=list(patterns))


def deny(*patterns: str) -> NetworkRule:
    return NetworkRule(mode="deny", operations=["*"], patterns=list(patterns))


async def vm_with(client, *rules: NetworkRule, **network) -> str:
    config = VmConfig(network=NetworkPolicy(rules=list(rules), dns_overrides=OVERRIDES, **network))
    vm_id = (await client.vm.create(config)).vm_id
    await install_net_guests(client, vm_id)
    return vm_id


async def fetch(client, vm_id: str, port: int, *flags: str, via: str = "") -> bytes:
    """stdout of http_client GET http://api.test:PORT/ run directly, or ``via`` a shell prefix."""
    argv = ["/usr/bin/http_client", *flags, "api.test", str(port), "/"]
    if via:
        return (await run(client, vm_id, command=via.replace("CLIENT", " ".join(argv)))).stdout
    return (await run(client, vm_id, *argv)).stdout


@pytest.mark.parametrize(
    "rule_patterns",
    [["api.test"], ["*.test"], ["127.0.0.0/8"], ["tcp://api.test:PORT"], ["https://api.test/v1"], ["api.test:PORT"]],
    ids=["hostname", "wildcard", "cidr", "tcp-uri", "https-uri", "host-port"],
)
async def test_an_allow_rule_in_any_form_lets_a_guest_reach_the_host_server(client, rule_patterns):
    with host_http_server() as port:
        vm_id = await vm_with(client, allow(*(p.replace("PORT", str(port)) for p in rule_patterns)))
        out = await fetch(client, vm_id, port)
        assert out.startswith(b"HTTP/1.0 200") and body_of(out) == HOST_BODY, out
        # the libc path: getaddrinfo, then connect to the (synthetic) address it returned
        out = await fetch(client, vm_id, port, "--resolve")
        assert body_of(out) == HOST_BODY, out


@pytest.mark.parametrize(
    "rules",
    [[], [allow("other.test")], [deny("api.test"), allow("*")], [allow("*.test"), deny("127.0.0.0/8")],
     [allow("api.test:1")], [deny("tcp://api.test")]],
    ids=["default-deny", "other-name", "deny-first", "denied-address", "other-port", "deny-uri"],
)
async def test_a_denied_egress_fails_at_once_with_eacces(client, rules):
    with host_http_server() as port:
        vm_id = await vm_with(client, *rules)
        assert await fetch(client, vm_id, port) == f"error connect errno={EACCES}\n".encode()
        resolved = await fetch(client, vm_id, port, "--resolve")
        assert resolved in (f"error getaddrinfo errno={EACCES}\n".encode(), f"error connect errno={EACCES}\n".encode())


async def test_a_guest_cannot_reach_host_loopback_by_address(client):
    with host_http_server() as port:
        vm_id = await vm_with(client, allow("*"))
        # 127.0.0.1 is the VM's own loopback: nothing listens there
        out = (await run(client, vm_id, "/usr/bin/http_client", "127.0.0.1", str(port), "/")).stdout
        assert out == b"error connect errno=14\n"


async def test_grandchildren_obey_the_same_policy_before_and_after_set_network_policy(client):
    with host_http_server() as port:
        vm_id = await vm_with(client, allow("api.test"))
        for via in ("", "sh -c 'CLIENT'", "sh -c \"sh -c 'CLIENT'\""):
            assert body_of(await fetch(client, vm_id, port, via=via)) == HOST_BODY, via
        await client.vm.set_network_policy(vm_id, NetworkPolicy(rules=[deny("api.test")], dns_overrides=OVERRIDES))
        for via in ("", "sh -c 'CLIENT'", "sh -c \"sh -c 'CLIENT'\""):
            assert await fetch(client, vm_id, port, via=via) == b"error connect errno=2\n", via
        await client.vm.set_network_policy(vm_id, NetworkPolicy(default="allow", dns_overrides=OVERRIDES))
        assert body_of(await fetch(client, vm_id, port, via="sh -c \"sh -c 'CLIENT'\"")) == HOST_BODY


async def test_tls_to_a_server_signed_by_a_configured_ca_works_and_an_untrusted_one_fails(client):
    ca_pem, server_context = make_ca_and_server_context("api.test")
    with host_http_server(server_context) as port:
        trusted = await vm_with(client, allow("api.test"), ca_certificates=[ca_pem])
        out = await fetch(client, trusted, port, "--tls")
        assert body_of(out) == HOST_BODY, out
        untrusted = await vm_with(client, allow("api.test"))
        assert await fetch(client, untrusted, port, "--tls") == b"error tls errno=2\n"  # EACCES: certificate
        # curl's -k: the 4-argument net_tls_connect with its insecure flag
        assert body_of(await fetch(client, untrusted, port, "--tls", "--insecure")) == HOST_BODY


async def test_a_malformed_policy_is_invalid_params(client):
    from agentvm import RpcError

    for network in (NetworkPolicy(rules=[allow("a*b")]), NetworkPolicy(dns_overrides={"x": "not-an-ip"}),
                    NetworkPolicy(ca_certificates=["not a pem"])):
        with pytest.raises(RpcError) as info:
            await client.vm.create(VmConfig(network=network))
        assert info.value.kind == "invalid_params"
