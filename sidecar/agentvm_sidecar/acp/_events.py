"""A session's bounded log of ``session.update`` events.

Every update the agent sends gets the next ``seq`` (from 1) and is kept here, so a
client that missed the stream (or joined late) reads it back with
``session.events {since}``. Only the last ``capacity`` events stay, and only as
many as fit in ``budget_bytes`` (JSON size; the newest always stays): an agent that
floods updates, or sends huge ones (a line may be 16 MiB), costs a bounded amount
of memory, and a reader learns how many it missed from ``dropped``.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import msgspec

from agentvm_protocol import SessionUpdateEvent

__all__ = ["DEFAULT_EVENT_BUDGET_BYTES", "DEFAULT_EVENT_CAPACITY", "EventLog"]

DEFAULT_EVENT_CAPACITY = 1024
DEFAULT_EVENT_BUDGET_BYTES = 32 * 1024 * 1024


class EventLog:
    """The last ``capacity`` updates of one session, by seq."""

    def __init__(self, session_id: str, capacity: int = DEFAULT_EVENT_CAPACITY,
                 budget_bytes: int = DEFAULT_EVENT_BUDGET_BYTES) -> None:
        self._session_id = session_id
        self._capacity = capacity
        self._budget = budget_bytes
        self._events: deque[tuple[SessionUpdateEvent, int]] = deque()
        self._bytes = 0
        self.last_seq = 0

    def append(self, update: dict[str, Any]) -> SessionUpdateEvent:
        """Number and keep one update (dropping the oldest beyond the bounds);
        returns the event to stream."""
        self.last_seq += 1
        event = SessionUpdateEvent(session_id=self._session_id, seq=self.last_seq, update=update)
        size = len(msgspec.json.encode(update))
        self._events.append((event, size))
        self._bytes += size
        while len(self._events) > 1 and (len(self._events) > self._capacity or self._bytes > self._budget):
            self._bytes -= self._events.popleft()[1]
        return event

    def since(self, seq: int) -> tuple[list[SessionUpdateEvent], int]:
        """The kept events after ``seq`` and how many after it are no longer kept."""
        first_kept = self._events[0][0].seq if self._events else self.last_seq + 1
        dropped = max(0, first_kept - seq - 1)
        return [e for e, _ in self._events if e.seq > seq], dropped
