# net.fetch: one HTTP/1.1 request from the host to a guest listener, start to finish.
#
# The sidecar is the HTTP client here.  h11 writes the request and parses the
# response (no HTTP is parsed by hand); a HostStream moves the bytes over the host end
# of a VM-loopback connection (kernel.sockets.connect_from_host).  The request body is
# sent by its own task while the response is read, so a guest that answers before
# reading the whole body (a 413, a redirect) is heard, not deadlocked.
#
# Everything the guest controls is bounded: the whole exchange by `timeout_ms`, the
# response head by h11's max_incomplete_event_size, the body by `max_body_bytes`
# (the caller derives it from maxFrameBytes: the result travels base64-encoded in one
# frame, so a larger body could never be answered anyway).  Failures get stable kinds:
#   connection_refused   nothing listens on the port
#   connection_closed    the guest closed (or reset) before a complete response
#   guest_error          the response is not HTTP/1.1
#   limit_exceeded       response head or body over its bound
#   timeout              no complete response in time

from __future__ import annotations

from collections.abc import Callable

import h11
import trio

from agentvm_protocol import HttpHeader, NetFetchParams, NetFetchResult

from ..kernel.errors import KernelError
from ..rpc.errors import RpcError
from .host_stream import HostConnection, HostStream

__all__ = ["MAX_HEAD_BYTES", "fetch", "max_body_for_frame"]

MAX_HEAD_BYTES = 64 * 1024
# What a result frame holds besides the base64 body: status, headers, JSON-RPC envelope.
_FRAME_OVERHEAD = MAX_HEAD_BYTES * 2 + 4096

Connect = Callable[[int], HostConnection]


def max_body_for_frame(max_frame_bytes: int) -> int:
    """The largest response body whose ``net.fetch`` result fits in one frame."""
    return max(0, (max_frame_bytes - _FRAME_OVERHEAD) * 3 // 4)


def request_headers(params: NetFetchParams) -> list[tuple[str, str]]:
    """The headers as given, plus what HTTP/1.1 needs and the caller left out: Host,
    body framing, and ``Connection: close`` (one request per connection)."""
    headers = [(h.name, h.value) for h in params.headers]
    names = {name.lower() for name, _ in headers}
    if "host" not in names:
        headers.append(("host", f"127.0.0.1:{params.port}"))
    if params.body and not names & {"content-length", "transfer-encoding"}:
        headers.append(("content-length", str(len(params.body))))
    if "connection" not in names:
        headers.append(("connection", "close"))
    return headers


async def fetch(connect: Connect, params: NetFetchParams, *, max_body_bytes: int) -> NetFetchResult:
    """Send ``params`` as one HTTP/1.1 request to the guest port and read the whole
    response. Blocks until the response is complete or ``timeout_ms`` passes.

    Raises:
        RpcError: connection_refused, connection_closed, guest_error, limit_exceeded,
            timeout; invalid_params when h11 refuses the request (a bad header).
    """
    h = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
    try:  # h11 is sans-I/O: the whole request is encoded (and validated) up front
        request = h.send(h11.Request(method=params.method, target=params.path, headers=request_headers(params)))
        if params.body:
            request += h.send(h11.Data(data=params.body))
        request += h.send(h11.EndOfMessage())
    except h11.LocalProtocolError as exc:
        raise RpcError("invalid_params", f"not a valid HTTP request: {exc}") from None
    with trio.move_on_after(params.timeout_ms / 1000) as scope:
        try:
            conn = connect(params.port)
        except KernelError as exc:
            if exc.errno == "ECONNREFUSED":
                raise RpcError("connection_refused", f"nothing listens on port {params.port} in the VM") from None
            raise
        stream = HostStream(conn)
        failure: Exception | None = None
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_send_request, stream, request)
                try:
                    result = await _receive_response(stream, h, max_body_bytes)
                except Exception as exc:  # re-raised below, outside the nursery (no ExceptionGroup)
                    failure = exc
                nursery.cancel_scope.cancel()
        finally:
            stream.close()
        if failure is not None:
            raise failure
        return result
    assert scope.cancelled_caught
    raise RpcError("timeout", f"no complete response from port {params.port} within {params.timeout_ms} ms")


async def _send_request(stream: HostStream, request: bytes) -> None:
    try:
        await stream.send_all(request)
    except trio.BrokenResourceError:
        pass  # the guest stopped reading; what it answers (or not) decides the outcome


async def _receive_response(stream: HostStream, h: h11.Connection, max_body_bytes: int) -> NetFetchResult:
    response: h11.Response | None = None
    body = bytearray()
    at_eof = False
    while True:
        try:
            event = h.next_event()
        except h11.RemoteProtocolError as exc:
            raise _protocol_failure(exc, at_eof) from None
        if event is h11.NEED_DATA:
            try:
                data = await stream.receive_some()
            except trio.BrokenResourceError:
                data = b""
            at_eof = not data
            h.receive_data(data)
        elif isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > max_body_bytes:
                raise RpcError("limit_exceeded", f"the response body is over {max_body_bytes} bytes (bounded by maxFrameBytes)")
        elif isinstance(event, h11.EndOfMessage):
            assert response is not None
            return NetFetchResult(
                status=response.status_code,
                status_text=response.reason.decode("latin-1"),
                headers=[HttpHeader(name=n.decode("latin-1"), value=v.decode("latin-1")) for n, v in response.headers],
                body=bytes(body),
            )
        elif isinstance(event, h11.ConnectionClosed):
            raise RpcError("connection_closed", "the guest closed the connection before responding")
        # InformationalResponse (1xx): the final response follows


def _protocol_failure(exc: h11.RemoteProtocolError, at_eof: bool) -> RpcError:
    if exc.error_status_hint == 431:
        return RpcError("limit_exceeded", f"the response head is over {MAX_HEAD_BYTES} bytes")
    if at_eof:
        return RpcError("connection_closed", "the guest closed the connection before a complete response")
    return RpcError("guest_error", f"the guest's response is not valid HTTP/1.1: {exc}")
