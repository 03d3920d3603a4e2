"""One worker sidecar: its process, and the client side of the JSON-RPC on its stdio.

The router (router.py) is the worker's only client: it says ``hello``, sends requests
with ids of its own (ints, counted per worker) and waits for their answers. What the
worker sends unasked goes to the router's callbacks: ``event`` notifications
(``on_event``, with the params as raw JSON) and requests the worker makes of the
client (``on_request``; the router asks the real client and its answer, result or
error, is sent back under the worker's id).

A call cancelled while waiting (the client cancelled its request, the connection is
closing) tells the worker with ``$/cancelRequest`` (rpc/outgoing.py, shared with the
sidecar's own requests to its client). When the worker's output ends (it exited, or
crashed), every waiting call and every later one fails with ``unavailable``, naming
the worker and its exit status; its VMs are gone with it.
"""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
import trio

from agentvm_protocol import (
    EOF,
    EVENT_METHOD,
    PROTOCOL_VERSION,
    BadFrame,
    HelloParams,
    Notification,
    Request,
    RequestId,
    Response,
    RpcConnection,
    encode_error,
    encode_result,
)

from ..logs import get_logger
from ..rpc.errors import ForwardedError, RpcError, to_error_object
from ..rpc.outgoing import OutgoingRequests, next_message
from ..rpc.outgoing_lines import OutgoingLines

__all__ = ["WorkerLink"]

log = get_logger("workers")

_EXIT_WAIT_S = 5.0  # for a worker whose output ended to exit, before it is killed
# for a worker whose input was closed: a sidecar's own end-of-input grace is 5 s for its
# requests and 5 s for flushing its answers (rpc/connection.py)
_STOP_WAIT_S = 15.0
_OUTGOING_LINES = 256  # bounded: a worker that stops reading stalls the router's calls to it
_FRAME_SLACK_BYTES = 1 << 20  # the envelope around a result or event the worker kept within the client's limit

OnEvent = Callable[[msgspec.Raw], Awaitable[None]]
OnRequest = Callable[[str, msgspec.Raw], Awaitable[msgspec.Raw]]


class WorkerLink:
    """A started worker sidecar; make one with :meth:`start`."""

    def __init__(self, index: int, process: trio.Process, max_frame_bytes: int) -> None:
        self.index = index
        self.vm_count = 0  # VMs the router placed here and has not seen disposed
        self.preview_port: int | None = None  # its preview server's, once started (previews.py)
        self._process = process
        self._rpc = RpcConnection(max_frame_bytes + _FRAME_SLACK_BYTES)
        self._lines = OutgoingLines(_OUTGOING_LINES)  # to its stdin, whole and in order
        self._send = self._lines.send
        self._requests = OutgoingRequests(self._send, itertools.count(1))
        self._gone: str | None = None  # why calls fail, once its output ended

    @property
    def alive(self) -> bool:
        return self._gone is None

    @classmethod
    async def start(
        cls, index: int, argv: Sequence[str], max_frame_bytes: int, nursery: trio.Nursery,
        on_event: OnEvent, on_request: OnRequest,
    ) -> WorkerLink:
        """Start the worker (its stderr is the router's: one log stream), serve its
        output in ``nursery`` and say hello. Raises: OSError (it cannot be started),
        RpcError (it exited or refused the hello)."""
        process = await trio.lowlevel.open_process(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        link = cls(index, process, max_frame_bytes)
        # a broken stdin needs nothing done here: its output's end fails what waits
        nursery.start_soon(link._lines.write_loop, process.stdin, lambda: None)
        nursery.start_soon(link._read_loop, on_event, on_request, nursery)
        try:
            await link.call("hello", HelloParams(protocol_version=PROTOCOL_VERSION, client=f"agentvm-router (worker {index})"))
        except (RpcError, ForwardedError) as exc:
            raise RpcError("unavailable", f"worker {index} did not start: {exc}") from None
        return link

    async def call(self, method: str, params: Any) -> msgspec.Raw:
        """``method(params)`` on the worker; its raw result.

        Raises: ForwardedError (the worker answered an error: passed on as it is),
        RpcError unavailable (the worker is gone)."""
        response = await self._requests.call(method, params)
        if response is None:
            raise RpcError("unavailable", self._gone or f"worker process {self.index} is gone")
        if response.error is not None:
            raise ForwardedError(response.error)
        return response.result or msgspec.Raw(b"null")

    async def stop(self) -> None:
        """Close its stdin (it disposes its VMs and exits, as any sidecar at end of
        input) and wait for it; killed if it takes longer than that grace allows."""
        try:
            await self._process.stdin.aclose()  # type: ignore[union-attr]
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        await self._exit_or_kill(_STOP_WAIT_S, "no exit after its input ended")

    async def _exit_or_kill(self, seconds: float, reason: str) -> int:
        """Its exit status, killing it first when it has not exited within ``seconds``."""
        with trio.move_on_after(seconds):
            return await self._process.wait()
        log.warning("worker_killed", worker=self.index, reason=reason)
        self._process.kill()
        return await self._process.wait()

    async def _read_loop(self, on_event: OnEvent, on_request: OnRequest, nursery: trio.Nursery) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        try:
            while (event := await next_message(self._rpc, stdout)) is not EOF:
                if isinstance(event, Response):
                    self._requests.resolve(event)
                elif isinstance(event, Notification):
                    if event.method == EVENT_METHOD:
                        await on_event(event.params)
                elif isinstance(event, Request):
                    nursery.start_soon(self._answer, event.id, event.method, event.params, on_request)
                elif isinstance(event, BadFrame):
                    log.error("worker_bad_frame", worker=self.index, excerpt=event.excerpt)
        finally:
            await self._ended()

    async def _answer(self, request_id: RequestId, method: str, params: msgspec.Raw, on_request: OnRequest) -> None:
        try:
            line = encode_result(request_id, await on_request(method, params))
        except Exception as exc:
            line = encode_error(request_id, to_error_object(exc)[0])
        await self._send(line)

    async def _ended(self) -> None:
        with trio.CancelScope(shield=True):
            code = await self._exit_or_kill(_EXIT_WAIT_S, "its output closed, yet it runs on")
        self._gone = f"worker process {self.index} exited (status {code})"
        if code != 0:
            log.error("worker_exited", worker=self.index, status=code)
        self._requests.close()
