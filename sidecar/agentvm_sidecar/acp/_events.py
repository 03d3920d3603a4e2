"""A session's bounded log of ``session.update`` events.

Every update the agent sends gets the next ``seq`` (from 1) and is kept here, so a
client that missed the stream (or joined late) reads it back with
``session.events {since}``. Only the last ``capacity`` events stay: an agent that
floods updates costs a fixed amount of memory, and a reader learns how many it
missed from ``dropped``.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from agentvm_protocol import SessionUpdateEvent

__all__ = ["DEFAULT_EVENT_CAPACITY", "EventLog"]

DEFAULT_EVENT_CAPACITY = 1024


class EventLog:
    """The last ``capacity`` updates of one session, by seq."""

    def __init__(self, session_id: str, capacity: int = DEFAULT_EVENT_CAPACITY) -> None:
        self._session_id = session_id
        self._events: deque[SessionUpdateEvent] = deque(maxlen=capacity)
        self.last_seq = 0

    def append(self, update: dict[str, Any]) -> SessionUpdateEvent:
        """Number and keep one update; returns the event to stream."""
        self.last_seq += 1
        event = SessionUpdateEvent(session_id=self._session_id, seq=self.last_seq, update=update)
        self._events.append(event)
        return event

    def since(self, seq: int) -> tuple[list[SessionUpdateEvent], int]:
        """The kept events after ``seq`` and how many after it are no longer kept."""
        first_kept = self._events[0].seq if self._events else self.last_seq + 1
        dropped = max(0, first_kept - seq - 1)
        return [e for e in self._events if e.seq > seq], dropped
