# The tools HTTP API as the guest sees it, served with h11 over one VM-internal
# connection (registry.py accepts it; guest_stream.py moves its bytes).
#
#   GET    /openapi.json         the OpenAPI 3.1 document of the VM's tools
#   POST   /tools/<name>         call a tool (200 output | 202 {jobId} | 400 ...)
#   GET    /jobs/<id>[?wait=N]   a job's state; wait up to N s (<= MAX_WAIT_S) for its end
#   DELETE /jobs/<id>            cancel a job
# Every request needs "Authorization: Bearer <the VM's token>" (401 otherwise).
#
# Bounds: a request head is at most MAX_HEAD_BYTES, a body MAX_BODY_BYTES (413),
# reading one request at most REQUEST_TIMEOUT_S, an idle keep-alive connection is
# closed after IDLE_TIMEOUT_S.  Errors are {"error": {kind, message[, errors]}}.

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import h11
import trio

from .jobs import JobError

if TYPE_CHECKING:
    from .guest_stream import GuestStream
    from .registry import VmTools

__all__ = ["serve_connection"]

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024
REQUEST_TIMEOUT_S = 60.0
IDLE_TIMEOUT_S = 120.0
MAX_WAIT_S = 60.0


async def _next_event(conn: h11.Connection, stream: GuestStream) -> Any:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        try:
            data = await stream.receive_some(65536)
        except trio.BrokenResourceError:
            data = b""
        conn.receive_data(data)


async def _read_request(conn: h11.Connection, stream: GuestStream) -> tuple[h11.Request, bytes] | None:
    """The next request and its body; None at end of stream. Raises: JobError 413."""
    with trio.move_on_after(IDLE_TIMEOUT_S):
        request = await _next_event(conn, stream)
    if not isinstance(request, h11.Request):
        return None
    body = bytearray()
    with trio.fail_after(REQUEST_TIMEOUT_S):
        while True:
            event = await _next_event(conn, stream)
            if isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BODY_BYTES:
                    raise JobError(413, "too_large", f"bodies are at most {MAX_BODY_BYTES} bytes")
            elif isinstance(event, h11.EndOfMessage):
                return request, bytes(body)
            else:
                return None


async def _respond(conn: h11.Connection, stream: GuestStream, status: int, answer: Any) -> None:
    body = json.dumps(answer).encode()
    headers = [("content-type", "application/json"), ("content-length", str(len(body)))]
    if status == 401:
        headers.append(("www-authenticate", "Bearer"))
    data = conn.send(h11.Response(status_code=status, headers=headers)) or b""
    data += conn.send(h11.Data(data=body)) or b""
    data += conn.send(h11.EndOfMessage()) or b""
    await stream.send_all(data)


async def _route(tools: VmTools, request: h11.Request, body: bytes) -> tuple[int, Any]:
    if not tools.authorized(_header(request, b"authorization")):
        raise JobError(401, "unauthorized", "missing or wrong bearer token ($AGENTVM_TOOLS_TOKEN)")
    method = request.method.decode()
    url = urlsplit(request.target.decode("latin-1"))
    parts = [p for p in url.path.split("/") if p]
    if method == "GET" and parts == ["openapi.json"]:
        return 200, tools.openapi()
    if len(parts) == 2 and parts[0] == "tools":
        if method != "POST":
            raise JobError(405, "method_not_allowed", "call a tool with POST")
        return await tools.call(parts[1], body)
    if len(parts) == 2 and parts[0] == "jobs":
        job = tools.jobs.get(parts[1])
        if job is None:
            raise JobError(404, "not_found", f"no job {parts[1]!r} (or it expired)")
        if method == "DELETE":
            job.scope.cancel()
            await job.finished.wait()
            return 200, job.view()
        if method == "GET":
            wait = _wait_seconds(parse_qs(url.query).get("wait", ["0"])[-1])
            with trio.move_on_after(wait):
                await job.finished.wait()
            return 200, job.view()
        raise JobError(405, "method_not_allowed", "jobs take GET or DELETE")
    raise JobError(404, "not_found", f"no route {method} {url.path}")


def _header(request: h11.Request, name: bytes) -> bytes | None:
    for key, value in request.headers:
        if key == name:
            return value
    return None


def _wait_seconds(text: str) -> float:
    try:
        wait = float(text)
    except ValueError:
        raise JobError(400, "invalid_params", "wait must be a number of seconds") from None
    if not 0 <= wait <= MAX_WAIT_S:
        raise JobError(400, "invalid_params", f"wait must be within 0-{MAX_WAIT_S:g} s")
    return wait


async def serve_connection(stream: GuestStream, tools: VmTools) -> None:
    """Answer requests on one connection until the guest closes it (or misbehaves)."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
    while True:
        try:
            read = await _read_request(conn, stream)
            if read is None:
                return
            status, answer = await _route(tools, *read)
        except JobError as exc:
            status, answer = exc.status, exc.body()
        except (h11.RemoteProtocolError, trio.TooSlowError):
            return
        try:
            await _respond(conn, stream, status, answer)
        except (trio.BrokenResourceError, h11.LocalProtocolError):
            return
        if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
            return
        conn.start_next_cycle()
