# The audit log of one VM: tool calls and requests that had a secret injected.
#
# Every entry is logged with structlog as it is added and kept in a bounded ring
# (the most recent MAX_ENTRIES), which `tools.log {since}` reads.  Entries carry
# names (tool, host, secret name), never a secret's value.  Thread-safe: secret
# injections are recorded on guest threads.

from __future__ import annotations

import threading
import time
from collections import deque

from agentvm_protocol import AuditEntry

from ..logs import get_logger

__all__ = ["MAX_ENTRIES", "AuditLog"]

MAX_ENTRIES = 1000

log = get_logger("audit")


class AuditLog:
    """A bounded, thread-safe audit log of one VM."""

    def __init__(self, vm_id: str, max_entries: int = MAX_ENTRIES) -> None:
        self._vm_id = vm_id
        self._max_entries = max_entries
        # Made on the first entry: an empty deque holds a 0.75 KiB block (tracemalloc),
        # and most VMs never audit anything.
        self._entries: deque[AuditEntry] | None = None
        self._lock = threading.Lock()

    def record(self, kind: str, target: str, status: str, duration_ms: int = 0, secret: str | None = None) -> None:
        entry = AuditEntry(
            time_ms=int(time.time() * 1000), kind=kind, vm_id=self._vm_id,  # type: ignore[arg-type]
            target=target, status=status, duration_ms=duration_ms, secret=secret,
        )
        log.info("audit", vm_id=self._vm_id, kind=kind, target=target, status=status, duration_ms=duration_ms, secret=secret)
        with self._lock:
            if self._entries is None:
                self._entries = deque(maxlen=self._max_entries)
            self._entries.append(entry)

    def since(self, since_ms: int) -> list[AuditEntry]:
        with self._lock:
            return [e for e in self._entries or () if e.time_ms >= since_ms]
