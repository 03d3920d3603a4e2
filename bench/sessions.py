"""ACP session benchmarks (reference agent and Codex CLI in the VM), printed by bench/run.py.

- session.create: spawning /bin/acp-agent in the VM plus the ACP handshake
  (initialize, session/new), one wire request; peer: process.exec of the same
  agent with empty stdin (spawn, start, exit), so the ratio is the handshake's cost
  over starting the guest at all.
- time to first chunk: from sending session.prompt to receiving the first
  session.update event; peer: a process.exec `echo` round trip.
- time to first model chunk: the reference agent answering from a model, the fake
  OpenAI Responses API (tests/fakes/openai_responses.py) on the host's 127.0.0.1,
  reached over the VM network through its egress policy (a DNS override and an
  allow rule): from sending session.prompt to the first agent_message_chunk, which
  carries the model's first SSE delta. Peer: the same agent's first
  agent_message_chunk without a model (its echo), so the ratio is the cost of the
  network path (connect, request, the first streamed event) over the agent's own
  turn.
- Codex (the real Codex CLI in the VM, acp/codex.py) against the same fake:
  session.create + close (no codex process yet: each prompt turn is one) and time
  to its first model chunk (a codex process starting from the module cache,
  loading its config, its request and the first streamed delta), each next to the
  reference agent doing the same.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from agentvm import AgentCommand, Client
from agentvm_protocol import NetworkPolicy, NetworkRule, SessionUpdateEvent, VmConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, for the test fakes
from tests.fakes.openai_responses import DEFAULT_API_KEY, FakeOpenAI, say

__all__ = ["session_rows"]

MODEL_HOST = "api.test"


def _create_and_close(client: Client, vm: str, agent: AgentCommand | str = "reference") -> None:
    session = client.session.create(vm, agent, permission_policy="deny")
    client.session.close(session.session_id)


def _first_chunk(client: Client, session_id: str, kind: str | None = None) -> float:
    """Seconds from sending a prompt to its first session.update (of ``kind``)."""
    with client.events() as events:
        started = time.perf_counter()
        prompt = threading.Thread(target=client.session.prompt, args=(session_id, "hello"))
        prompt.start()
        for event in events:
            if (isinstance(event, SessionUpdateEvent) and event.session_id == session_id
                    and kind in (None, event.update.get("sessionUpdate"))):
                elapsed = time.perf_counter() - started
                break
        prompt.join()
    return elapsed


def _model_vm(client: Client, api: FakeOpenAI) -> str:
    """A VM whose policy lets guests reach the fake API as MODEL_HOST."""
    policy = NetworkPolicy(
        rules=[NetworkRule(mode="allow", operations=["*"], patterns=[MODEL_HOST])],
        dns_overrides={MODEL_HOST: "127.0.0.1"},
    )
    return client.vm.create(VmConfig(network=policy)).vm_id


def _model_first_chunks(client: Client, vm: str, agent: AgentCommand, n: int) -> list[float]:
    """Time to the first model chunk, n times (after two warm-up turns)."""
    session = client.session.create(vm, agent, permission_policy="deny")
    times = [_first_chunk(client, session.session_id, "agent_message_chunk") for _ in range(n + 2)][2:]
    client.session.close(session.session_id)
    return times


def session_rows(client: Client, vm: str, n: int, measure, row) -> None:  # type: ignore[no-untyped-def]
    """Print the session rows (``measure``/``row`` are run.py's helpers)."""
    print("\n== ACP sessions (reference agent in the VM) ==")
    exec_agent = measure(lambda: client.process.exec(vm, argv=["/bin/acp-agent"]), n)
    row("session.create + close", measure(lambda: _create_and_close(client, vm), n), ("exec acp-agent", exec_agent))
    session = client.session.create(vm, "reference", permission_policy="deny")
    firsts = [_first_chunk(client, session.session_id) for _ in range(n)]
    row("prompt -> first session.update", firsts, ("exec echo", measure(lambda: client.process.exec(vm, "echo hi"), n)))
    echo_chunks = [_first_chunk(client, session.session_id, "agent_message_chunk") for _ in range(n)]
    client.session.close(session.session_id)
    with FakeOpenAI(default=say("Hello", " from the model")).running() as api:
        model_vm = _model_vm(client, api)
        env = {"OPENAI_BASE_URL": api.url_via(MODEL_HOST), "OPENAI_API_KEY": DEFAULT_API_KEY}
        reference, codex = AgentCommand(preset="reference", env=env), AgentCommand(preset="codex", env=env)
        model_chunks = _model_first_chunks(client, model_vm, reference, n)
        row("prompt -> first model chunk (fake OpenAI)", model_chunks, ("echo chunk, no model", echo_chunks))
        # a codex turn is a new 30 MB-module process whose history grows: fewer samples
        k = max(3, n // 20)
        print("\n== Codex CLI in the VM (fake OpenAI Responses API; peer: the reference agent) ==")
        row("codex session.create + close", measure(lambda: _create_and_close(client, model_vm, codex), k),
            ("reference", measure(lambda: _create_and_close(client, model_vm, reference), k)))
        row("codex prompt -> first model chunk", _model_first_chunks(client, model_vm, codex, k),
            ("reference", model_chunks))
        client.vm.dispose(model_vm)
        assert len(api.model_requests()) >= n + k + 4, "an agent did not ask the model every turn"
