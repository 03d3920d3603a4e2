"""Preview URLs: guest ports served over HTTP on a host address, behind signed tokens.

The sidecar runs at most one preview HTTP server (started by ``--preview HOST:PORT``
or ``preview.start``). ``preview.createUrl`` mints a token for one VM port; requests to
``<urlBase>/<token>/<path>`` are proxied to ``<path>`` on that port. The token is
HMAC-SHA256-signed with a key that belongs to the VM, names the VM, the port and the
expiry, and is checked on every request: an expired, revoked, forged or altered
token is answered 403 before anything reaches the guest.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from ._base import Base, Empty
from ._fetch import Port
from ._vm import VmId

__all__ = [
    "PreviewCreateUrlParams",
    "PreviewCreateUrlResult",
    "PreviewRevokeParams",
    "PreviewRevokeResult",
    "PreviewStartParams",
    "PreviewStartResult",
]

PreviewToken = Annotated[str, Meta(min_length=1, max_length=512, description="A token from preview.createUrl.")]


class PreviewStartParams(Base):
    """Start the sidecar's preview HTTP server on ``host``:``port`` (0 picks a free
    port). There is one per sidecar: when it already runs, this answers its address,
    unless another fixed ``port`` is asked for (``already_exists``)."""

    host: Annotated[str, Meta(min_length=1, max_length=255)] = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535)] = 0


class PreviewStartResult(Base):
    """Where the preview server listens, as an URL prefix without a trailing slash (``http://127.0.0.1:41234``)."""

    url_base: str


class PreviewCreateUrlParams(Base):
    """Mint a preview URL for ``port`` of a VM, valid for ``ttl_seconds`` (omitted or
    0: one hour). Fails with ``unavailable`` when no preview server runs."""

    vm_id: VmId
    port: Port
    ttl_seconds: Annotated[int, Meta(ge=0, le=10 * 365 * 86400)] = 0


class PreviewCreateUrlResult(Base):
    """A signed preview URL: ``url`` = the server's ``urlBase`` + ``path``; ``path``
    is ``/<token>/``; append the guest path to either."""

    url: str
    path: str
    token: str
    expires_at: int
    """Expiry in milliseconds since the Unix epoch."""


class PreviewRevokeParams(Base):
    """Revoke a preview token of a live VM at once: later requests with it get 403.
    Revoking twice, or revoking an expired token, succeeds. A token this sidecar did
    not sign is ``invalid_params``; one of an unknown VM is ``not_found``."""

    token: PreviewToken


PreviewRevokeResult = Empty
