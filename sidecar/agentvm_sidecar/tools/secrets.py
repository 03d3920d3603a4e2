# Secrets that never enter the VM.
#
# The guest holds only a placeholder, "agentvm-secret:<name>" (in the env variable
# the client named).  Because the sidecar makes every outbound connection and does
# TLS itself (net/outbound.py), it sees the guest's requests in plaintext: the
# socket table asks `SecretRules.filter_for(host, port)` for a filter per outbound
# connection, and every byte the guest sends passes through it before TLS.
#
#   * To a host matching one or more secrets' patterns (the egress-rule pattern
#     syntax of net/policy.py), the stream is parsed as HTTP/1.1 requests with h11
#     (a SERVER-role parser, one per request so keep-alive and pipelining work) and
#     re-encoded (a CLIENT-role encoder): a header named by a secret whose value
#     contains its placeholder gets the formatted real value instead.  A stream
#     that is not HTTP/1.1 cannot be rewritten and is refused (EPROTO).
#     Each request's exchange is followed on the way back (the CLIENT-role encoder
#     that sent it parses the response), so the audit entry of a request that had a
#     secret injected carries the response status and the time to it; one whose
#     connection closes first is audited "no_response".
#   * Any placeholder of a secret whose patterns do NOT match the host, anywhere in
#     the stream (split across sends or not), refuses the connection (EACCES), so
#     a guest cannot learn where a secret would go by sending it elsewhere.
#
# The value lives in sidecar memory only: never in the env, the filesystem or the
# logs (logs.py redacts every registered value from every log line).

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import h11

from agentvm_protocol import SecretConfig

from ..kernel.errors import KernelError
from ..logs import forget_redactions, get_logger, redact
from ..net.policy import Pattern, parse_pattern
from .audit import AuditLog

__all__ = ["PLACEHOLDER_PREFIX", "Secret", "SecretRules", "placeholder"]

PLACEHOLDER_PREFIX = "agentvm-secret:"
MAX_REQUEST_HEAD_BYTES = 64 * 1024
MAX_TRACKED_EXCHANGES = 64  # requests awaiting responses; beyond, responses go unobserved

log = get_logger("secrets")


def placeholder(name: str) -> str:
    """What the guest sees instead of secret ``name``."""
    return PLACEHOLDER_PREFIX + name


@dataclass(frozen=True)
class Secret:
    name: str
    value: str
    patterns: tuple[Pattern, ...]
    header: bytes  # lowercase
    format: str
    env: str | None

    @property
    def placeholder(self) -> bytes:
        return placeholder(self.name).encode()

    def applies(self, host: str, port: int) -> bool:
        return any(p.matches(host, port) for p in self.patterns)

    def header_value(self) -> bytes:
        return self.format.replace("{value}", self.value).encode()

    def __repr__(self) -> str:  # never the value, even in a traceback
        return f"Secret({self.name!r})"


class SecretRules:
    """A VM's secrets. Immutable after construction."""

    def __init__(self, secrets: list[Secret], audit: AuditLog) -> None:
        self._secrets = secrets
        self._audit = audit
        redact(s.value for s in secrets)

    @classmethod
    def build(cls, configs: list[SecretConfig], audit: AuditLog) -> SecretRules:
        """Raises: ValueError (a malformed host pattern, or a duplicate name)."""
        names = [c.name for c in configs]
        if len(set(names)) != len(names):
            raise ValueError("secret names must be unique")
        secrets = [
            Secret(c.name, c.value, tuple(parse_pattern(h) for h in c.hosts), c.header.lower().encode(), c.format, c.env)
            for c in configs
        ]
        return cls(secrets, audit)

    def env(self) -> dict[str, str]:
        """Env variable -> placeholder, for every secret that names a variable."""
        return {s.env: placeholder(s.name) for s in self._secrets if s.env}

    def close(self) -> None:
        """The VM is gone: its values no longer need redacting."""
        forget_redactions(s.value for s in self._secrets)

    def filter_for(self, host: str, port: int) -> _RequestRewriter | None:
        """The filter of an outbound connection to ``host:port`` (None: no secrets)."""
        if not self._secrets:
            return None
        applicable = [s for s in self._secrets if s.applies(host, port)]
        foreign = [s for s in self._secrets if s not in applicable]
        return _RequestRewriter(host, applicable, foreign, self._audit)


def _new_parser() -> h11.Connection:
    return h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES)


@dataclass(eq=False)
class _Exchange:
    """One request sent on, awaiting its response."""

    encoder: h11.Connection
    secrets: list[str]
    started: float = field(default_factory=time.monotonic)
    status: int | None = None


class _RequestRewriter:
    """The filter (net/outbound.StreamFilter) of one outbound connection (see the
    module comment)."""

    def __init__(self, host: str, applicable: list[Secret], foreign: list[Secret], audit: AuditLog) -> None:
        self._host = host
        self._applicable = applicable
        self._foreign = [s.placeholder for s in foreign]
        self._keep = max((len(p) for p in self._foreign), default=1) - 1
        self._tail = b""
        self._audit = audit
        self._parser = _new_parser()
        self._encoder = h11.Connection(h11.CLIENT)
        self._exchanges: deque[_Exchange] = deque()
        self._observing = True

    def outgoing(self, data: bytes) -> bytes:
        self._refuse_foreign(data)
        if not self._applicable:
            return data
        self._parser.receive_data(data)
        out = bytearray()
        while True:
            try:
                event = self._parser.next_event()
            except h11.RemoteProtocolError:
                log.warning("secret_request_refused", host=self._host, reason="not_http")
                self._audit.record("secret", self._host, "refused")
                raise KernelError("EPROTO", "requests to a secret's host must be HTTP/1.1") from None
            if event is h11.NEED_DATA:
                return bytes(out)
            if event is h11.PAUSED:  # one request done: the next one starts afresh
                leftover, _ = self._parser.trailing_data
                self._parser, self._encoder = _new_parser(), h11.Connection(h11.CLIENT)
                self._parser.receive_data(leftover)
                continue
            if isinstance(event, h11.ConnectionClosed):
                return bytes(out)
            if isinstance(event, h11.Request):
                event, injected = self._inject(event)
                self._track(_Exchange(self._encoder, injected))
            out += self._encoder.send(event) or b""

    def _refuse_foreign(self, data: bytes) -> None:
        if not self._foreign:
            return
        window = self._tail + data
        for token in self._foreign:
            if token in window:
                name = token.decode()[len(PLACEHOLDER_PREFIX):]
                log.warning("secret_request_refused", host=self._host, secret=name, reason="host_not_allowed")
                self._audit.record("secret", self._host, "refused", secret=name)
                raise KernelError.eacces(message=f"secret {name!r} may not be sent to {self._host}")
        self._tail = window[-self._keep:] if self._keep else b""

    def _track(self, exchange: _Exchange) -> None:
        if len(self._exchanges) >= MAX_TRACKED_EXCHANGES:
            self._observing = False
        if self._observing:
            self._exchanges.append(exchange)
        else:
            self._audit_exchange(exchange, "unobserved")

    def incoming(self, data: bytes) -> None:
        """Follow responses, in request order, to audit their status."""
        while self._observing and self._exchanges and data:
            exchange = self._exchanges[0]
            exchange.encoder.receive_data(data)
            data = b""
            while True:
                try:
                    event = exchange.encoder.next_event()
                except h11.ProtocolError:
                    self._observing = False
                    self.closed()
                    return
                if event is h11.NEED_DATA:
                    break
                if isinstance(event, h11.Response):
                    exchange.status = event.status_code
                    self._audit_exchange(exchange, str(event.status_code))
                elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)) or event is h11.PAUSED:
                    self._exchanges.popleft()
                    data = exchange.encoder.trailing_data[0]
                    break

    def closed(self) -> None:
        """Requests still without a response are audited as such."""
        while self._exchanges:
            exchange = self._exchanges.popleft()
            if exchange.status is None:
                self._audit_exchange(exchange, "no_response")

    def _audit_exchange(self, exchange: _Exchange, status: str) -> None:
        duration_ms = int((time.monotonic() - exchange.started) * 1000)
        for name in exchange.secrets:
            self._audit.record("secret", self._host, status, duration_ms, secret=name)

    def _inject(self, request: h11.Request) -> tuple[h11.Request, list[str]]:
        headers = []
        injected = []
        for name, value in request.headers.raw_items():
            for secret in self._applicable:
                if name.lower() == secret.header and secret.placeholder in value:
                    value = secret.header_value()
                    injected.append(secret.name)
            headers.append((name, value))
        if not injected:
            return request, []
        log.info("secret_injected", host=self._host, secrets=injected)
        return h11.Request(method=request.method, target=request.target, headers=headers), injected
