"""``net.fetch``: one HTTP/1.1 request to a port a guest listens on, as one wire request.

The sidecar connects to the guest's VM-loopback listener from the host side, writes the
request and parses the response with h11, and answers with the whole response. Headers
are lists of name/value pairs, not maps, because HTTP repeats some (``Set-Cookie``).
Bodies are bytes (base64 on the wire), so the response must fit in one frame: a body
that would not fails with ``limit_exceeded`` instead of being truncated.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from ._base import Base
from ._vm import VmId

__all__ = ["HttpHeader", "NetFetchParams", "NetFetchResult", "Port"]

Port = Annotated[int, Meta(ge=1, le=65535, description="A TCP port, 1-65535.")]
# RFC 9110 5.6.2: a method is a token. Validated here so a bad one is invalid_params.
HttpMethod = Annotated[str, Meta(min_length=1, max_length=32, pattern="^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")]
HttpTarget = Annotated[
    str, Meta(min_length=1, max_length=8192, pattern="^/[\\x21-\\x7e]*$", description="An origin-form request target: a path starting with '/', with an optional query.")
]


class HttpHeader(Base):
    """One HTTP header field. Names and values are sent as given (values as Latin-1
    text, which covers every byte HTTP allows) and arrive as the peer sent them."""

    name: Annotated[str, Meta(min_length=1, max_length=256)]
    value: Annotated[str, Meta(max_length=16384)]


class NetFetchParams(Base):
    """Send one HTTP/1.1 request to a guest listening on VM-loopback ``port`` and wait
    for the whole response.

    ``Host`` defaults to ``127.0.0.1:<port>``; ``Content-Length`` is added for a body
    unless the headers frame it; the connection is closed after the response.

    Errors: ``connection_refused`` when nothing listens on the port;
    ``connection_closed`` when the guest closes before a complete response;
    ``guest_error`` when its response is not valid HTTP/1.1; ``timeout`` when no
    complete response arrived within ``timeout_ms``; ``limit_exceeded`` when the
    response body (or its head) is too large for one frame (see ``maxFrameBytes``)."""

    vm_id: VmId
    port: Port
    method: HttpMethod = "GET"
    path: HttpTarget = "/"
    headers: Annotated[list[HttpHeader], Meta(max_length=256)] = []
    body: bytes = b""
    timeout_ms: Annotated[int, Meta(ge=1, le=600_000)] = 30_000


class NetFetchResult(Base):
    """The guest's response: status line, headers in order (repeats kept), full body."""

    status: int
    status_text: str
    headers: list[HttpHeader]
    body: bytes
