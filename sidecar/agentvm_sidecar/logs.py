"""structlog configuration: structured logs go to stderr, never stdout.

stdout carries the protocol, so a stray print would corrupt the wire. Every logger in
the sidecar comes from :func:`get_logger`, configured once by :func:`configure_logging`.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterable
from typing import Any

import structlog

__all__ = ["configure_logging", "forget_redactions", "get_logger", "redact"]

# Secret values (tools/secrets.py) that must never reach a log line, whatever
# logged them (an exception text, a params dump): replaced by REDACTED in every
# string of every event, after exceptions are formatted.
REDACTED = "[redacted]"
_redacted: dict[str, int] = {}  # value -> how many live VMs hold it
_redacted_lock = threading.Lock()


def redact(values: Iterable[str]) -> None:
    """Hide ``values`` from every log line from now on."""
    with _redacted_lock:
        for value in values:
            _redacted[value] = _redacted.get(value, 0) + 1


def forget_redactions(values: Iterable[str]) -> None:
    """Undo one :func:`redact` of ``values``."""
    with _redacted_lock:
        for value in values:
            left = _redacted.get(value, 0) - 1
            if left > 0:
                _redacted[value] = left
            else:
                _redacted.pop(value, None)


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v, secrets) for v in value]
    return value


def _redact_processor(logger: Any, method: str, event_dict: Any) -> Any:
    with _redacted_lock:
        secrets = list(_redacted)
    if not secrets:
        return event_dict
    return _scrub(event_dict, secrets)


def configure_logging(level: str | None = None) -> None:
    """Send JSON logs to stderr at ``level`` (default: $AGENTVM_LOG_LEVEL or warning)."""
    name = (level or os.environ.get("AGENTVM_LOG_LEVEL", "warning")).upper()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _redact_processor,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, name, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """A logger bound to the component ``name``."""
    return structlog.get_logger(component=name)
