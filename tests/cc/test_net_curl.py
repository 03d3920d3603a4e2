"""Real curl (software/recipes/curl.py: Debian's 7.88.1 built with agentvm-cc, TLS
by the sidecar) in a VM's /bin: it fetches from a server in the VM and from a
host server only through an allowed egress rule, and HTTPS trusts exactly what
the VM's policy trusts. Exit codes are curl's documented ones."""

from __future__ import annotations

import pytest

from agentvm_protocol import NetworkPolicy, NetworkRule, VmConfig
from agentvm_sidecar.software.paths import software_dir
from agentvm_sidecar.software.recipes import built_recipe
from agentvm_sidecar.software.recipes.curl import CURL
from tests.net.conftest import start_server
from tests.net.host_server import HOST_BODY, host_http_server, make_ca_and_server_context
from tests.process.conftest import install_guest

OVERRIDES = {"api.test": "127.0.0.1"}
COULDNT_RESOLVE_HOST = 6
COULDNT_CONNECT = 7
PEER_FAILED_VERIFICATION = 60


@pytest.fixture(autouse=True)
def curl_is_built():
    if built_recipe(CURL, software_dir()) is None:
        pytest.fail("curl is not built: run `make setup` (python -m agentvm_sidecar.software.recipes curl)")


async def vm_with(client, *patterns: str, **network) -> str:
    rules = [NetworkRule(mode="allow", operations=["*"], patterns=[p]) for p in patterns]
    config = VmConfig(network=NetworkPolicy(rules=rules, dns_overrides=OVERRIDES, **network))
    return (await client.vm.create(config)).vm_id


async def curl(client, vm_id: str, *args: str):
    return await client.process.exec(vm_id, argv=["curl", "-sS", *args], timeout_ms=60_000)


async def test_curl_fetches_from_a_server_in_the_same_vm(client, net_tool_guest):
    vm_id = await vm_with(client)
    await client.fs.write_file(vm_id, "/usr/bin/net_tool", net_tool_guest, mode=0o755)
    await install_guest(client, vm_id, "net_bad")  # start_server's port probe
    port = 8083
    await start_server(client, vm_id, port, "/usr/bin/net_tool", "serve", str(port), "1")
    result = await curl(client, vm_id, f"http://127.0.0.1:{port}/")
    assert (result.exit_code, result.stdout) == (0, b"hello from the vm\n"), result.stderr


async def test_curl_reaches_the_host_server_through_an_allowed_egress_rule(client):
    with host_http_server() as port:
        vm_id = await vm_with(client, "api.test")
        result = await curl(client, vm_id, f"http://api.test:{port}/")
        assert (result.exit_code, result.stdout) == (0, HOST_BODY), result.stderr


async def test_curl_without_an_egress_rule_is_denied_with_a_clear_error(client):
    with host_http_server() as port:
        vm_id = await vm_with(client, "other.test")
        result = await curl(client, vm_id, f"http://api.test:{port}/")
        assert (result.exit_code, result.stdout) == (COULDNT_RESOLVE_HOST, b""), result.stderr
        result = await curl(client, vm_id, "http://192.0.2.1/")  # an address: refused at connect
        assert (result.exit_code, result.stdout) == (COULDNT_CONNECT, b""), result.stderr


async def test_curl_https_trusts_the_vm_ca_and_rejects_an_unknown_one_unless_insecure(client):
    ca_pem, server_context = make_ca_and_server_context("api.test")
    with host_http_server(server_context) as port:
        url = f"https://api.test:{port}/"
        trusted = await vm_with(client, "api.test", ca_certificates=[ca_pem])
        result = await curl(client, trusted, url)
        assert (result.exit_code, result.stdout) == (0, HOST_BODY), result.stderr
        untrusted = await vm_with(client, "api.test")
        assert (await curl(client, untrusted, url)).exit_code == PEER_FAILED_VERIFICATION
        result = await curl(client, untrusted, "-k", url)
        assert (result.exit_code, result.stdout) == (0, HOST_BODY), result.stderr
