"""net.fetch's core against guest HTTP servers (the FakeSockets double until net-core's
socket table is on main): request and response as h11 sees them, and every failure kind."""

from __future__ import annotations

import json

import pytest

from agentvm_protocol import HttpHeader, NetFetchParams
from agentvm_sidecar.net.fetch import fetch, max_body_for_frame
from agentvm_sidecar.rpc.errors import RpcError

from .fake_guest import FakeSockets, echo_app

PORT = 8080
MAX_BODY = max_body_for_frame(64 * 1024 * 1024)


@pytest.fixture
def sockets() -> FakeSockets:
    s = FakeSockets()
    s.listen(PORT, echo_app)
    return s


def params(**kw) -> NetFetchParams:
    return NetFetchParams(vm_id="vm-test", port=kw.pop("port", PORT), **kw)


async def test_get_returns_status_headers_and_body(sockets):
    result = await fetch(sockets.connect_from_host, params(path="/hello?x=1"), max_body_bytes=MAX_BODY)
    assert (result.status, result.status_text) == (200, "")
    seen = json.loads(result.body)
    assert (seen["method"], seen["path"], seen["body"]) == ("GET", "/hello?x=1", "")
    assert ["host", "127.0.0.1:8080"] in seen["headers"]


async def test_post_sends_body_and_headers_and_keeps_repeated_response_headers(sockets):
    p = params(method="POST", path="/api", headers=[HttpHeader(name="X-Token", value="t1"), HttpHeader(name="X-Tag", value="a"), HttpHeader(name="X-Tag", value="b")], body=b'{"k": "v"}')
    result = await fetch(sockets.connect_from_host, p, max_body_bytes=MAX_BODY)
    assert result.status == 201
    seen = json.loads(result.body)
    assert seen["method"] == "POST" and seen["body"] == '{"k": "v"}'
    assert ["x-token", "t1"] in seen["headers"]
    assert [v for n, v in seen["headers"] if n == "x-tag"] == ["a", "b"]
    assert ["content-length", "10"] in seen["headers"]
    assert [h.value for h in result.headers if h.name == "set-cookie"] == ["a=1", "b=2"]


async def test_a_5_mb_response_arrives_whole(sockets):
    size = 5 * 1024 * 1024
    result = await fetch(sockets.connect_from_host, params(path=f"/big/{size}"), max_body_bytes=MAX_BODY)
    assert len(result.body) == size
    assert result.body[:256] == bytes(range(256)) and result.body[-1] == (size - 1) % 256


async def test_a_chunked_response_is_reassembled(sockets):
    result = await fetch(sockets.connect_from_host, params(path="/chunked"), max_body_bytes=MAX_BODY)
    assert result.body == b"one,two,three"


async def expect_kind(kind: str, sockets: FakeSockets, p: NetFetchParams, max_body: int = MAX_BODY) -> None:
    with pytest.raises(RpcError) as info:
        await fetch(sockets.connect_from_host, p, max_body_bytes=max_body)
    assert info.value.kind == kind


async def test_nothing_listening_is_connection_refused(sockets):
    await expect_kind("connection_refused", sockets, params(port=9999))


async def test_a_guest_that_never_answers_times_out_and_its_connection_is_closed(sockets):
    await expect_kind("timeout", sockets, params(path="/silent", timeout_ms=200))


async def test_a_guest_closing_without_answering_is_connection_closed(sockets):
    await expect_kind("connection_closed", sockets, params(path="/close"))


async def test_a_guest_closing_mid_body_is_connection_closed(sockets):
    await expect_kind("connection_closed", sockets, params(path="/half"))


async def test_a_response_that_is_not_http_is_a_guest_error(sockets):
    await expect_kind("guest_error", sockets, params(path="/garbage"))


async def test_a_body_over_the_frame_bound_is_limit_exceeded(sockets):
    await expect_kind("limit_exceeded", sockets, params(path="/big/300000"), max_body=100_000)


async def test_a_body_that_contradicts_its_content_length_is_invalid_params(sockets):
    p = params(method="POST", headers=[HttpHeader(name="content-length", value="3")], body=b"too long")
    await expect_kind("invalid_params", sockets, p)
    assert sockets.connections == 0  # refused before connecting


def test_the_body_bound_leaves_room_for_base64_in_one_frame():
    frame = 64 * 1024 * 1024
    assert frame * 0.7 < max_body_for_frame(frame) * 4 / 3 < frame
