"""Built-in agents ``session.create`` can start by name.

``reference`` is agentvm's own ACP agent (software/commands/acp-agent.c, in every
VM's /bin when software is on). ``codex`` is the OpenAI Codex CLI, which speaks its
own ``--session-turn`` NDJSON rather than ACP; codex.py drives it.
"""

from __future__ import annotations

import msgspec

from agentvm_protocol import AgentCommand, AgentSpec

from ..rpc.errors import RpcError

__all__ = ["REFERENCE_AGENT_PATH", "resolve_agent"]

REFERENCE_AGENT_PATH = "/bin/acp-agent"


def resolve_agent(spec: AgentSpec) -> AgentCommand:
    """The command to run for ``spec``: presets filled in, ``env``/``cwd`` kept.

    Raises: invalid_params (no program, or a program and a preset both given).
    """
    command = AgentCommand(preset=spec) if isinstance(spec, str) else spec
    given = (command.argv is not None) + (command.command is not None) + (command.preset is not None)
    # "codex" with argv names another build of the Codex CLI (argv before --session-turn).
    codex_build = command.preset == "codex" and command.argv is not None and command.command is None
    if given != 1 and not codex_build:
        raise RpcError("invalid_params", "give exactly one of argv, command and preset for the agent")
    if command.preset == "reference":
        return msgspec.structs.replace(command, preset=None, argv=[REFERENCE_AGENT_PATH])
    return command
