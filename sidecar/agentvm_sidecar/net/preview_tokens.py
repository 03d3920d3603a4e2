# Preview tokens: who may reach which guest port, until when.
#
# A token names a VM, a port, an expiry (ms since the epoch) and a random nonce, and
# carries an HMAC-SHA256 over exactly those, keyed by a 32-byte secret that belongs to
# the VM (generated at vm.create, kept in its state so a snapshot/restore can carry it;
# revocations live beside it).  Encoding: base64url(payload) "." base64url(mac), no
# padding, so tokens sit in a URL path as they are.
#
# Checking a token (every preview request, before anything reaches the guest) is:
# well-formed, names a live VM, MAC verifies under that VM's key (constant-time
# compare), not expired, nonce not revoked.  A token of one VM cannot open another
# VM: the VM id is inside the signed payload and the key is per VM.
#
# Revocations are bounded per VM (MAX_REVOCATIONS): expired entries are dropped as
# new ones arrive (an expired token is refused anyway), and a VM whose list is full of
# live revocations refuses more with limit_exceeded rather than forgetting one.

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass, field

import trio

__all__ = ["DEFAULT_TTL_SECONDS", "MAX_REVOCATIONS", "TokenClaims", "TokenError", "VmPreviews", "parse_token"]

DEFAULT_TTL_SECONDS = 3600
MAX_REVOCATIONS = 1024
MAX_TOKEN_CHARS = 512


class TokenError(Exception):
    """A token that is malformed, forged, tampered with, expired or revoked."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("not base64url") from None


@dataclass(frozen=True)
class TokenClaims:
    """What a token says, before it is verified."""

    vm_id: str
    port: int
    expires_at: int
    nonce: str
    payload: bytes
    mac: bytes


def parse_token(token: str) -> TokenClaims:
    """Split a token into its claims. Raises TokenError when malformed (nothing is
    trusted yet: verify with the VM's :meth:`VmPreviews.verify`)."""
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise TokenError("malformed token")
    payload_text, mac_text = token.split(".")
    payload, mac = _unb64(payload_text), _unb64(mac_text)
    try:
        vm_id, port, expires_at, nonce = payload.decode("ascii").rsplit(":", 3)
        return TokenClaims(vm_id, int(port), int(expires_at), nonce, payload, mac)
    except (UnicodeDecodeError, ValueError):
        raise TokenError("malformed token") from None


@dataclass(eq=False)
class VmPreviews:
    """A VM's preview state: its signing key, its revoked tokens (nonce -> expiry), and
    the proxied connections in flight (cancelled when the VM is disposed)."""

    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    revoked: dict[str, int] = field(default_factory=dict)
    _live: set[trio.CancelScope] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def sign(self, vm_id: str, port: int, expires_at: int) -> str:
        """A token for ``port`` of this VM until ``expires_at`` (ms since the epoch)."""
        payload = f"{vm_id}:{port}:{expires_at}:{secrets.token_hex(8)}".encode("ascii")
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self.key, payload, hashlib.sha256).digest()

    def signed(self, claims: TokenClaims) -> bool:
        """Whether this VM's key signed exactly these claims (constant-time compare)."""
        return hmac.compare_digest(self._mac(claims.payload), claims.mac)

    def verify(self, claims: TokenClaims, now_ms: int) -> None:
        """Raises TokenError unless this VM signed ``claims`` and they are still valid."""
        if not self.signed(claims):
            raise TokenError("bad signature")
        if now_ms >= claims.expires_at:
            raise TokenError("expired")
        with self._lock:
            if claims.nonce in self.revoked:
                raise TokenError("revoked")

    def revoke(self, claims: TokenClaims, now_ms: int) -> bool:
        """Refuse this (verified) token from now on. Returns False when the list is full
        of live revocations (the caller reports limit_exceeded)."""
        if now_ms >= claims.expires_at:
            return True  # refused anyway
        with self._lock:
            if len(self.revoked) >= MAX_REVOCATIONS:
                self.revoked = {n: exp for n, exp in self.revoked.items() if exp > now_ms}
            if len(self.revoked) >= MAX_REVOCATIONS and claims.nonce not in self.revoked:
                return False
            self.revoked[claims.nonce] = claims.expires_at
            return True

    # -- live proxied connections (trio side only) ----------------------------------
    def track(self, scope: trio.CancelScope) -> None:
        self._live.add(scope)

    def untrack(self, scope: trio.CancelScope) -> None:
        self._live.discard(scope)

    @property
    def live_connections(self) -> int:
        return len(self._live)

    def close(self) -> None:
        """Cancel every proxied connection to this VM (on dispose)."""
        for scope in list(self._live):
            scope.cancel()
