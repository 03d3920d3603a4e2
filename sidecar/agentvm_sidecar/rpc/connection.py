"""Serve one JSON-RPC connection over a pair of trio byte streams.

Shape: one reader loop feeds an :class:`~agentvm_protocol.RpcConnection`; every request
after ``hello`` runs as its own task, so a slow request never blocks the others;
lines go out whole and in order (outgoing_lines.py: written at once when nothing is
ahead of them, else by one writer task), and a client that stops reading applies
back-pressure (the writer's queue is bounded) instead of growing memory. Each
in-flight request has a cancel scope; ``$/cancelRequest {id}`` cancels it and the
request answers with kind ``cancelled``.

The handshake is a tiny state machine: NEW --hello ok--> READY; NEW --hello with another
version--> REFUSED, which answers every later request with ``version_mismatch``.

End of input ends the connection, losing nothing already received: in-flight
requests get ``EOF_GRACE_SECONDS`` to finish, then the rest are cancelled and answered
``cancelled``; queued answers are flushed and the caller (``server.py``) disposes every
VM. (``printf 'hello\nvm.list\n' | agentvm-sidecar --stdio`` answers both.)
"""

from __future__ import annotations

import contextvars
import enum
import functools
from collections.abc import Awaitable
from typing import Any

import msgspec
import trio

from agentvm_protocol import (
    CANCEL_METHOD,
    EOF,
    EVENT_METHOD,
    METHODS,
    NOTIFIABLE_METHODS,
    PROTOCOL_VERSION,
    BadFrame,
    Event,
    HelloParams,
    HelloResult,
    Notification,
    Request,
    RequestId,
    Response,
    RpcConnection,
    VmLimits,
    encode_error,
    encode_notification,
    encode_result,
    make_error,
)

from .. import __version__
from ..api import HANDLERS, Handler, RequestContext
from ..logs import get_logger
from .client_requests import ClientRequests
from .early_answers import EarlyAnswer, offering
from .errors import RpcError, to_error_object
from .outgoing import next_message
from .outgoing_lines import OutgoingLines

__all__ = ["Connection"]

log = get_logger("rpc")

_OUTGOING_LINES = 256  # bounded: a client that stops reading stalls producers
EOF_GRACE_SECONDS = 5.0  # for requests still running when the input ends
_DRAIN_SECONDS = 5.0  # for flushing answers to a client that may have stopped reading


class _State(enum.Enum):
    NEW = "new"
    READY = "ready"
    REFUSED = "refused"


class _CancelParams(msgspec.Struct):
    id: int | str


_cancel_decoder = msgspec.json.Decoder(_CancelParams)


def _cancelled_line(req_id: RequestId) -> bytes:
    return encode_error(req_id, make_error("cancelled", f"request {req_id!r} was cancelled"))


class Connection:
    """One client connection. ``serve`` returns when the input ends."""

    def __init__(
        self, vms: Any, *, max_frame_bytes: int, previews: Any = None, handlers: dict[str, Handler] = HANDLERS,
        raw_params: bool = False,
    ) -> None:
        """``vms``: what handlers find as ``ctx.vms`` (a VmRegistry, or the
        workers/ router with its ``handlers``, which forward); ``raw_params``:
        handlers get the params as raw JSON (the router's: a worker decodes them)."""
        self._vms = vms
        self._handlers = handlers
        self._raw_params = raw_params
        self._rpc = RpcConnection(max_frame_bytes)
        self._max_frame_bytes = max_frame_bytes
        self._state = _State.NEW
        # id -> its cancel scope and answer; one answered early (rpc/early_answers.py)
        # is no longer in flight for the client, which may use its id again
        self._in_flight: dict[RequestId, tuple[trio.CancelScope, EarlyAnswer]] = {}
        self._out = OutgoingLines(_OUTGOING_LINES)
        self._send = self._out.send
        self.client_requests = ClientRequests(self._send)
        self._ctx = RequestContext(
            vms=vms, emit=self.emit, ask_client=self.client_requests.call, previews=previews, max_frame_bytes=max_frame_bytes
        )

    async def emit(self, event: Event) -> None:
        """Send an ``event`` notification (blocks while the client is not reading)."""
        await self._send(encode_notification(EVENT_METHOD, event))

    async def serve(self, receive: trio.abc.ReceiveStream, send: trio.abc.SendStream) -> None:
        """Read requests until end of input, answering each; then return."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._out.write_loop, send, nursery.cancel_scope.cancel)
            async with trio.open_nursery() as requests:
                await self._read_loop(receive, requests)
                # no answers can arrive any more
                self.client_requests.close()
                requests.cancel_scope.deadline = trio.current_time() + EOF_GRACE_SECONDS
            # Flush what is queued (errors for the last frames), but never wait forever
            # on a client that stopped reading.
            await self._out.aclose()
            nursery.cancel_scope.deadline = trio.current_time() + _DRAIN_SECONDS

    async def _read_loop(self, receive: trio.abc.ReceiveStream, requests: trio.Nursery) -> None:
        while True:
            event = await next_message(self._rpc, receive)
            if event is EOF:
                log.info("input_closed")
                return
            elif isinstance(event, Request):
                await self._on_request(event, requests)
            elif isinstance(event, Notification):
                self._on_notification(event, requests)
            elif isinstance(event, BadFrame):
                log.warning("bad_frame", kind=event.error.data.kind if event.error.data else None)
                await self._send(encode_error(event.id, event.error))
            elif isinstance(event, Response) and not self.client_requests.resolve(event):
                log.warning("unexpected_response", id=event.id)

    async def _on_request(self, req: Request, requests: trio.Nursery) -> None:
        if self._state is _State.REFUSED:
            await self._send_error(req.id, RpcError("version_mismatch", "connection refused at hello", expected_version=PROTOCOL_VERSION))
        elif req.method == "hello":
            await self._hello(req)
        elif self._state is _State.NEW:
            await self._send_error(req.id, RpcError("not_initialized", "the first request must be hello"))
        elif req.method not in self._handlers:
            await self._send_error(req.id, RpcError("method_not_found", f"unknown method {req.method!r}"))
        elif req.id in self._in_flight and not self._in_flight[req.id][1].sent:
            await self._send_error(req.id, RpcError("invalid_request", f"request id {req.id!r} is already in flight"))
        else:
            self._start_request(req, requests)

    async def _hello(self, req: Request) -> None:
        try:
            params = METHODS["hello"].params_decoder.decode(req.params)
        except msgspec.ValidationError as exc:
            await self._send_error(req.id, exc)
            return
        assert isinstance(params, HelloParams)
        if params.protocol_version != PROTOCOL_VERSION:
            self._state = _State.REFUSED
            log.warning("version_mismatch", client=params.client, received=params.protocol_version)
            await self._send_error(
                req.id,
                RpcError(
                    "version_mismatch",
                    f"client speaks protocol {params.protocol_version}, sidecar speaks {PROTOCOL_VERSION}",
                    expected_version=PROTOCOL_VERSION,
                    received_version=params.protocol_version,
                ),
            )
            return
        self._state = _State.READY
        log.info("hello", client=params.client)
        result = HelloResult(
            protocol_version=PROTOCOL_VERSION,
            sidecar_version=__version__,
            max_frame_bytes=self._max_frame_bytes,
            default_limits=VmLimits(),
            methods=sorted(self._handlers),
        )
        await self._send(encode_result(req.id, result))

    def _on_notification(self, note: Notification, requests: trio.Nursery) -> None:
        if note.method in NOTIFIABLE_METHODS and self._state is _State.READY:
            requests.start_soon(self._run_notification, note)
            return
        if note.method != CANCEL_METHOD:
            log.debug("ignored_notification", method=note.method)
            return
        try:
            target = _cancel_decoder.decode(note.params).id
        except msgspec.ValidationError:
            log.warning("bad_cancel_request")
            return
        entry = self._in_flight.get(target)
        if entry is not None:
            entry[0].cancel()

    def _start_request(self, req: Request, requests: trio.Nursery) -> None:
        """Call the request's handler here, in the reader, and await what it returns
        in a task of the request's own. An ``async def`` handler does nothing until
        awaited; one that is not starts its work at once (process.exec hands its
        process to a guest thread while trio starts the task). What the call
        raises is the task's to answer. The handler and the task share a context
        in which the request's EarlyAnswer is offered (rpc/early_answers.py)."""
        scope = trio.CancelScope()
        answer = EarlyAnswer(functools.partial(self._result_line, req.id), self._out.write_whole)
        self._in_flight[req.id] = (scope, answer)
        context = contextvars.copy_context()
        context.run(offering, answer)
        started = context.run(self._call_handler, req)
        context.run(requests.start_soon, self._run_request, req, scope, answer, started)

    def _call_handler(self, req: Request) -> Awaitable[Any] | BaseException:
        try:
            params = req.params if self._raw_params else METHODS[req.method].params_decoder.decode(req.params)
            return self._handlers[req.method](self._ctx, params)
        except Exception as exc:  # answered by the request's task
            return exc

    async def _run_request(
        self, req: Request, scope: trio.CancelScope, answer: EarlyAnswer, started: Awaitable[Any] | BaseException,
    ) -> None:
        try:
            with scope:
                if isinstance(started, BaseException):
                    raise started
                result = await started
                line = self._result_line(req.id, result)
            if scope.cancelled_caught:
                line = _cancelled_line(req.id)
        except trio.Cancelled:
            # The connection is closing (end of input, grace over): still answer, if
            # the outgoing queue has room, without waiting for it.
            if answer.withdraw():
                self._out.send_nowait(_cancelled_line(req.id))
            raise
        except Exception as exc:  # translated at this single boundary
            line = self._error_line(req.id, exc, method=req.method)
        finally:
            if self._in_flight.get(req.id, (None,))[0] is scope:  # not a later request of the same id
                del self._in_flight[req.id]
        if answer.withdraw():  # else the handler's work answered it already, early
            await self._send(line)

    def _result_line(self, req_id: RequestId, result: Any) -> bytes:
        """The answer line, or a ``limit_exceeded`` error when it would exceed the
        frame size the client was promised in ``hello`` (it would drop the line)."""
        line = encode_result(req_id, result)
        if len(line) - 1 <= self._max_frame_bytes:
            return line
        message = f"the result is {len(line) - 1} bytes encoded, over maxFrameBytes ({self._max_frame_bytes})"
        return encode_error(req_id, make_error("limit_exceeded", message))

    async def _run_notification(self, note: Notification) -> None:
        """Run a notifiable method; a notification gets no answer, so failures
        (a VM disposed meanwhile, bad params) are only logged."""
        try:
            params = note.params if self._raw_params else METHODS[note.method].params_decoder.decode(note.params)
            await self._handlers[note.method](self._ctx, params)
        except Exception as exc:  # nobody to answer
            log.debug("notification_failed", method=note.method, error=str(exc))

    async def _send_error(self, req_id: RequestId | None, exc: Exception) -> None:
        await self._send(self._error_line(req_id, exc))

    @staticmethod
    def _error_line(req_id: RequestId | None, exc: Exception, method: str | None = None) -> bytes:
        error, unexpected = to_error_object(exc)
        if unexpected:
            log.error("request_failed", method=method, exc_info=exc)
        return encode_error(req_id, error)
