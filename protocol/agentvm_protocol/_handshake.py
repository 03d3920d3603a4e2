"""The ``hello`` handshake: the first request on every connection."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from ._base import Base
from ._vm import VmLimits

__all__ = ["HelloParams", "HelloResult"]


class HelloParams(Base):
    """Sent first. Any other request before a successful ``hello`` is refused with
    ``not_initialized``; a different ``protocol_version`` gets ``version_mismatch``
    and nothing else is served on that connection."""

    protocol_version: int
    client: Annotated[str, Meta(max_length=200)] = "unknown"


class HelloResult(Base):
    """The sidecar's answer to ``hello``: its versions, frame limit, default VM limits and the methods it serves."""

    protocol_version: int
    sidecar_version: str
    max_frame_bytes: int
    """The largest NDJSON line (in bytes, without the newline) either side may send."""
    default_limits: VmLimits
    methods: list[str]
    """Every method this sidecar serves."""
