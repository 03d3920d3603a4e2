"""Preview URLs when VMs run in worker processes.

The router serves the one preview address the client asked for. Each request on it
(a browser's keep-alive connection may carry tokens of VMs in different workers) is
passed on, on a fresh local connection, to the preview server of the worker that
runs the token's VM: that worker checks the token (signature, expiry, revocation)
and proxies to the guest exactly as one sidecar does, so the router needs no key
and decides nothing but where a request goes. A token the router cannot place (not
a token, or its VM unknown here) gets the 403 every refused token gets.

Each worker's preview server listens on 127.0.0.1 at a free port, started by the
router's first ``preview.start``; it is reachable by local processes, as the
router's own address is, and refuses whatever has no valid token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import msgspec
import trio

from agentvm_protocol import PreviewCreateUrlResult, PreviewStartParams, PreviewStartResult

from ..net.preview import Opened, PreviewServer, Refused, claims_of, split_target
from ..net.preview_tokens import TokenError, parse_token
from ..rpc.errors import RpcError

if TYPE_CHECKING:
    from .router import Router

__all__ = ["RouterPreviews"]

_start_worker = msgspec.json.encode(PreviewStartParams(host="127.0.0.1", port=0))
_started_decoder = msgspec.json.Decoder(PreviewStartResult)
_created_decoder = msgspec.json.Decoder(PreviewCreateUrlResult)


class RouterPreviews:
    """The router's preview server and the preview.* requests."""

    def __init__(self, router: Router, nursery: trio.Nursery) -> None:
        self._router = router
        self.server = PreviewServer(nursery, self)

    async def start(self, host: str, port: int) -> str:
        """The router's server on ``host:port`` (as PreviewServer.start), and every
        live worker's on a free local port. Raises: RpcError, ForwardedError."""
        url_base = await self.server.start(host, port)
        for link in self._router.live():
            if link.preview_port is None:
                started = _started_decoder.decode(await link.call("preview.start", msgspec.Raw(_start_worker)))
                link.preview_port = urlsplit(started.url_base).port
        return url_base

    async def create_url(self, params: msgspec.Raw) -> PreviewCreateUrlResult:
        """The owning worker mints it (``unavailable`` until ``preview.start``);
        its URL is under the router's address."""
        raw = await self._router.vm_owner("preview.createUrl", params).call("preview.createUrl", params)
        created = _created_decoder.decode(raw)
        assert self.server.url_base is not None  # the worker's server runs only once the router's does
        return msgspec.structs.replace(created, url=self.server.url_base + created.path)

    async def revoke(self, token: str, params: msgspec.Raw) -> msgspec.Raw:
        """Passed to the worker running the token's VM, which checks it."""
        claims = claims_of(token)
        link = self._router.vm_link(claims.vm_id)
        if link is None:
            raise RpcError("not_found", f"no VM {claims.vm_id!r}")
        return await link.call("preview.revoke", params)

    # -- the Upstream of the router's server (net/preview.py) ---------------------------
    async def open(self, target: bytes, scope: trio.CancelScope) -> Opened | Refused:
        token, _ = split_target(target)
        try:
            link = self._router.vm_link(parse_token(token).vm_id)
        except TokenError:
            link = None
        if link is None or not link.alive or link.preview_port is None:
            await trio.lowlevel.checkpoint()
            return Refused(403, "forbidden")
        try:
            stream = await trio.open_tcp_stream("127.0.0.1", link.preview_port)
        except OSError:
            return Refused(502, "the VM's worker process does not answer")
        return Opened(stream, target, stream.socket.close)
