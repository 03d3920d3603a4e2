"""A raw JSON-RPC peer of a real sidecar process, for attacks no client library
would send: lines go out as given, answers are matched to requests by id."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

HELLO = {"jsonrpc": "2.0", "id": "hello", "method": "hello", "params": {"protocolVersion": 1}}


class RawSidecar:
    """Lines to a sidecar's stdin, answers from its stdout (one reader task)."""

    def __init__(self, proc: trio.Process) -> None:
        self.proc = proc
        self.answers: dict[Any, dict] = {}
        self.idless: list[dict] = []
        self.garbage: list[bytes] = []
        self._arrived = trio.Condition()
        self._ids = 0
        self._sending = trio.Lock()  # the attack and the canary send concurrently
        self.closed = False

    async def send(self, payload: bytes | dict) -> None:
        line = payload if isinstance(payload, bytes) else json.dumps(payload).encode() + b"\n"
        async with self._sending:
            await self.proc.stdin.send_all(line)

    async def read_forever(self) -> None:
        buf = b""
        while True:
            chunk = await self.proc.stdout.receive_some(1 << 20)
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                self._file(line)
            async with self._arrived:
                self._arrived.notify_all()
        self.closed = True
        async with self._arrived:
            self._arrived.notify_all()

    def _file(self, line: bytes) -> None:
        try:
            msg = json.loads(line)
        except ValueError:
            self.garbage.append(line)
            return
        if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0":
            self.garbage.append(line)
        elif "method" in msg:
            pass  # events and sidecar -> client requests are not what attacks look at
        elif msg.get("id") is None:
            self.idless.append(msg)
        else:
            self.answers[json.dumps(msg["id"])] = msg

    async def answer(self, req_id: Any, timeout: float = 30) -> dict:
        """The answer to ``req_id`` (waits for it; fails if the sidecar exits)."""
        key = json.dumps(req_id)
        with trio.fail_after(timeout):
            async with self._arrived:
                while key not in self.answers:
                    assert not self.closed, f"sidecar closed its output before answering {req_id!r}"
                    await self._arrived.wait()
        return self.answers.pop(key)

    def next_id(self) -> str:
        self._ids += 1
        return f"r{self._ids}"

    async def call(self, method: str, params: Any, timeout: float = 30) -> dict:
        req_id = self.next_id()
        await self.send({"jsonrpc": "2.0", "id": req_id, "method": method, "params": params})
        return await self.answer(req_id, timeout)

    async def result(self, method: str, params: Any, timeout: float = 30) -> Any:
        reply = await self.call(method, params, timeout)
        assert "result" in reply, reply
        return reply["result"]


@asynccontextmanager
async def open_raw_sidecar(*args: str) -> AsyncIterator[RawSidecar]:
    """A sidecar subprocess past ``hello``; killed on exit. Extra ``args`` go to
    ``agentvm-sidecar`` (``--max-frame-bytes`` ...)."""
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-m", "agentvm_sidecar", "--stdio", "--log-level", "error", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        async with trio.open_nursery() as nursery:
            raw = RawSidecar(proc)
            nursery.start_soon(raw.read_forever)
            await raw.send(HELLO)
            assert "result" in await raw.answer("hello")
            yield raw
            nursery.cancel_scope.cancel()
    finally:
        proc.kill()
        await proc.wait()


def error_kind(reply: dict) -> str:
    return reply["error"]["data"]["kind"]
