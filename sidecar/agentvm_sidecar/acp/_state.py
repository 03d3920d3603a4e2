"""A session's life as tables, in the manner of h11's ``_state.py``.

Everything that moves a session from one state to another lives in this file, and
the file knows nothing about agents, pipes or JSON-RPC: the session reports what
happened (a :class:`Trigger`) and :class:`SessionState` either moves along
``TRANSITIONS`` or refuses with the wire error kind ``REFUSALS`` names. A session
that lost its agent (exit, a broken transport, a failed start) is FAILED for good;
only closing is left to do with it.

    STARTING --opened--> READY --prompt--> PROMPTING --cancel--> CANCELLING
                           ^                   |                     |
                           +---- turn_ended ---+---------------------+
    any --close--> CLOSING --closed--> CLOSED;  any live --agent_lost--> FAILED
"""

from __future__ import annotations

import enum

from agentvm_protocol import ErrorKind

from ..rpc.errors import RpcError

__all__ = ["REFUSALS", "TRANSITIONS", "SessionState", "State", "Trigger"]


class State(enum.Enum):
    STARTING = "starting"
    READY = "ready"
    PROMPTING = "prompting"
    CANCELLING = "cancelling"
    CLOSING = "closing"
    CLOSED = "closed"
    FAILED = "failed"


class Trigger(enum.Enum):
    OPENED = "opened"
    PROMPT = "prompt"
    CANCEL = "cancel"
    TURN_ENDED = "turn_ended"
    AGENT_LOST = "agent_lost"
    CLOSE = "close"
    CLOSED = "closed"


S, T = State, Trigger

TRANSITIONS: dict[State, dict[Trigger, State]] = {
    S.STARTING: {T.OPENED: S.READY, T.AGENT_LOST: S.FAILED, T.CLOSE: S.CLOSING},
    S.READY: {T.PROMPT: S.PROMPTING, T.CANCEL: S.READY, T.AGENT_LOST: S.FAILED, T.CLOSE: S.CLOSING},
    S.PROMPTING: {T.CANCEL: S.CANCELLING, T.TURN_ENDED: S.READY, T.AGENT_LOST: S.FAILED, T.CLOSE: S.CLOSING},
    S.CANCELLING: {T.CANCEL: S.CANCELLING, T.TURN_ENDED: S.READY, T.AGENT_LOST: S.FAILED, T.CLOSE: S.CLOSING},
    # The agent may still answer (or die) while it is being closed; nothing changes.
    S.CLOSING: {T.CANCEL: S.CLOSING, T.TURN_ENDED: S.CLOSING, T.AGENT_LOST: S.CLOSING, T.CLOSED: S.CLOSED},
    S.CLOSED: {},
    S.FAILED: {T.CANCEL: S.FAILED, T.TURN_ENDED: S.FAILED, T.AGENT_LOST: S.FAILED, T.CLOSE: S.CLOSING},
}

# Why a trigger is refused in a state: the wire error kind. Pairs not listed here
# and not in TRANSITIONS are bugs in the session code (internal errors).
REFUSALS: dict[tuple[State, Trigger], ErrorKind] = {
    (S.STARTING, T.PROMPT): "busy",
    (S.PROMPTING, T.PROMPT): "busy",
    (S.CANCELLING, T.PROMPT): "busy",
    (S.FAILED, T.PROMPT): "agent_error",
    (S.CLOSING, T.PROMPT): "not_found",
    (S.CLOSED, T.PROMPT): "not_found",
    (S.CLOSED, T.CANCEL): "not_found",
    (S.CLOSING, T.CLOSE): "busy",
    (S.CLOSED, T.CLOSE): "not_found",
}

# States in which the agent takes requests other than a prompt (set_mode...).
LIVE = frozenset({S.READY, S.PROMPTING, S.CANCELLING})


class SessionState:
    """The current state of one session; ``fire`` moves it or raises."""

    def __init__(self) -> None:
        self.state = State.STARTING
        self.failure: str | None = None

    def fire(self, trigger: Trigger, *, reason: str | None = None) -> State:
        """Apply ``trigger``. Raises RpcError (the kind ``REFUSALS`` gives) when the
        state does not allow it; the state is then unchanged."""
        after = TRANSITIONS[self.state].get(trigger)
        if after is None:
            kind = REFUSALS.get((self.state, trigger), "internal")
            raise RpcError(kind, self._refusal_message(trigger))
        if after is State.FAILED and self.failure is None:
            self.failure = reason
        self.state = after
        return after

    def require_live(self, what: str) -> None:
        """Raises RpcError unless the agent takes requests now."""
        if self.state not in LIVE:
            kind: ErrorKind = "agent_error" if self.state is State.FAILED else "not_found" if self.state in (S.CLOSING, S.CLOSED) else "busy"
            raise RpcError(kind, f"cannot {what}: {self._describe()}")

    def _refusal_message(self, trigger: Trigger) -> str:
        return f"cannot {trigger.value.replace('_', ' ')}: {self._describe()}"

    def _describe(self) -> str:
        if self.state is State.FAILED:
            return f"the session failed ({self.failure})"
        if self.state in (S.PROMPTING, S.CANCELLING):
            return "a prompt turn is running"
        return f"the session is {self.state.value}"
