"""Preview URLs through the real sidecar process, started with ``--preview``, fetched with
urllib: refused tokens never reach a guest."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import trio

from agentvm import AsyncClient, VmConfig

SIDECAR = [sys.executable, "-m", "agentvm_sidecar", "--stdio", "--log-level", "warning", "--preview", "127.0.0.1:0"]


@pytest.fixture
async def client():
    async with AsyncClient.connect(SIDECAR) as c:
        yield c


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


async def get_status(url: str) -> int:
    return await trio.to_thread.run_sync(status_of, url)


async def test_the_preview_flag_starts_the_server_that_create_url_uses(client):
    base = (await client.preview.start()).url_base
    vm = (await client.vm.create(VmConfig(software=False))).vm_id
    created = await client.preview.create_url(vm, 3000, ttl_seconds=60)
    assert created.url == base + created.path
    assert created.expires_at > time.time() * 1000


async def test_revoked_expired_tampered_and_unknown_tokens_get_403(client):
    vm = (await client.vm.create(VmConfig(software=False))).vm_id
    revoked = await client.preview.create_url(vm, 3000)
    await client.preview.revoke(revoked.token)
    expiring = await client.preview.create_url(vm, 3000, ttl_seconds=1)
    payload, mac = revoked.token.split(".")
    tampered = revoked.url.replace(mac, mac[::-1])
    base = revoked.url.removesuffix(revoked.path)
    await trio.sleep(max(0.0, expiring.expires_at / 1000 - time.time()) + 0.05)
    for url in [revoked.url, expiring.url, tampered, f"{base}/{payload}/", f"{base}/", f"{base}/nothing/here"]:
        assert await get_status(url) == 403, url


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_preview_address_in_use_ends_the_sidecar_with_one_line(workers: str):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        host, port = taken.getsockname()
        done = subprocess.run(
            [*SIDECAR[:-1], f"{host}:{port}", "--workers", workers],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == f"agentvm-sidecar: --preview: cannot listen on {host}:{port}: Address already in use"
