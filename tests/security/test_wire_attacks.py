"""Attacks on the wire itself: frames a buggy or hostile client sends, answered with
a JSON-RPC error while every VM keeps running."""

from __future__ import annotations

import pytest
import trio

from .conftest import CANARY_BOUND_S, record_crash
from .raw_wire import RawSidecar, error_kind, open_raw_sidecar


async def assert_vm_serves(raw: RawSidecar, vm_id: str) -> None:
    """The bystander VM answers a stat and a short exec within the canary bound."""
    with trio.fail_after(CANARY_BOUND_S * 4):
        await raw.result("fs.stat", {"vmId": vm_id, "path": "/"})
        out = await raw.result("process.exec", {"vmId": vm_id, "argv": ["echo", "alive"]})
    assert out["exitCode"] == 0


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.attack("a 2 KB frame of 1000 nested arrays in a request's params, then in a response's result")
async def test_deeply_nested_frames_are_invalid_requests_and_every_vm_survives(request):
    async with open_raw_sidecar() as raw:
        vm_id = (await raw.result("vm.create", {}))["vmId"]
        await raw.send(b'{"jsonrpc":"2.0","id":"deep","method":"vm.list","params":' + nested(1000) + b"}\n")
        assert error_kind(await raw.answer("deep")) == "invalid_request"
        await raw.send(b'{"jsonrpc":"2.0","id":"deep-result","result":' + nested(1000) + b"}\n")
        assert error_kind(await raw.answer("deep-result")) == "invalid_request"
        await raw.send(b'{"jsonrpc":"2.0","method":"$/cancelRequest","params":' + nested(100_000) + b"}\n")
        await assert_vm_serves(raw, vm_id)
        record_crash(request, raw.closed)
