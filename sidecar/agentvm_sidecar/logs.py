"""structlog configuration: structured logs go to stderr, never stdout.

stdout carries the protocol, so a stray print would corrupt the wire. Every logger in
the sidecar comes from :func:`get_logger`, configured once by :func:`configure_logging`.
"""

from __future__ import annotations

import logging
import os
import sys

import structlog

__all__ = ["configure_logging", "get_logger"]


def configure_logging(level: str | None = None) -> None:
    """Send JSON logs to stderr at ``level`` (default: $AGENTVM_LOG_LEVEL or warning)."""
    name = (level or os.environ.get("AGENTVM_LOG_LEVEL", "warning")).upper()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, name, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """A logger bound to the component ``name``."""
    return structlog.get_logger(component=name)
