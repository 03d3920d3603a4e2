"""Sidecar -> client requests over an in-memory connection (rpc/client_requests.py)."""

from __future__ import annotations

import json

import msgspec
import pytest
import trio
import trio.testing

from agentvm_sidecar.rpc.connection import Connection
from agentvm_sidecar.rpc.errors import RpcError


class Wire:
    """The client's end of an in-memory connection to a real Connection."""

    def __init__(self) -> None:
        self.to_sidecar_send, self.to_sidecar_recv = trio.testing.memory_stream_one_way_pair()
        self.to_client_send, self.to_client_recv = trio.testing.memory_stream_one_way_pair()
        self.conn = Connection(vms=None, max_frame_bytes=1 << 20)
        self.buf = b""

    async def send(self, obj: dict) -> None:
        await self.to_sidecar_send.send_all(json.dumps({"jsonrpc": "2.0", **obj}).encode() + b"\n")

    async def recv(self) -> dict:
        with trio.fail_after(10):
            while b"\n" not in self.buf:
                self.buf += await self.to_client_recv.receive_some()
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)


@pytest.fixture
async def wire(nursery):
    w = Wire()
    nursery.start_soon(w.conn.serve, w.to_sidecar_recv, w.to_client_send)
    await w.send({"id": 1, "method": "hello", "params": {"protocolVersion": 1}})
    assert "result" in await w.recv()
    return w


async def test_a_sidecar_request_gets_the_clients_result(wire, nursery):
    answers = []

    async def ask() -> None:
        answers.append(await wire.conn.client_requests.call("permission.decide", {"tool": "rm"}))

    nursery.start_soon(ask)
    request = await wire.recv()
    assert (request["method"], request["params"], request["id"]) == ("permission.decide", {"tool": "rm"}, "sidecar-1")
    await wire.send({"id": request["id"], "result": {"allow": False}})
    with trio.fail_after(10):
        while not answers:
            await trio.sleep(0.01)
    assert msgspec.json.decode(answers[0]) == {"allow": False}


def ask_in_background(wire: Wire, nursery) -> list[RpcError]:
    """Start a sidecar -> client request; the list receives its error, if any."""
    errors: list[RpcError] = []

    async def ask() -> None:
        try:
            await wire.conn.client_requests.call("tools.run", {})
        except RpcError as exc:
            errors.append(exc)

    nursery.start_soon(ask)
    return errors


async def wait_for(errors: list) -> None:
    with trio.fail_after(10):
        while not errors:
            await trio.sleep(0.01)


async def test_a_client_error_keeps_its_kind(wire, nursery):
    errors = ask_in_background(wire, nursery)
    request = await wire.recv()
    await wire.send({"id": request["id"], "error": {"code": -32601, "message": "no handler", "data": {"kind": "method_not_found"}}})
    await wait_for(errors)
    assert errors[0].kind == "method_not_found" and "no handler" in errors[0].message


async def test_a_waiting_request_is_cancelled_when_the_client_goes_away(wire, nursery):
    errors = ask_in_background(wire, nursery)
    await wire.recv()
    await wire.to_sidecar_send.aclose()  # end of input: no answer can come
    await wait_for(errors)
    assert errors[0].kind == "cancelled"
    with pytest.raises(RpcError):
        await wire.conn.client_requests.call("tools.run", {})
