"""Attacks on the wire itself: frames a buggy or hostile client sends, answered with
a JSON-RPC error while every VM keeps running (the canary's VM is probed throughout)."""

from __future__ import annotations

import pytest

from .canary import guarding
from .raw_wire import error_kind, open_raw_sidecar


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.attack("a 2 KB frame of 1000 nested arrays in a request's params, then in a response's result")
async def test_deeply_nested_frames_are_invalid_requests_and_every_vm_survives(request):
    async with open_raw_sidecar() as raw, guarding(raw.result, raw.proc.pid, request):
        await raw.send(b'{"jsonrpc":"2.0","id":"deep","method":"vm.list","params":' + nested(1000) + b"}\n")
        assert error_kind(await raw.answer("deep")) == "invalid_request"
        await raw.send(b'{"jsonrpc":"2.0","id":"deep-result","result":' + nested(1000) + b"}\n")
        assert error_kind(await raw.answer("deep-result")) == "invalid_request"
        await raw.send(b'{"jsonrpc":"2.0","method":"$/cancelRequest","params":' + nested(100_000) + b"}\n")
