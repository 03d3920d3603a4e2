"""Preview URLs in-process: the sidecar's PreviewServer and preview.* handlers, fetched with
a real HTTP client (http.client), proxied to guest servers of the FakeSockets double."""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from contextlib import asynccontextmanager

import pytest
import trio

from agentvm_protocol import PreviewCreateUrlParams, PreviewRevokeParams, PreviewStartParams, VmConfig
from agentvm_sidecar.api import HANDLERS, RequestContext
from agentvm_sidecar.net import preview as preview_module
from agentvm_sidecar.net.preview import PreviewServer
from agentvm_sidecar.net.preview_tokens import VmPreviews
from agentvm_sidecar.rpc.errors import RpcError
from agentvm_sidecar.vms import VmRegistry

from .fake_guest import FakeSockets, echo_app

PORT = 8080


async def _noop_emit(event) -> None:
    await trio.lowlevel.checkpoint()


class Harness:
    def __init__(self, ctx: RequestContext, vm, sockets: FakeSockets) -> None:
        self.ctx, self.vm, self.sockets = ctx, vm, sockets

    async def call(self, method: str, params):
        return await HANDLERS[method](self.ctx, params)

    async def url(self, port: int = PORT, ttl_seconds: int = 0, vm_id: str | None = None):
        return await self.call("preview.createUrl", PreviewCreateUrlParams(vm_id=vm_id or self.vm.vm_id, port=port, ttl_seconds=ttl_seconds))


@asynccontextmanager
async def harness():
    async with trio.open_nursery() as nursery:
        vms = VmRegistry(nursery)
        ctx = RequestContext(vms=vms, emit=_noop_emit, previews=PreviewServer.for_vms(vms, nursery))
        vm = await vms.create(VmConfig(software=False))
        vm.kernel.sockets = sockets = FakeSockets()  # XX: the real socket table once net-core lands
        sockets.listen(PORT, echo_app)
        await HANDLERS["preview.start"](ctx, PreviewStartParams())
        yield Harness(ctx, vm, sockets)
        await vms.dispose_all()
        nursery.cancel_scope.cancel()


@pytest.fixture
async def h():
    async with harness() as h:
        yield h


def request(url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None, conn=None):
    """One request with the standard library's HTTP client, in a worker thread."""
    parts = urllib.parse.urlsplit(url)
    own = conn is None
    conn = conn or http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    conn.request(method, target, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    if own:
        conn.close()
    return response, data


async def get(url: str, **kw):
    return await trio.to_thread.run_sync(lambda: request(url, **kw))


async def test_a_preview_url_proxies_path_query_method_headers_and_body(h):
    created = await h.url()
    assert created.url.endswith(created.path) and created.path == f"/{created.token}/"
    response, data = await get(created.url + "api/items?page=2", method="POST", body=b"payload", headers={"X-Test": "yes"})
    assert response.status == 201
    seen = json.loads(data)
    assert (seen["method"], seen["path"], seen["body"]) == ("POST", "/api/items?page=2", "payload")
    assert ["x-test", "yes"] in seen["headers"]
    assert response.headers.get_all("set-cookie") == ["a=1", "b=2"]


async def test_the_default_ttl_is_one_hour(h):
    created = await h.url(ttl_seconds=0)
    assert abs(created.expires_at - (time.time() + 3600) * 1000) < 60_000


async def test_keep_alive_serves_several_requests_on_one_connection_and_a_chunked_response(h):
    created = await h.url()
    parts = urllib.parse.urlsplit(created.url)

    def two_requests():
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
        first, first_body = request(created.url + "one", conn=conn)
        sock = conn.sock
        second, second_body = request(created.url + "chunked", conn=conn)
        same = conn.sock is sock and sock is not None
        conn.close()
        return first, first_body, second, second_body, same

    first, first_body, second, second_body, same_socket = await trio.to_thread.run_sync(two_requests)
    assert first.status == 200 and json.loads(first_body)["path"] == "/one"
    assert second.headers["transfer-encoding"] == "chunked" and second_body == b"one,two,three"
    assert same_socket


async def test_a_5_mb_response_streams_through(h):
    created = await h.url()
    size = 5 * 1024 * 1024
    response, data = await get(created.url + f"big/{size}")
    assert response.status == 200 and len(data) == size


async def test_a_chunked_request_body_reaches_the_guest(h):
    created = await h.url()
    _, data = await get(created.url + "upload", method="PUT", body=iter([b"ab", b"cd"]))  # no length: sent chunked
    assert json.loads(data)["body"] == "abcd"


async def test_an_upgrade_the_guest_accepts_becomes_a_byte_tunnel_both_ways(h):
    created = await h.url()
    parts = urllib.parse.urlsplit(created.url)
    stream = await trio.open_tcp_stream(parts.hostname, parts.port)
    async with stream:
        head = f"GET {parts.path}ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        await stream.send_all(head.encode())
        received = b""
        with trio.fail_after(10):
            while b"\r\n\r\n" not in received:
                received += await stream.receive_some()
            assert received.startswith(b"HTTP/1.1 101 ")
            assert b"upgrade: websocket" in received.lower()
            await stream.send_all(b"frames are just bytes here")
            echoed = b""
            while len(echoed) < len(b"frames are just bytes here"):
                echoed += await stream.receive_some()
            assert echoed == b"FRAMES ARE JUST BYTES HERE"
            await stream.send_eof()
            assert await stream.receive_some() == b""  # the guest closed after our EOF


async def expect_forbidden(h: Harness, url: str) -> None:
    before = h.sockets.connections
    response, _ = await get(url)
    assert response.status == 403
    assert h.sockets.connections == before  # nothing reached the guest


async def test_a_revoked_token_is_refused(h):
    created = await h.url()
    assert (await get(created.url))[0].status == 200
    await h.call("preview.revoke", PreviewRevokeParams(token=created.token))
    await expect_forbidden(h, created.url)
    await h.call("preview.revoke", PreviewRevokeParams(token=created.token))  # idempotent


async def test_an_expired_token_is_refused(h):
    created = await h.url(ttl_seconds=1)
    assert (await get(created.url))[0].status == 200
    await trio.sleep(max(0.0, created.expires_at / 1000 - time.time()) + 0.05)
    await expect_forbidden(h, created.url)


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


async def test_tampered_forged_and_malformed_tokens_are_refused(h):
    created = await h.url()
    base = created.url.removesuffix(created.path)
    payload, mac = created.token.split(".")
    other_key = VmPreviews().sign(h.vm.vm_id, PORT, created.expires_at)
    for token in [f"{_flip(payload, 3)}.{mac}", f"{payload}.{_flip(mac, 3)}", other_key, "garbage", "a.b", ""]:
        await expect_forbidden(h, f"{base}/{token}/")
    await expect_forbidden(h, f"{base}/")


async def test_a_token_names_its_port_so_another_port_needs_another_token(h):
    h.sockets.listen(9090, lambda request, body, guest: (200, [("content-length", "4")], [b"9090"]))
    assert (await get((await h.url(port=9090)).url))[1] == b"9090"
    assert json.loads((await get((await h.url(port=PORT)).url))[1])["path"] == "/"


async def test_nothing_listening_on_the_port_is_a_bad_gateway(h):
    created = await h.url(port=9999)
    assert (await get(created.url))[0].status == 502


async def test_a_guest_closing_without_a_response_is_a_bad_gateway(h):
    created = await h.url()
    assert (await get(created.url + "close"))[0].status == 502


async def test_a_request_head_over_the_bound_gets_431_before_the_guest(h):
    created = await h.url()
    before = h.sockets.connections
    response, _ = await get(created.url, headers={"X-Big": "x" * (300 * 1024)})
    assert response.status == 431 and h.sockets.connections == before


async def hold(url: str, outcome: list[str]) -> None:
    """A request the guest never answers; records how it ended."""
    try:
        await get(url + "silent")
        outcome.append("answered")
    except TimeoutError:
        outcome.append("client timed out")
    except (http.client.HTTPException, OSError):
        outcome.append("closed")


async def until_proxying(h: Harness) -> None:
    with trio.fail_after(10):
        while h.vm.previews.live_connections == 0:
            await trio.sleep(0.01)


async def test_connections_per_vm_are_bounded(h, monkeypatch):
    monkeypatch.setattr(preview_module, "MAX_PER_VM", 1)
    created = await h.url()
    outcome: list[str] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(hold, created.url, outcome)  # takes the VM's one slot
        await until_proxying(h)
        assert (await get(created.url))[0].status == 503
        await h.ctx.vms.dispose(h.vm.vm_id)  # ends the held request


async def test_connections_past_the_server_bound_are_closed_at_once(h, monkeypatch):
    monkeypatch.setattr(preview_module, "MAX_CONNECTIONS", 1)
    parts = urllib.parse.urlsplit((await h.url()).url)
    async with await trio.open_tcp_stream(parts.hostname, parts.port):  # holds the one slot, idle
        await trio.sleep(0.1)
        async with await trio.open_tcp_stream(parts.hostname, parts.port) as second:
            with trio.fail_after(10):
                assert await second.receive_some() == b""


async def test_a_connection_that_sends_no_request_head_in_time_is_closed(h, monkeypatch):
    monkeypatch.setattr(preview_module, "HEAD_SECONDS", 0.2)
    parts = urllib.parse.urlsplit((await h.url()).url)
    async with await trio.open_tcp_stream(parts.hostname, parts.port) as stream:
        await stream.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finished
        with trio.fail_after(10):
            assert await stream.receive_some() == b""


async def test_a_guest_that_never_answers_gets_a_gateway_timeout(h, monkeypatch):
    monkeypatch.setattr(preview_module, "IDLE_SECONDS", 0.2)
    created = await h.url()
    assert (await get(created.url + "silent"))[0].status == 504


async def test_disposing_the_vm_closes_its_preview_connections(h):
    created = await h.url()
    outcome: list[str] = []
    with trio.fail_after(15):  # the client gives up after 20 s, the proxy after IDLE_SECONDS
        async with trio.open_nursery() as nursery:
            nursery.start_soon(hold, created.url, outcome)
            await until_proxying(h)
            await h.ctx.vms.dispose(h.vm.vm_id)
    assert outcome == ["closed"]
    await expect_forbidden(h, created.url)  # its tokens name a VM that is gone


async def test_revoking_a_foreign_or_malformed_token_is_invalid_params(h):
    forged = VmPreviews().sign(h.vm.vm_id, PORT, int(time.time() * 1000) + 60_000)
    for token in [forged, "not-a-token"]:
        with pytest.raises(RpcError) as info:
            await h.call("preview.revoke", PreviewRevokeParams(token=token))
        assert info.value.kind == "invalid_params"


async def test_start_again_answers_the_running_server_and_create_url_needs_one():
    async with trio.open_nursery() as nursery:
        vms = VmRegistry(nursery)
        ctx = RequestContext(vms=vms, emit=_noop_emit, previews=PreviewServer.for_vms(vms, nursery))
        vm = await vms.create(VmConfig(software=False))
        with pytest.raises(RpcError) as info:
            await HANDLERS["preview.createUrl"](ctx, PreviewCreateUrlParams(vm_id=vm.vm_id, port=PORT))
        assert info.value.kind == "unavailable"
        bases = []

        async def start() -> None:
            bases.append((await HANDLERS["preview.start"](ctx, PreviewStartParams())).url_base)

        async with trio.open_nursery() as starters:  # concurrent starts make one server
            starters.start_soon(start)
            starters.start_soon(start)
        await start()
        assert len(set(bases)) == 1 and bases[0].startswith("http://127.0.0.1:")
        await vms.dispose_all()
        nursery.cancel_scope.cancel()
