"""Answering a request from another thread, before its handler returns.

Why: an exec's answer is complete on the guest thread the moment its process
exits. Handing it to the trio thread to encode and write cost a wake-up of that
thread and its rounds to the request's task (~100 us of a warm ``sh -c 'echo hi'``:
the exit's wake-up alone waited ~40 us). So the request's task offers an
``EarlyAnswer`` (a ContextVar its handler reads with ``early_answer()``), and the
guest thread sends the answer through it.

Only once, and only whole: ``send`` writes the line only when the output takes it
at once (OutgoingLines.write_whole), and otherwise leaves the request to be answered
as usual, when its handler returns. The request's task ``withdraw``s the offer
before it answers any other way (its result, an error, ``cancelled``) and sends
nothing when the early answer went first.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

__all__ = ["EarlyAnswer", "early_answer", "offering"]


class _State(enum.Enum):
    OFFERED = "offered"
    SENT = "sent"
    WITHDRAWN = "withdrawn"


class EarlyAnswer:
    """The answer of one request, which any thread may send once."""

    def __init__(self, encode: Callable[[Any], bytes], write_whole: Callable[[bytes], bool]) -> None:
        self._encode = encode  # result -> the answer's line
        self._write_whole = write_whole
        self._lock = threading.Lock()
        self._state = _State.OFFERED

    def send(self, result: Any) -> bool:
        """Answer with ``result`` now, from any thread, unless the request was
        answered or the offer withdrawn, or the line cannot be written whole now;
        whether it was sent (if not, the handler's return answers)."""
        line = self._encode(result)
        with self._lock:
            if self._state is not _State.OFFERED:
                return False
            # SENT before the write: the client may answer the line (reuse its id)
            # before this thread runs again
            self._state = _State.SENT
            if not self._write_whole(line):
                self._state = _State.OFFERED
                return False
            return True

    @property
    def sent(self) -> bool:
        """Whether it was sent (the request is answered)."""
        return self._state is _State.SENT

    def withdraw(self) -> bool:
        """No early answer from now on (the request's task is about to answer);
        False when one was sent already."""
        with self._lock:
            if self._state is _State.SENT:
                return False
            self._state = _State.WITHDRAWN
            return True


_current: ContextVar[EarlyAnswer | None] = ContextVar("agentvm_early_answer", default=None)


def early_answer() -> EarlyAnswer | None:
    """The offer of the request the calling task handles (None outside one)."""
    return _current.get()


def offering(answer: EarlyAnswer) -> None:
    """Make ``answer`` the calling task's offer (each trio task runs in a context of
    its own: the request's task calls this once, before its handler)."""
    _current.set(answer)
