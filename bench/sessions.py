"""ACP session benchmarks (reference agent in the VM), printed by bench/run.py.

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
- Codex is not benchmarked yet: the Codex CLI cannot answer a prompt in the VM
  until its config loading works (see acp/codex.py).
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


def _create_and_close(client: Client, vm: str) -> None:
    session = client.session.create(vm, "reference", permission_policy="deny")
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


def _model_first_chunks(client: Client, n: int) -> list[float]:
    """Time to the first model chunk, n times (after two warm-up turns)."""
    with FakeOpenAI(default=say("Hello", " from the model")).running() as api:
        policy = NetworkPolicy(
            rules=[NetworkRule(mode="allow", operations=["*"], patterns=[MODEL_HOST])],
            dns_overrides={MODEL_HOST: "127.0.0.1"},
        )
        vm = client.vm.create(VmConfig(network=policy)).vm_id
        env = {"OPENAI_BASE_URL": api.url_via(MODEL_HOST), "OPENAI_API_KEY": DEFAULT_API_KEY}
        session = client.session.create(vm, AgentCommand(preset="reference", env=env), permission_policy="deny")
        times = [_first_chunk(client, session.session_id, "agent_message_chunk") for _ in range(n + 2)][2:]
        client.session.close(session.session_id)
        client.vm.dispose(vm)
        assert len(api.model_requests()) == n + 2, "the agent did not ask the model every turn"
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
    row("prompt -> first model chunk (fake OpenAI)", _model_first_chunks(client, n), ("echo chunk, no model", echo_chunks))
