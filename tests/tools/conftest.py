"""Helpers for the host tools and secrets tests: a guest HTTP client in a real sidecar."""

from __future__ import annotations

import json

from tests.process.conftest import install_guest

TOOLS = "tools.agentvm.internal"
AUTH = "Authorization: Bearer ${AGENTVM_TOOLS_TOKEN}"
EACCES = 2  # WASI errno


async def request(client, vm_id: str, method: str, path: str, *headers: str, body: str | None = None,
                  host: str = TOOLS, port: int = 80, tls: bool = False, env: dict[str, str] | None = None) -> bytes:
    """Run the guest http_request in ``vm_id``; its whole output (response or error line)."""
    await install_guest(client, vm_id, "http_request")
    argv = ["/usr/bin/http_request", *(["--tls"] if tls else []), host, str(port), method, path]
    for header in headers:
        argv += ["-H", header]
    if body is not None:
        argv += ["-d", body]
    result = await client.process.exec(vm_id, argv=argv, env=env or {}, timeout_ms=90_000)
    return result.stdout


def status_and_json(response: bytes):
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), response
    return int(head.split()[1]), json.loads(body) if body else None
