"""Agent sessions: ``session.*`` methods, the ``session.update`` event and the
``session.requestPermission`` request the sidecar sends to the client.

A session is one agent process running INSIDE a VM, driven by the sidecar as an
Agent Client Protocol client (https://agentclientprotocol.com, schema v1,
``protocolVersion: 1``). Each wire request is a whole ACP exchange: ``session.create``
spawns the agent and runs ``initialize`` (and ``authenticate`` when the agent asks for
it) and ``session/new``; ``session.prompt`` runs one prompt turn to its stop reason.

ACP's own data (content blocks, session updates, tool calls, permission options,
modes, config options) crosses this wire exactly as ACP defines it, as JSON objects:
ACP is the spec for those shapes, and the sidecar forwards them unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from ._base import Base, Empty
from ._vm import CString, Environment, VmId, VmPath

__all__ = [
    "AgentCommand",
    "AgentPreset",
    "AgentSpec",
    "PermissionPolicy",
    "SessionCancelParams",
    "SessionCancelResult",
    "SessionCloseParams",
    "SessionCloseResult",
    "SessionCreateParams",
    "SessionCreateResult",
    "SessionEventsParams",
    "SessionEventsResult",
    "SessionInfo",
    "SessionListParams",
    "SessionListResult",
    "SessionLoadParams",
    "SessionLoadResult",
    "SessionPromptParams",
    "SessionPromptResult",
    "SessionRequestPermissionParams",
    "SessionRequestPermissionResult",
    "SessionResumeParams",
    "SessionResumeResult",
    "SessionSetConfigOptionParams",
    "SessionSetConfigOptionResult",
    "SessionSetModeParams",
    "SessionSetModeResult",
    "SessionTimeouts",
    "SessionUpdateEvent",
]

SessionId = Annotated[str, Meta(min_length=1, max_length=64, description="A session handle returned by session.create.")]
# A JSON object whose shape the ACP schema (v1) defines; any members allowed.
AcpObject = Annotated[dict[str, Any], Meta(extra_json_schema={"additionalProperties": True})]
PermissionPolicy = Literal["ask", "allow", "deny"]
AgentPreset = Literal["reference", "codex"]
"""A built-in agent: ``reference`` is agentvm's own ACP agent (/bin/acp-agent, the
test and demo agent), ``codex`` the OpenAI Codex CLI running in the VM behind the
sidecar's adapter (its model endpoint comes from ``OPENAI_BASE_URL`` and
``OPENAI_API_KEY`` in ``env``)."""
Seconds = Annotated[float, Meta(gt=0, le=86_400)]


class AgentCommand(Base):
    """The agent process to run in the VM, given like a ``process.spawn``: exactly one
    of ``argv`` and ``command`` (run as ``sh -c command``). ``preset`` starts from a
    built-in agent instead, with ``env`` and ``cwd`` still applying; with preset
    ``codex``, ``argv`` may name another build of the Codex CLI (default
    ``["/bin/codex-exec"]``; ``--session-turn`` is appended)."""

    argv: Annotated[list[CString], Meta(min_length=1)] | None = None
    command: CString | None = None
    preset: AgentPreset | None = None
    env: Environment = {}
    """Added to (and overriding) the VM's environment."""
    cwd: VmPath | None = None
    """The agent's working directory and the session's ``cwd`` (default: the VM's)."""


AgentSpec = AgentCommand | AgentPreset


class SessionTimeouts(Base):
    """Time limits of one session's ACP exchanges, in seconds. An exchange that runs
    out fails with kind ``timeout``; a prompt that runs out is cancelled first
    (``session/cancel``), and the agent is stopped when it does not answer that."""

    initialize: Seconds = 10.0
    new_session: Seconds = 30.0
    prompt: Seconds = 600.0
    request: Seconds = 120.0
    """Every other exchange, either way: ``session/set_mode``, ``authenticate``..., the
    agent's own fs/terminal requests, and the client's permission answer."""
    close_grace: Seconds = 5.0
    """How long ``session.close`` waits at each step (close, end of stdin, SIGTERM)
    before the next; SIGKILL follows the last."""


class _AgentStart(Base):
    """What starting an agent takes (shared by create, load and resume)."""

    vm_id: VmId
    agent: AgentSpec = "reference"
    mcp_servers: list[AcpObject] = []
    """ACP ``McpServer`` objects, passed to the agent unchanged."""
    permission_policy: PermissionPolicy = "ask"
    timeouts: SessionTimeouts = msgspec.field(default_factory=SessionTimeouts)
    auth_method: str | None = None
    """The ``authMethods`` id to authenticate with when required (default: the first)."""


class SessionCreateParams(_AgentStart):
    """Start an agent in a VM and open an ACP session with it: spawn the process, send
    ``initialize`` (advertising fs and terminal capabilities), ``authenticate`` when the
    agent answers ``session/new`` with "auth required", then ``session/new``.

    ``permission_policy`` decides ``session/request_permission``: ``allow`` and ``deny``
    pick the agent's matching option without asking; ``ask`` sends the client a
    ``session.requestPermission`` request (register a handler in the client)."""


class SessionCreateResult(Base):
    """The open session: its handle, what the agent told about itself, and the agent's
    own ACP session id, modes and config options (ACP shapes)."""

    session_id: SessionId
    agent_session_id: str
    pid: int
    """The agent process in the VM."""
    agent_info: AcpObject | None = None
    agent_capabilities: AcpObject = {}
    auth_methods: list[AcpObject] = []
    modes: AcpObject | None = None
    config_options: list[AcpObject] | None = None


class SessionPromptParams(Base):
    """Run one prompt turn: send ``session/prompt`` and answer when the agent answers.

    Every ``session/update`` of the turn arrives meanwhile as a ``session.update``
    event, in order. A session runs one turn at a time: a second prompt while one
    runs fails with kind ``busy``."""

    session_id: SessionId
    prompt: Annotated[list[AcpObject], Meta(min_length=1)]
    """ACP ``ContentBlock`` objects (``{"type": "text", "text": "..."}``...)."""


class SessionPromptResult(Base):
    """How the turn ended: ACP's ``StopReason`` (``end_turn``, ``max_tokens``,
    ``max_turn_requests``, ``refusal`` or ``cancelled``)."""

    stop_reason: str
    last_seq: int
    """The ``seq`` of the turn's last ``session.update`` (0 when none so far)."""


class SessionCancelParams(Base):
    """Cancel the running prompt turn (ACP ``session/cancel``). Pending permission
    requests are answered ``cancelled`` at once; the prompt then ends with stop reason
    ``cancelled``. Cancelling an idle session does nothing."""

    session_id: SessionId


SessionCancelResult = Empty


class SessionCloseParams(Base):
    """End a session and its agent: ask the agent to close it (``session/close``, when
    advertised), close its stdin, SIGTERM, then SIGKILL, each after ``close_grace``.
    A running prompt ends with kind ``cancelled``."""

    session_id: SessionId


class SessionCloseResult(Base):
    """How the agent process ended."""

    exit_code: int


class SessionListParams(Base):
    """List open sessions, of one VM or of all."""

    vm_id: VmId | None = None


class SessionInfo(Base):
    """One open session."""

    session_id: SessionId
    vm_id: VmId
    agent_session_id: str
    pid: int
    state: Literal["ready", "prompting", "cancelling", "closing", "failed"]
    last_seq: int


class SessionListResult(Base):
    """The open sessions."""

    sessions: list[SessionInfo]


class SessionEventsParams(Base):
    """Read a session's ``session.update`` events with ``seq`` greater than ``since``
    from its log, which keeps the last 1024."""

    session_id: SessionId
    since: Annotated[int, Meta(ge=0)] = 0


class SessionEventsResult(Base):
    """The kept events after ``since``, oldest first; ``dropped`` counts the ones after
    ``since`` that the log no longer holds."""

    events: list[SessionUpdateEvent]
    dropped: int = 0


class SessionSetModeParams(Base):
    """Switch the agent's mode (ACP ``session/set_mode``; ids from ``modes``)."""

    session_id: SessionId
    mode_id: str


SessionSetModeResult = Empty


class SessionSetConfigOptionParams(Base):
    """Set one of the agent's config options (ACP ``session/set_config_option``)."""

    session_id: SessionId
    config_id: str
    value: str | bool
    """The new value: a value id for a select option, a boolean for a boolean one."""


class SessionSetConfigOptionResult(Base):
    """The agent's config options after the change (ACP shapes)."""

    config_options: list[AcpObject]


class SessionLoadParams(_AgentStart, kw_only=True):
    """Open an earlier agent session in a new agent process with ACP ``session/load``:
    the agent replays the conversation as ``session.update`` events before this
    answers. Fails with kind ``unsupported`` (and stops the agent) unless the agent
    advertises ``loadSession``."""

    agent_session_id: str


SessionLoadResult = SessionCreateResult


class SessionResumeParams(_AgentStart, kw_only=True):
    """Open an earlier agent session in a new agent process with ACP
    ``session/resume`` (no replay). Fails with kind ``unsupported`` (and stops the
    agent) unless the agent advertises ``sessionCapabilities.resume``."""

    agent_session_id: str


SessionResumeResult = SessionCreateResult


class SessionUpdateEvent(Base, tag="session.update", tag_field="type"):
    """One ACP ``session/update`` from a session's agent. ``seq`` numbers a session's
    updates from 1 in arrival order (``session.events`` reads them back by it)."""

    session_id: SessionId
    seq: int
    update: AcpObject
    """ACP ``SessionUpdate`` (``sessionUpdate`` names the kind: ``agent_message_chunk``,
    ``agent_thought_chunk``, ``plan``, ``tool_call``, ``tool_call_update``...)."""


class SessionRequestPermissionParams(Base):
    """Sent BY the sidecar TO the client (a JSON-RPC request) when a session whose
    policy is ``ask`` gets ACP ``session/request_permission``: answer with one of
    ``options`` (``{"outcome": {"outcome": "selected", "optionId": ...}}``) or
    ``{"outcome": {"outcome": "cancelled"}}``. No answer within the session's
    ``request`` timeout, an error, or an unknown option id count as a rejection."""

    session_id: SessionId
    tool_call: AcpObject
    options: list[AcpObject]


class SessionRequestPermissionResult(Base):
    """The client's decision: ACP ``RequestPermissionOutcome``."""

    outcome: AcpObject
