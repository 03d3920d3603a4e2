"""The OpenAI Codex CLI as a session agent, behind an ACP adapter in the sidecar.

The Codex CLI's WASI build (npm ``@agentos-software/codex-cli``, /bin/codex-exec in
the VM) does not speak ACP: it supports only ``codex-exec --session-turn``, one
process per prompt turn, speaking NDJSON (rivet-dev/codex,
``codex-rs/exec/src/session_turn_wasi.rs``):

- stdin: ``{"type": "start", "cwd", "model", "prompt", "history": [{"role":
  "user"|"assistant", "content"}]}``, then one ``{"type": "permission_response",
  "decision": "allow"|"deny"}`` per permission request;
- stdout: ``{"type": "start"}``, ``{"type": "text_delta", "delta"}``,
  ``{"type": "tool_call_update", "tool_call_id", "status": "in_progress"|"completed"}``,
  ``{"type": "permission_request", "tool_call_id"}``, ``{"type": "done"}``,
  ``{"type": "error", "message"}``.

This module maps that stream onto the same session machinery as an ACP agent
(_base.py): ``text_delta`` becomes ``agent_message_chunk``, the first sight of a
tool call id a ``tool_call`` (kind ``execute``: codex's tool calls are shell
commands) and later ones ``tool_call_update``, ``permission_request`` an ACP
permission request decided by the session's policy or the client. Each turn is a
new codex process, so the adapter keeps the conversation (user prompts and the
assistant's text) and sends it as ``history`` with every turn. Codex runs in the
VM like any guest: its files, processes and HTTP (``$OPENAI_BASE_URL``, through
the VM's network policy) all go through the kernel. Cancelling a turn stops the
process (SIGTERM, then SIGKILL after ``close_grace``).

Permission is enforced by the sidecar, not by codex: every command codex starts
(each is a spawn by the codex process) first passes the session's permission
policy, asked on codex's guest thread through ``Process.spawn_gate`` (with
``ask``, the client answers an ACP permission request naming the command); a
refused command fails to start with EACCES, which codex reports to the model.
Codex's own approval flow cannot be used: the 0.3.4 build submits its approval
under the turn's id instead of the call's, so an answered ``permission_request``
is never delivered and the turn waits forever. So the session's
``$CODEX_HOME/config.toml`` (written by the adapter, one home per session,
removed on close) sets ``sandbox_mode = "danger-full-access"`` (codex has no
sandbox on WASI anyway; the VM is the sandbox), under which codex never asks. A
``permission_request`` that still arrives is answered all the same.

The same file points codex at the model: a provider with ``$OPENAI_BASE_URL``
(default https://api.openai.com/v1) and the key in ``$OPENAI_API_KEY`` (codex's
built-in provider reads only ``CODEX_API_KEY`` or a login), with one retry
instead of codex's default four to five with backoff, so an unreachable or denied
model host fails the prompt in seconds.
"""

from __future__ import annotations

import json
import secrets
import shlex
from collections.abc import Callable
from typing import Any

import msgspec
import trio

from agentvm_protocol import SessionCreateResult

from ..kernel.errors import KernelError
from ..kernel.fstypes import USER
from ..logs import get_logger
from ..rpc.errors import RpcError
from ..thread_calls import run_in_thread
from ._agent_process import AgentProcess
from ._base import SessionBase
from ._connection import MAX_AGENT_LINE_BYTES
from ._peer import EOF, NEED_DATA, LineSplitter

__all__ = ["CODEX_PROGRAM", "CodexSession"]

log = get_logger("acp.codex")

CODEX_PROGRAM = "/bin/codex-exec"
CODEX_VERSION = "0.3.4"
DEFAULT_MODEL = "gpt-5"
_CODEX_HOMES = "/tmp/.codex"  # one CODEX_HOME per session below it
DEFAULT_BASE_URL = "https://api.openai.com/v1"
_MODEL_RETRIES = 1
_OPTIONS = [
    {"optionId": "allow", "name": "Allow", "kind": "allow_once"},
    {"optionId": "reject", "name": "Reject", "kind": "reject_once"},
]


class _Line(msgspec.Struct):
    type: str
    delta: str = ""
    tool_call_id: str = ""
    status: str = ""
    message: str = ""


_decode_line = msgspec.json.Decoder(_Line).decode


class CodexSession(SessionBase):
    """Codex CLI turns in the VM, presented as an ACP session."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._history: list[dict[str, str]] = []
        self._turn_process: AgentProcess | None = None
        self._spawns = 0  # commands codex asked to start, for permission tool call ids

    @property
    def pid(self) -> int:
        return self._turn_process.pid if self._turn_process is not None else 0

    async def _start(self, mcp_servers: list[dict[str, Any]], auth_method: str | None, load: str | None,
                     resume: str | None) -> SessionCreateResult:
        if load is not None or resume is not None:
            raise RpcError("unsupported", "codex sessions cannot be loaded or resumed")

        program = (self.command.argv or [CODEX_PROGRAM])[0]

        self.agent_session_id = f"codex-{secrets.token_hex(6)}"
        env = self.vm.processes.env_with(self.command.env)
        config = _config_toml(env.get("OPENAI_BASE_URL", DEFAULT_BASE_URL))

        def prepare() -> None:
            vfs = self.vm.kernel.vfs
            if not vfs.exists(program):
                raise RpcError("unavailable", f"{program} is not in this VM (software off, or `make setup` not run)")
            vfs.mkdir(self._codex_home, 0o700, recursive=True, cred=USER)
            vfs.write_file(f"{self._codex_home}/config.toml", config, cred=USER)

        await run_in_thread(prepare, self.vm.threads)
        return SessionCreateResult(
            session_id=self.session_id,
            agent_session_id=self.agent_session_id,
            pid=0,
            agent_info={"name": "codex", "title": "OpenAI Codex CLI (session-turn adapter)", "version": CODEX_VERSION},
            agent_capabilities={"promptCapabilities": {"image": False, "audio": False, "embeddedContext": False}},
        )

    async def _turn(self, blocks: list[dict[str, Any]]) -> str:
        assert self._nursery is not None
        prompt = "\n".join(b["text"] for b in blocks if b.get("type") == "text" and isinstance(b.get("text"), str))
        env = {"CODEX_HOME": self._codex_home, **self.command.env}
        model = env.pop("CODEX_MODEL", DEFAULT_MODEL)
        argv = [*(self.command.argv or [CODEX_PROGRAM]), "--session-turn"]
        process = self._turn_process = await AgentProcess.start(
            self.vm.processes, argv=argv, command=None, cwd=self.cwd, env=env, nursery=self._nursery,
            spawn_gate=self._spawn_gate(trio.lowlevel.current_trio_token()),
        )
        try:
            start = {"type": "start", "cwd": self.cwd, "model": model, "prompt": prompt, "history": self._history}
            if not await process.write_stdin(msgspec.json.encode(start) + b"\n"):
                raise RpcError("agent_error", self._ended(process, "codex exited before reading its start message"))
            reply = await self._follow(process)
        finally:
            self._end_permission_requests()  # a command still waiting for permission: refused
            with trio.CancelScope(shield=True):
                await process.stop(self.timeouts.close_grace)
                process.release()
                self._turn_process = None
        if reply is None:  # the process ended early because the turn was cancelled
            return "cancelled"
        self._history += [{"role": "user", "content": prompt}, {"role": "assistant", "content": reply}]
        return "end_turn"

    async def _follow(self, process: AgentProcess) -> str | None:
        """Map codex's stdout onto session updates until ``done``; returns the
        assistant's text (None when the turn was cancelled)."""
        lines = LineSplitter(MAX_AGENT_LINE_BYTES)
        reply: list[str] = []
        seen: set[str] = set()
        while True:
            item = lines.next_event()
            if item is NEED_DATA:
                lines.receive_data(await process.read_stdout())
                continue
            if item is EOF:
                if self._cancel_requested:
                    return None
                await process.wait(1.0)
                raise RpcError("agent_error", self._ended(process, "codex ended the turn without a done message"))
            try:
                line = _decode_line(item) if isinstance(item, bytes) else None
            except msgspec.DecodeError:
                line = None
            if line is None:
                raise RpcError("agent_error", f"codex wrote a line that is not a session-turn message: {bytes(item)[:80]!r}"
                               if isinstance(item, bytes) else "codex wrote an over-long line")
            match line.type:
                case "text_delta":
                    reply.append(line.delta)
                    await self.publish({"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": line.delta}})
                case "tool_call_update":
                    await self._tool_update(seen, line.tool_call_id, line.status)
                case "permission_request":
                    await self._tool_update(seen, line.tool_call_id, "pending")
                    decision = await self._decide(line.tool_call_id)
                    response = {"type": "permission_response", "decision": decision}
                    if not await process.write_stdin(msgspec.json.encode(response) + b"\n"):
                        raise RpcError("agent_error", self._ended(process, "codex exited while asking permission"))
                case "done":
                    return "".join(reply)
                case "error":
                    raise RpcError("agent_error", f"codex failed: {line.message}")
                case _:
                    log.debug("codex_line_ignored", type=line.type)

    def _spawn_gate(self, token: trio.lowlevel.TrioToken) -> Callable[[list[str], str], None]:
        """The codex process's Process.spawn_gate: runs on codex's guest thread and
        blocks it (codex is single-threaded and waits anyway) until the policy or the
        client decides."""

        def gate(argv: list[str], cwd: str) -> None:
            try:
                allowed = trio.from_thread.run(self._allow_command, argv, cwd, trio_token=token)
            except trio.RunFinishedError:
                allowed = False
            if not allowed:
                raise KernelError.eacces(message="the session's permission policy refused this command")

        return gate

    async def _allow_command(self, argv: list[str], cwd: str) -> bool:
        self._spawns += 1
        command = shlex.join(argv)
        return await self._allowed({
            "toolCallId": f"{self.agent_session_id}-command-{self._spawns}",
            "title": f"Run {command[:200]}",
            "kind": "execute",
            "status": "pending",
            "rawInput": {"command": argv, "cwd": cwd},
        })

    async def _allowed(self, tool_call: dict[str, Any]) -> bool:
        """Whether the policy or the client allows ``tool_call`` (cancelled: no)."""
        outcome = await self.request_permission({"sessionId": self.agent_session_id, "toolCall": tool_call, "options": _OPTIONS})
        return outcome.get("optionId") == "allow"

    async def _tool_update(self, seen: set[str], tool_call_id: str, status: str) -> None:
        if tool_call_id in seen:
            await self.publish({"sessionUpdate": "tool_call_update", "toolCallId": tool_call_id, "status": status})
            return
        seen.add(tool_call_id)
        await self.publish(
            {"sessionUpdate": "tool_call", "toolCallId": tool_call_id, "title": "Run a shell command", "kind": "execute", "status": status}
        )

    async def _decide(self, tool_call_id: str) -> str:
        tool_call = {"toolCallId": tool_call_id, "title": "Run a shell command", "kind": "execute", "status": "pending"}
        return "allow" if await self._allowed(tool_call) else "deny"

    def _ended(self, process: AgentProcess, what: str) -> str:
        status = process.status()
        tail = process.stderr_tail
        how = f" (exit status {status.shell_code})" if status is not None else ""
        return f"{what}{how}" + (f"; its stderr ends with: {tail[-500:]}" if tail else "")

    async def _stop_turn(self) -> None:
        process = self._turn_process
        if process is not None:
            process.close_stdin()
            process.signal(15)
        await trio.lowlevel.checkpoint()

    @property
    def _codex_home(self) -> str:
        return f"{_CODEX_HOMES}/{self.agent_session_id}"

    async def _stop_agent(self, grace: float) -> int:
        process = self._turn_process
        code = 0 if process is None else (await process.stop(grace)).shell_code
        if self.agent_session_id:
            home = self._codex_home
            await run_in_thread(lambda: self.vm.kernel.vfs.remove_tree(home, missing_ok=True, cred=USER), self.vm.threads)
        return code


def _config_toml(base_url: str) -> bytes:
    """The session's config.toml (see the module header). JSON strings are valid
    TOML basic strings."""
    return (
        'sandbox_mode = "danger-full-access"\n'
        'model_provider = "agentvm"\n'
        "\n"
        "[model_providers.agentvm]\n"
        'name = "OpenAI (through the VM network)"\n'
        f"base_url = {json.dumps(base_url)}\n"
        'env_key = "OPENAI_API_KEY"\n'
        'wire_api = "responses"\n'
        f"request_max_retries = {_MODEL_RETRIES}\n"
        f"stream_max_retries = {_MODEL_RETRIES}\n"
    ).encode()
