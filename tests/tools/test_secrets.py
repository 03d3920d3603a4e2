"""Secrets that never enter the VM: injected on the way out to their hosts only (issue 14)."""

from __future__ import annotations

import os
import sys
import tempfile
from http.server import BaseHTTPRequestHandler

from agentvm import AsyncClient, NetworkPolicy, SecretConfig, VmConfig
from agentvm_protocol import NetworkRule
from tests.net.host_server import host_http_server, make_ca_and_server_context
from tests.tools.conftest import EACCES, request

VALUE = "sk-live-4f1d9a0c7b2e6f83"
SIDECAR = [sys.executable, "-m", "agentvm_sidecar", "--stdio"]


def _recording_handler(seen: list[dict[str, str]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            seen.append({"authorization": self.headers.get("Authorization", ""), "body": self.rfile.read(length).decode()})
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    return Handler


def _config(ca: list[str] | None = None) -> VmConfig:
    return VmConfig(
        env={"HOME": "/home/user"},
        network=NetworkPolicy(
            rules=[NetworkRule(mode="allow", operations=["*"], patterns=["api.test", "other.test"])],
            dns_overrides={"api.test": "127.0.0.1", "other.test": "127.0.0.1"},
            ca_certificates=ca or [],
        ),
        secrets=[SecretConfig(name="openai", value=VALUE, hosts=["api.test"], env="OPENAI_API_KEY")],
    )


async def _assert_vm_never_holds_it(client, vm_id: str) -> None:
    env = (await client.process.exec(vm_id, "env", timeout_ms=60_000)).stdout
    assert b"OPENAI_API_KEY=agentvm-secret:openai" in env and VALUE.encode() not in env
    ps = (await client.process.list(vm_id)).processes
    assert all(VALUE not in " ".join(p.argv) for p in ps)
    listing = await client.fs.readdir_recursive(vm_id, "/")
    assert not listing.truncated
    files = [e.path for e in listing.entries if e.kind == "file" and not e.path.startswith("bin/")]
    assert "etc/agentvm/tools/openapi.json" in files
    for path in files:
        data = (await client.fs.read_file(vm_id, "/" + path)).data
        assert VALUE.encode() not in data, path


async def test_the_real_credential_reaches_its_host_and_never_the_vm_or_the_logs():
    ca_pem, server_tls = make_ca_and_server_context("api.test")
    seen_plain: list[dict[str, str]] = []
    seen_tls: list[dict[str, str]] = []
    with tempfile.TemporaryFile() as stderr:
        env = {**os.environ, "AGENTVM_LOG_LEVEL": "debug"}
        async with AsyncClient.connect(SIDECAR, env=env, stderr=stderr.fileno()) as client:
            vm_id = (await client.vm.create(_config([ca_pem]))).vm_id
            auth = "Authorization: Bearer ${OPENAI_API_KEY}"
            with host_http_server(handler=_recording_handler(seen_plain)) as port:
                out = await request(client, vm_id, "POST", "/v1/chat", auth, body='{"q": 1}', host="api.test", port=port)
                assert out.startswith(b"HTTP/1.0 200") or out.startswith(b"HTTP/1.1 200"), out
            with host_http_server(server_tls, handler=_recording_handler(seen_tls)) as port:
                out = await request(client, vm_id, "POST", "/v1/chat", auth, body='{"q": 2}', host="api.test", port=port, tls=True)
                assert b" 200 " in out.split(b"\r\n")[0], out
            assert seen_plain == [{"authorization": f"Bearer {VALUE}", "body": '{"q": 1}'}]
            assert seen_tls == [{"authorization": f"Bearer {VALUE}", "body": '{"q": 2}'}]

            # the same placeholder to a host outside the secret's patterns is refused
            refused: list[dict[str, str]] = []
            with host_http_server(handler=_recording_handler(refused)) as port:
                out = await request(client, vm_id, "POST", "/steal", auth, body="{}", host="other.test", port=port)
                assert out == f"error send errno={EACCES}\n".encode()
                body_leak = await request(client, vm_id, "POST", "/steal", body='"agentvm-secret:openai"', host="other.test", port=port)
                assert body_leak == f"error send errno={EACCES}\n".encode()
            assert refused == []

            entries = (await client.tools.log(vm_id)).entries
            assert [(e.kind, e.target, e.status, e.secret) for e in entries] == [
                ("secret", "api.test", "200", "openai"),
                ("secret", "api.test", "200", "openai"),
                ("secret", "other.test", "refused", "openai"),
                ("secret", "other.test", "refused", "openai"),
            ]
            await _assert_vm_never_holds_it(client, vm_id)
        stderr.seek(0)
        logs = stderr.read()
    assert b"secret_request_refused" in logs and b"audit" in logs  # the logs were written
    assert VALUE.encode() not in logs
