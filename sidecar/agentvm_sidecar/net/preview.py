# The preview server: guest ports served over HTTP on a host address, behind tokens.
#
# One per sidecar, started by `--preview HOST:PORT` or `preview.start`, living in the
# server's nursery.  Each accepted connection speaks HTTP/1.1 through h11 (keep-alive:
# requests follow one another on it).  A request for `/<token>/<path>` is checked
# (preview_tokens.py) before anything else happens: a bad token gets 403 and the
# connection is closed, the guest never hears of it.  A good one opens a fresh
# VM-loopback connection to the token's port (kernel.sockets.connect_from_host) and
# proxies: request body to the guest and response back, both streamed through their
# own h11 connections, so a chunked or endless response flows as the guest writes it.
# Hop-by-hop headers (RFC 9110 7.6.1) are not forwarded; h11 re-frames each side
# (a guest response without Content-Length reaches an HTTP/1.1 browser chunked).
#
# Bounds, because both the browser and the guest are untrusted here:
#   MAX_CONNECTIONS inbound connections (more are closed at once), MAX_PER_VM
#   proxied at a time per VM (503 beyond), request/response heads MAX_HEAD_BYTES
#   (h11's max_incomplete_event_size), a whole request head within HEAD_SECONDS,
#   and IDLE_SECONDS for any single read or write on either side and between
#   keep-alive requests; after an error answer, at most LINGER_BYTES / LINGER_SECONDS
#   are read and dropped before closing.  vm.dispose cancels that VM's proxied connections.
#
# WebSocket (any Upgrade): the offer is passed on to the guest; when it answers 101,
# the 101 goes back to the browser and both connections become a raw byte tunnel,
# each direction bounded by IDLE_SECONDS, until both sides have closed.
# XX: an idle WebSocket is closed after IDLE_SECONDS without a frame either way.

from __future__ import annotations

import errno
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, Protocol

import h11
import trio

from agentvm_protocol import PreviewCreateUrlResult

from ..kernel.errors import KernelError
from ..logs import get_logger
from ..rpc.errors import RpcError
from .fetch import MAX_HEAD_BYTES
from .host_stream import HostStream
from .preview_tokens import DEFAULT_TTL_SECONDS, TokenClaims, TokenError, parse_token

if TYPE_CHECKING:
    from ..vms import Vm, VmRegistry

__all__ = [
    "HEAD_SECONDS", "IDLE_SECONDS", "MAX_CONNECTIONS", "MAX_PER_VM", "GuestUpstream", "Opened", "PreviewServer", "Refused",
    "Upstream", "claims_of", "revoke", "split_target",
]

log = get_logger("preview")

MAX_CONNECTIONS = 256
MAX_PER_VM = 64
HEAD_SECONDS = 30.0
IDLE_SECONDS = 60.0
LINGER_SECONDS = 2.0
LINGER_BYTES = 1024 * 1024

HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"proxy-authenticate", b"proxy-authorization", b"te", b"trailer", b"transfer-encoding", b"upgrade"}
)


def now_ms() -> int:
    return int(time.time() * 1000)


def forwardable(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """End-to-end headers only: hop-by-hop ones and those a Connection header names
    belong to one hop (RFC 9110 7.6.1)."""
    named = {token.strip().lower() for name, value in headers if name == b"connection" for token in value.split(b",")}
    return [(name, value) for name, value in headers if name not in HOP_BY_HOP and name not in named]


def upgrade_of(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The protocol a message offers or accepts with ``Upgrade`` (``websocket``)."""
    return next((value for name, value in headers if name == b"upgrade"), None)


async def _copy(source: trio.abc.ReceiveStream, sink: trio.abc.HalfCloseableStream, first: bytes) -> None:
    """One direction of a switched-protocol tunnel, each read and write bounded by
    IDLE_SECONDS; ends with a half-close of ``sink``."""
    try:
        data = first
        while True:
            if data:
                with trio.fail_after(IDLE_SECONDS):
                    await sink.send_all(data)
            with trio.fail_after(IDLE_SECONDS):
                data = await source.receive_some()
            if not data:
                await sink.send_eof()
                return
    except (trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError):
        return


def is_chunked(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(name == b"transfer-encoding" and b"chunked" in value.lower() for name, value in headers)


class _Abort(Exception):
    """Ends an inbound connection without another response (mid-response failure)."""


async def _send_to_guest(guest: trio.abc.HalfCloseableStream, data: bytes) -> None:
    with trio.fail_after(IDLE_SECONDS):
        await guest.send_all(data)


class Refused(NamedTuple):
    """An error answer instead of a proxied request (the connection then closes)."""

    status: int
    reason: str


class Opened(NamedTuple):
    """Where one request goes: a fresh connection, the target to ask it for, and
    what to do once the request is done (close it, stop tracking it)."""

    stream: trio.abc.HalfCloseableStream
    target: bytes
    done: Callable[[], None]


class Upstream(Protocol):
    """What a preview request is proxied to, chosen by its token."""

    async def open(self, target: bytes, scope: trio.CancelScope) -> Opened | Refused:
        """The connection for a request for ``target`` (``/<token>/<path>``), or the
        answer that refuses it; ``scope`` is the request's (cancelling it ends it)."""
        ...


def claims_of(token: str) -> TokenClaims:
    """What ``token`` says (not checked yet). Raises: RpcError invalid_params."""
    try:
        return parse_token(token)
    except TokenError:
        raise RpcError("invalid_params", "not a preview token") from None


def revoke(vms: VmRegistry, token: str) -> None:
    """Refuse ``token`` from now on. Raises RpcError: invalid_params (not signed
    here), not_found (its VM is gone), limit_exceeded (too many live revocations)."""
    claims = claims_of(token)
    vm = vms.get(claims.vm_id)
    if not vm.previews.signed(claims):
        raise RpcError("invalid_params", "not a preview token of this VM")
    if not vm.previews.revoke(claims, now_ms()):
        raise RpcError("limit_exceeded", "this VM has too many live revoked preview tokens")


def split_target(target: bytes) -> tuple[str, bytes]:
    """(token, the target the guest is asked for) of ``/<token>/<path>``."""
    token, _, rest = target.decode("ascii").removeprefix("/").partition("/")
    token, _, query = token.partition("?")
    return token, ("/" + rest if rest or not query else "/?" + query).encode("ascii")


class GuestUpstream:
    """A sidecar's own VMs: a token checked against its VM's key and revocations,
    then a fresh VM-loopback connection to the token's port."""

    def __init__(self, vms: VmRegistry) -> None:
        self._vms = vms

    async def open(self, target: bytes, scope: trio.CancelScope) -> Opened | Refused:
        await trio.lowlevel.checkpoint()
        token, guest_target = split_target(target)
        try:
            claims = parse_token(token)
            vm = self._vms.get(claims.vm_id)
            vm.previews.verify(claims, now_ms())
        except (TokenError, RpcError) as exc:
            log.debug("preview_refused", reason=str(exc))
            return Refused(403, "forbidden")
        if vm.previews.live_connections >= MAX_PER_VM:
            return Refused(503, "too many preview connections to this VM")
        try:
            conn = vm.kernel.sockets.connect_from_host(claims.port)
        except KernelError as exc:
            return Refused(502, f"nothing listens on port {claims.port} in the VM" if exc.errno == "ECONNREFUSED" else exc.errno)
        guest = HostStream(conn)
        vm.previews.track(scope)

        def done() -> None:
            guest.close()
            vm.previews.untrack(scope)

        return Opened(guest, guest_target, done)


class PreviewServer:
    """The preview HTTP server: one host address, each request proxied where
    ``upstream`` says; and the preview URLs minted under that address."""

    def __init__(self, nursery: trio.Nursery, upstream: Upstream) -> None:
        self._upstream = upstream
        self._nursery = nursery
        self.url_base: str | None = None
        self._port: int | None = None
        self._starting = trio.Lock()  # two concurrent preview.start calls make one server
        self._connections = 0

    @classmethod
    def for_vms(cls, vms: VmRegistry, nursery: trio.Nursery) -> PreviewServer:
        """A sidecar's own preview server, proxying to its VMs."""
        return cls(nursery, GuestUpstream(vms))

    # -- preview.* ----------------------------------------------------------------------
    async def start(self, host: str, port: int) -> str:
        """Listen on ``host:port`` (0: any free port) and return the URL base; when
        already listening, return its URL base (``already_exists`` for another fixed port)."""
        async with self._starting:
            if self.url_base is None:
                return await self._nursery.start(self._serve, host, port)
        if port not in (0, self._port):
            raise RpcError("already_exists", f"the preview server already listens at {self.url_base}")
        return self.url_base

    def create_url(self, vm: Vm, port: int, ttl_seconds: int) -> PreviewCreateUrlResult:
        """Mint a signed URL for ``port`` of ``vm`` (ttl 0: DEFAULT_TTL_SECONDS)."""
        if self.url_base is None:
            raise RpcError("unavailable", "no preview server runs: call preview.start or pass --preview")
        expires_at = now_ms() + 1000 * (ttl_seconds or DEFAULT_TTL_SECONDS)
        token = vm.previews.sign(vm.vm_id, port, expires_at)
        path = f"/{token}/"
        return PreviewCreateUrlResult(url=self.url_base + path, path=path, token=token, expires_at=expires_at)

    # -- the server -----------------------------------------------------------------------
    async def _serve(self, host: str, port: int, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            listeners = await trio.open_tcp_listeners(port, host=host)
        except OSError as exc:
            raise RpcError("os_error", f"cannot listen on {host}:{port}: {exc.strerror}", errno=errno.errorcode.get(exc.errno or 0)) from None
        self._port = listeners[0].socket.getsockname()[1]
        self.url_base = f"http://{f'[{host}]' if ':' in host else host}:{self._port}"
        log.info("preview_started", url_base=self.url_base)
        task_status.started(self.url_base)
        await trio.serve_listeners(self._handle, listeners)

    async def _handle(self, stream: trio.SocketStream) -> None:
        async with stream:
            if self._connections >= MAX_CONNECTIONS:
                return
            self._connections += 1
            try:
                await _serve_inbound(self._upstream, stream)
            except Exception:  # a bug here must cost one connection, never the sidecar
                log.exception("preview_connection_failed")
            finally:
                self._connections -= 1


async def _serve_inbound(upstream: Upstream, stream: trio.SocketStream) -> None:
    try:
        await _Inbound(upstream, stream).serve()
    except* (_Abort, trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError):
        pass  # the connection ends; the other side sees it closed


class _Inbound:
    """One browser-side connection: requests in turn, each checked and proxied."""

    def __init__(self, upstream: Upstream, stream: trio.SocketStream) -> None:
        self._upstream = upstream
        self._stream = stream
        self._h = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)

    async def serve(self) -> None:
        while True:
            with trio.move_on_after(HEAD_SECONDS):
                request = await self._next_request()
            if not isinstance(request, h11.Request):
                return
            with trio.CancelScope() as scope:
                await self._answer(request, scope)
            if scope.cancelled_caught or self._h.our_state is not h11.DONE or self._h.their_state is not h11.DONE:
                return
            self._h.start_next_cycle()

    async def _next_request(self) -> h11.Request | None:
        while True:
            try:
                event = self._h.next_event()
            except h11.RemoteProtocolError as exc:
                await self._refuse(exc.error_status_hint, "bad request")
                return None
            if event is h11.NEED_DATA:
                self._h.receive_data(await self._stream.receive_some())
            elif isinstance(event, h11.Request):
                return event
            else:  # ConnectionClosed
                return None

    async def _answer(self, request: h11.Request, scope: trio.CancelScope) -> None:
        opened = await self._upstream.open(request.target, scope)
        if isinstance(opened, Refused):
            await self._refuse(opened.status, opened.reason)
            return
        try:
            await self._proxy(opened.stream, request, opened.target)
        finally:
            opened.done()

    async def _proxy(self, guest: trio.abc.HalfCloseableStream, request: h11.Request, target: bytes) -> None:
        g = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        upgrade = upgrade_of(list(request.headers))
        headers = forwardable(list(request.headers))
        if is_chunked(list(request.headers)):
            headers.append((b"transfer-encoding", b"chunked"))
        if upgrade is not None:  # offered on to the guest (WebSocket)
            headers += [(b"upgrade", upgrade), (b"connection", b"upgrade")]
        else:
            headers.append((b"connection", b"close"))  # one request per guest connection
        head = g.send(h11.Request(method=request.method, target=target, headers=headers, http_version="1.1"))
        if upgrade is not None:
            # An upgrade request has no body. Both h11 connections must see the
            # request end before a 101 arrives, so that happens here, before any I/O.
            if not isinstance(self._h.next_event(), h11.EndOfMessage):
                await self._refuse(400, "an upgrade request has no body")
                return
            head += g.send(h11.EndOfMessage())
        async with trio.open_nursery() as nursery:
            if upgrade is None:
                nursery.start_soon(self._pump_request_body, g, guest, head)
            else:
                await _send_to_guest(guest, head)
            switched = await self._pump_response(g, guest)
            nursery.cancel_scope.cancel()
        self._discard_buffered_request_end()
        if switched:
            await self._tunnel(g, guest)

    def _discard_buffered_request_end(self) -> None:
        """The response is done; if the rest of the request is already buffered (a GET's
        end of message), consume it so the connection can serve the next request."""
        while self._h.their_state is h11.SEND_BODY:
            try:
                event = self._h.next_event()
            except h11.RemoteProtocolError:
                return
            if not isinstance(event, h11.Data | h11.EndOfMessage):
                return

    async def _pump_request_body(self, g: h11.Connection, guest: trio.abc.HalfCloseableStream, head: bytes) -> None:
        try:
            await _send_to_guest(guest, head)
            while True:
                try:
                    with trio.fail_after(IDLE_SECONDS):
                        event = await self._next_body_event()
                except (h11.RemoteProtocolError, trio.TooSlowError):
                    raise _Abort from None  # the browser's body went wrong: end its connection
                await _send_to_guest(guest, g.send(event))
                if isinstance(event, h11.EndOfMessage):
                    return
        except (trio.BrokenResourceError, trio.TooSlowError):
            return  # the guest stopped reading: its response (or its absence) decides

    async def _next_body_event(self) -> h11.Data | h11.EndOfMessage:
        while True:
            event = self._h.next_event()
            if event is h11.NEED_DATA:
                self._h.receive_data(await self._stream.receive_some())
            elif isinstance(event, h11.Data | h11.EndOfMessage):
                return event
            else:
                raise h11.RemoteProtocolError("connection closed mid-body")

    async def _pump_response(self, g: h11.Connection, guest: trio.abc.HalfCloseableStream) -> bool:
        """Forward the guest's response; True when it switched protocols (101)."""
        started = False
        while True:
            try:
                event = g.next_event()
                if event is h11.NEED_DATA:
                    with trio.fail_after(IDLE_SECONDS):
                        try:
                            data = await guest.receive_some()
                        except trio.BrokenResourceError:
                            data = b""
                    g.receive_data(data)
                    continue
            except (h11.RemoteProtocolError, trio.TooSlowError) as exc:
                if started:
                    raise _Abort from None
                status = 504 if isinstance(exc, trio.TooSlowError) else 502
                await self._refuse(status, "the guest did not send a complete HTTP response")
                return False
            if event is h11.PAUSED:  # the guest accepted the upgrade: bytes follow, not HTTP
                return True
            if isinstance(event, h11.InformationalResponse) and event.status_code == 101:
                headers = forwardable(list(event.headers)) + [(b"upgrade", upgrade_of(list(event.headers)) or b""), (b"connection", b"upgrade")]
                await self._send(h11.InformationalResponse(status_code=101, headers=headers, reason=event.reason))
                started = True
            elif isinstance(event, h11.Response):
                headers = forwardable(list(event.headers))
                await self._send(h11.Response(status_code=event.status_code, headers=headers, reason=event.reason))
                started = True
            elif isinstance(event, h11.Data):
                await self._send(h11.Data(data=event.data))
            elif isinstance(event, h11.EndOfMessage):
                await self._send(h11.EndOfMessage())
                return False
            elif isinstance(event, h11.ConnectionClosed):
                if started:
                    raise _Abort
                await self._refuse(502, "the guest closed the connection without responding")
                return False

    async def _tunnel(self, g: h11.Connection, guest: trio.abc.HalfCloseableStream) -> None:
        """After a 101: copy raw bytes both ways (each direction ends with a half-close)
        until both are done; the browser connection then closes."""
        browser_early, _ = self._h.trailing_data
        guest_early, _ = g.trailing_data
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_copy, self._stream, guest, browser_early)
            nursery.start_soon(_copy, guest, self._stream, guest_early)
        raise _Abort  # no more HTTP on this connection

    async def _send(self, event: h11.Event) -> None:
        """Send one event to the browser, bounded by IDLE_SECONDS."""
        with trio.fail_after(IDLE_SECONDS):
            await self._stream.send_all(self._h.send(event))

    async def _refuse(self, status: int, reason: str) -> None:
        """Answer an error and close the connection (whatever of the request is unread
        stays unread). Nothing to do when a response already started."""
        if self._h.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            raise _Abort
        body = (reason + "\n").encode()
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
        await self._send(h11.Response(status_code=status, headers=headers))
        await self._send(h11.Data(data=body))
        await self._send(h11.EndOfMessage())
        await self._linger()

    async def _linger(self) -> None:
        """Half-close, then read and drop what the browser still sends (bounded), so
        closing with unread input does not reset the connection before the browser
        has read our answer."""
        await self._stream.send_eof()
        dropped = 0
        with trio.move_on_after(LINGER_SECONDS):
            while dropped < LINGER_BYTES:
                data = await self._stream.receive_some()
                if not data:
                    break
                dropped += len(data)
