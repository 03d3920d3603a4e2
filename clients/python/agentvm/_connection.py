"""The async client core: one sidecar subprocess, one JSON-RPC connection over its stdio.

Framing and message classification come from ``agentvm_protocol`` (sans-I/O); this
module only moves bytes with trio. A reader task resolves pending requests by id,
fans ``event`` notifications out to subscriptions (``_events.py``, which also returns
output credit to the sidecar), and answers requests the sidecar makes of the client
with registered handlers (a ``$/cancelRequest`` from the sidecar cancels the handler
and answers ``cancelled``). The reader never waits for a consumer, so a slow
subscription cannot stall other calls.

Nothing waits forever: when the sidecar's stdout ends, every pending request fails
at once with :class:`SidecarError`; a line that is not JSON breaks the
connection for good (``protocol_error``, as in h11) and kills the sidecar, while a JSON
line the parser refuses (nested too deep) fails only the request it answers; writes are
never torn by cancellation (a half-written line would corrupt the stream) and are
bounded by ``_WRITE_TIMEOUT_S``.
"""

from __future__ import annotations

import itertools
import logging
import os
import select
import shlex
import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any

import msgspec
import trio

from agentvm_protocol import (
    CANCEL_METHOD,
    DEFAULT_MAX_FRAME_BYTES,
    EOF,
    EVENT_METHOD,
    METHODS,
    NEED_DATA,
    PROTOCOL_VERSION,
    BadFrame,
    Event,
    HelloParams,
    HelloResult,
    Notification,
    ProcessAckOutputParams,
    ProcessOutputEvent,
    Request,
    Response,
    RpcConnection,
    encode_error,
    encode_notification,
    encode_request,
    encode_result,
    make_error,
)

from ._bytes_fields import coerce_bytes_fields
from ._errors import RpcError, SidecarError, VersionMismatchError
from ._events import Delivery, EventFilter, EventSubscription

__all__ = ["DEFAULT_HANDSHAKE_TIMEOUT_S", "Connection", "default_sidecar_command"]

_log = logging.getLogger("agentvm")
_event_decoder = msgspec.json.Decoder(Event)
_any_decoder = msgspec.json.Decoder()
_SHUTDOWN_GRACE_S = 10.0
DEFAULT_HANDSHAKE_TIMEOUT_S = 30.0
_WRITE_TIMEOUT_S = 30.0

RequestHandler = Callable[[Any], Awaitable[Any]]


def _outcome(pending: _Pending) -> msgspec.Raw:
    if pending.error is not None:
        raise pending.error
    assert pending.result is not None
    return pending.result


def default_sidecar_command() -> list[str]:
    """``$AGENTVM_SIDECAR`` (shell-split) or this interpreter running the sidecar module."""
    override = os.environ.get("AGENTVM_SIDECAR")
    if override:
        return shlex.split(override)
    return [sys.executable, "-m", "agentvm_sidecar", "--stdio"]


class _Pending:
    """A request waiting for its answer: ``done`` is a ``trio.Event``, or for a
    caller on another thread (``call_blocking``) a ``threading.Event``; the reader
    task sets either."""

    __slots__ = ("done", "error", "result")

    def __init__(self, done: trio.Event | threading.Event) -> None:
        self.done = done
        self.result: msgspec.Raw | None = None
        self.error: BaseException | None = None


class Connection:
    """A live connection to one sidecar process. Create with :meth:`open`."""

    def __init__(self, process: trio.Process, nursery: trio.Nursery) -> None:
        self._process = process
        self._nursery = nursery
        self._rpc = RpcConnection()
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._subscribers: list[EventSubscription] = []
        self._acks: defaultdict[tuple[str, int], int] = defaultdict(int)
        self._acks_queued = trio.Event()
        self._handlers: dict[str, RequestHandler] = {}
        self._answering: dict[Any, trio.CancelScope] = {}
        self._send_lock = trio.Lock()
        # Held for each os.write of a line; _line_open while a line the trio side
        # started is still partly unwritten: a thread's line must not land inside it.
        self._line_lock = threading.Lock()
        self._line_open = False
        self._closed: SidecarError | None = None
        self.hello: HelloResult | None = None

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        command: Sequence[str] | None = None,
        *,
        env: dict[str, str] | None = None,
        stderr: int | None = None,
        handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT_S,
    ) -> AsyncIterator[Connection]:
        """Spawn the sidecar, perform ``hello``, and yield the connection.

        Raises:
            SidecarError: the sidecar could not be started, died during the handshake
                or did not answer ``hello`` within ``handshake_timeout`` seconds.
            VersionMismatchError: the sidecar speaks another protocol version.
        """
        argv = list(command or default_sidecar_command())
        try:
            process = await trio.lowlevel.open_process(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env
            )
        except OSError as exc:
            raise SidecarError("failed_to_start", f"cannot start sidecar {argv[0]!r}: {exc}") from exc
        # The nursery is private (it only runs the reader), so an error from the
        # caller's block or the handshake is re-raised bare, not as an ExceptionGroup.
        try:
            async with trio.open_nursery() as nursery:
                conn = cls(process, nursery)
                nursery.start_soon(conn._read_loop)
                nursery.start_soon(conn._ack_loop)
                try:
                    try:
                        await conn._handshake(handshake_timeout)
                    except BaseException:
                        # Nothing was served, so there is nothing to shut down
                        # gracefully: kill at once, so the timeout is the whole wait.
                        process.kill()
                        raise
                    yield conn
                finally:
                    with trio.CancelScope(shield=True):
                        await conn._shutdown()
                    nursery.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise

    async def _handshake(self, timeout: float) -> None:
        try:
            with trio.fail_after(timeout):
                result = await self.call("hello", HelloParams(protocol_version=PROTOCOL_VERSION, client="agentvm-python"))
        except trio.TooSlowError:
            raise SidecarError("timeout", f"sidecar did not answer hello within {timeout} s") from None
        except RpcError as exc:
            if exc.kind == "version_mismatch":
                raise VersionMismatchError(exc.error) from None
            raise
        self.hello = result

    async def call(self, method: str, params: msgspec.Struct) -> Any:
        """Send one request and wait for its typed result.

        Cancelling the caller sends ``$/cancelRequest`` so the sidecar stops the work.

        Raises:
            RpcError: the sidecar answered with an error.
            SidecarError: the sidecar is gone.
        """
        raw = await self._request(method, params)
        return METHODS[method].result_decoder.decode(raw)

    async def call_raw(self, method: str, params: Any) -> Any:
        """Like :meth:`call` with plain JSON-able params and a plain result (for tooling
        such as the conformance runner, which speaks the wire's camelCase)."""
        raw = await self._request(method, params)
        return _any_decoder.decode(raw)

    def call_blocking(self, method: str, params: msgspec.Struct, write_on_loop: Callable[[bytes], None]) -> Any:
        """:meth:`call` from a thread other than the connection's trio thread,
        blocking it until the answer: the blocking client's path (``Client``).

        The calling thread writes the request line itself when the sidecar's stdin
        takes it whole at once (lines up to ``PIPE_BUF`` are written whole or not at
        all) and nothing else is mid-line; otherwise ``write_on_loop(line)`` has the
        trio thread write it. The reader task wakes this thread with the answer. So
        a call costs the trio thread no task and no wake-up of its own (from the
        caller's thread through ``trio.from_thread.run``: ~100-200 us of a warm exec).
        An interrupt (KeyboardInterrupt) while waiting cancels the request."""
        req_id, line = self._request_line(method, params)
        pending = self._pending[req_id] = _Pending(threading.Event())
        try:
            if self._closed is not None:  # checked after registering: _fail_all sees it otherwise
                raise self._closed
            if not self._write_from_thread(line):
                write_on_loop(line)
            try:
                pending.done.wait()
            except BaseException:  # an interrupt: the sidecar may stop working on it
                if not pending.done.is_set():
                    with suppress(SidecarError):  # gone already: nothing to cancel
                        write_on_loop(encode_notification(CANCEL_METHOD, {"id": req_id}))
                raise
        finally:
            self._pending.pop(req_id, None)
        return METHODS[method].result_decoder.decode(_outcome(pending))

    def _write_from_thread(self, line: bytes) -> bool:
        """Write ``line`` whole from a thread other than trio's, if the pipe takes it
        at once and no line is half written; whether it did."""
        stdin = self._process.stdin
        if len(line) > select.PIPE_BUF or not isinstance(stdin, trio.lowlevel.FdStream):
            return False
        with self._line_lock:
            if self._line_open or self._closed is not None:
                return False
            try:
                return os.write(stdin.fileno(), line) == len(line)  # non-blocking: whole, or EAGAIN
            except OSError:
                return False  # full or broken: the trio side's write waits or reports it

    def _request_line(self, method: str, params: Any) -> tuple[int, bytes]:
        """A new request id and its line. Raises: TypeError (bytes fields), RpcError
        (frame_too_large), the closed connection's error."""
        if self._closed is not None:
            raise self._closed
        params = coerce_bytes_fields(params, f"{method} params")  # str -> UTF-8; TypeError before anything is sent
        req_id = next(self._ids)
        line = encode_request(req_id, method, params)
        limit = self.hello.max_frame_bytes if self.hello else DEFAULT_MAX_FRAME_BYTES
        if len(line) - 1 > limit:
            # The sidecar would answer with an id-less error that matches no request.
            raise RpcError(make_error("frame_too_large", f"request of {len(line) - 1} bytes exceeds maxFrameBytes ({limit})"))
        return req_id, line

    async def _request(self, method: str, params: Any) -> msgspec.Raw:
        req_id, line = self._request_line(method, params)
        pending = self._pending[req_id] = _Pending(trio.Event())
        try:
            await self.write_line(line)
            try:
                await pending.done.wait()
            except trio.Cancelled:
                with trio.CancelScope(shield=True):
                    await self.write_line(encode_notification(CANCEL_METHOD, {"id": req_id}))
                raise
        finally:
            self._pending.pop(req_id, None)
        return _outcome(pending)

    def set_request_handler(self, method: str, handler: RequestHandler | None) -> None:
        """Answer sidecar-to-client requests for ``method`` with ``handler(params)``."""
        if handler is None:
            self._handlers.pop(method, None)
        else:
            self._handlers[method] = handler

    @asynccontextmanager
    async def subscribe(self, accept: EventFilter | None = None) -> AsyncIterator[EventSubscription]:
        """Every ``event`` notification (that ``accept`` takes) from now on, in order,
        until the sidecar goes away (then the subscription ends) or the block is left."""
        subscription = self.open_subscription(accept)
        try:
            await trio.lowlevel.checkpoint()
            yield subscription
        finally:
            self.close_subscription(subscription)

    def open_subscription(self, accept: EventFilter | None = None) -> EventSubscription:
        """Like :meth:`subscribe`, for owners that outlive one block (process handles);
        pair with :meth:`close_subscription`."""
        subscription = EventSubscription(accept)
        if self._closed is not None:
            subscription._end()
        self._subscribers.append(subscription)
        return subscription

    def close_subscription(self, subscription: EventSubscription) -> None:
        """Stop delivering to ``subscription`` and let go of what it still holds."""
        if subscription in self._subscribers:
            self._subscribers.remove(subscription)
        subscription.close()

    @property
    def closed_error(self) -> SidecarError | None:
        """The error every request fails with from now on, or None while usable."""
        return self._closed

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run a task for as long as the connection lives (handles pumping output)."""
        self._nursery.start_soon(fn, *args)

    async def write_line(self, line: bytes) -> None:
        """Send one encoded line (a request, notification or answer), whole and in
        order with every other. Raises: SidecarError (not reading, closed)."""
        if self._closed is not None and self._closed.reason == "protocol_error":
            raise self._closed
        try:
            self._send_lock.acquire_nowait()
        except trio.WouldBlock:
            await self._send_lock.acquire()
        try:
            # The pipe nearly always takes the line at once, without the scheduler
            # rounds of send_all (~30 us of a call); what it does not take goes
            # the awaited way, the line open meanwhile (call_blocking).
            line = self._write_now(line)
            if line:
                try:
                    await self._write_rest(line)
                finally:
                    with self._line_lock:
                        self._line_open = False
        finally:
            self._send_lock.release()

    def _write_now(self, line: bytes) -> bytes:
        """Write what the sidecar's stdin pipe takes now; the rest (errors are
        left to ``_write_rest``, which raises them), with the line left open."""
        stdin = self._process.stdin
        with self._line_lock:
            try:
                rest = line[os.write(stdin.fileno(), line) :] if isinstance(stdin, trio.lowlevel.FdStream) else line
            except OSError:
                rest = line
            self._line_open = bool(rest)
        return rest

    async def _write_rest(self, line: bytes) -> None:
        try:
            assert self._process.stdin is not None
            with trio.CancelScope(shield=True), trio.fail_after(_WRITE_TIMEOUT_S):
                await self._process.stdin.send_all(line)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise self._closed or SidecarError("exited", "sidecar is not reading its input") from exc
        except trio.TooSlowError:
            error = SidecarError("timeout", f"sidecar did not read a request within {_WRITE_TIMEOUT_S} s")
            await self._fail_all(error)
            raise error from None

    def _queue_ack(self, event: ProcessOutputEvent) -> None:
        self._acks[(event.vm_id, event.pid)] += len(event.data)
        self._acks_queued.set()

    async def _ack_loop(self) -> None:
        """Return consumed output credit to the sidecar, coalesced per process."""
        while True:
            await self._acks_queued.wait()
            self._acks_queued = trio.Event()
            acks, self._acks = self._acks, defaultdict(int)
            for (vm_id, pid), consumed in acks.items():
                params = ProcessAckOutputParams(vm_id=vm_id, pid=pid, consumed=consumed)
                try:
                    await self.write_line(encode_notification("process.ackOutput", params))
                except SidecarError:
                    return

    def _dispatch(self, raw: msgspec.Raw) -> None:
        try:
            event = _event_decoder.decode(raw)
        except msgspec.ValidationError as exc:
            # Clients and sidecar ship in lockstep, so this is a bug, not a reason
            # to take the whole connection down.
            _log.warning("ignoring an event this client cannot decode: %s", exc)
            return
        delivery = Delivery(event, self._queue_ack)
        for subscription in list(self._subscribers):
            subscription._deliver(delivery)
        delivery.release()

    async def _read_loop(self) -> None:
        assert self._process.stdout is not None
        while True:
            event = self._rpc.next_event()
            if event is NEED_DATA:
                try:
                    data = await self._process.stdout.receive_some(65536)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    data = b""
                self._rpc.receive_data(data)
            elif event is EOF:
                await self._fail_all()
                return
            elif isinstance(event, Response):
                self._resolve(event)
            elif isinstance(event, Notification) and event.method == EVENT_METHOD:
                self._dispatch(event.params)
            elif isinstance(event, Notification) and event.method == CANCEL_METHOD:
                self._cancel_answer(event.params)
            elif isinstance(event, Request):
                self._nursery.start_soon(self._answer, event)
            elif isinstance(event, BadFrame) and self._survivable(event):
                _log.warning("ignoring a frame this client refuses: %s", event.error.message)
            elif isinstance(event, BadFrame):
                quoted = f": {event.excerpt!r}" if event.excerpt else ""
                await self._fail_all(SidecarError("protocol_error", f"sidecar sent a bad frame ({event.error.message}){quoted}"))
                self._process.kill()
                return

    def _survivable(self, bad: BadFrame) -> bool:
        """A well-formed line the parser refused (nested too deep, say) costs only the
        request it answers, or is dropped; a line that is not JSON means the stream
        itself is broken, and that ends the connection."""
        if bad.error.data is None or bad.error.data.kind != "invalid_request":
            return False
        pending = self._pending.get(bad.id) if bad.id is not None else None  # type: ignore[arg-type]
        if pending is not None:
            pending.error = RpcError(bad.error)
            pending.done.set()
        return True

    def _resolve(self, response: Response) -> None:
        pending = self._pending.get(response.id)  # type: ignore[arg-type]
        if pending is None:
            return
        if response.error is not None:
            pending.error = RpcError(response.error)
        else:
            pending.result = response.result or msgspec.Raw(b"null")
        pending.done.set()

    def _cancel_answer(self, params: msgspec.Raw) -> None:
        try:
            target = _any_decoder.decode(params).get("id")
        except (msgspec.DecodeError, AttributeError):
            return
        scope = self._answering.get(target)
        if scope is not None:
            scope.cancel()

    async def _answer(self, req: Request) -> None:
        handler = self._handlers.get(req.method)
        if handler is None:
            line = encode_error(req.id, make_error("method_not_found", f"client has no handler for {req.method!r}"))
        else:
            scope = self._answering[req.id] = trio.CancelScope()
            line = encode_error(req.id, make_error("cancelled", f"request {req.id!r} was cancelled"))
            try:
                with scope:
                    line = encode_result(req.id, await handler(_any_decoder.decode(req.params)))
            except RpcError as exc:
                line = encode_error(req.id, exc.error)
            except Exception as exc:
                line = encode_error(req.id, make_error("internal", f"client handler failed: {exc}"))
            finally:
                self._answering.pop(req.id, None)
        try:
            await self.write_line(line)
        except SidecarError:
            pass

    async def _fail_all(self, error: SidecarError | None = None) -> None:
        """Make the connection unusable: fail every pending request with ``error``
        (default: the sidecar exited) and end every subscription."""
        if error is None and self._closed is None:
            returncode = self._process.poll()
            if returncode is None:
                with trio.move_on_after(1):
                    returncode = await self._process.wait()
            error = SidecarError("exited", f"sidecar exited (status {returncode}) with requests pending", returncode=returncode)
        self._closed = self._closed or error
        for pending in list(self._pending.values()):
            pending.error = self._closed
            pending.done.set()
        for subscription in self._subscribers:
            subscription._end()

    async def _shutdown(self) -> None:
        """Close the sidecar's stdin (it disposes every VM and exits), then reap it."""
        if self._process.stdin is not None:
            await self._process.stdin.aclose()
        with trio.move_on_after(_SHUTDOWN_GRACE_S) as scope:
            await self._process.wait()
        if scope.cancelled_caught:
            self._process.kill()
            await self._process.wait()
        self._closed = self._closed or SidecarError("exited", "client is closed", returncode=self._process.returncode)
