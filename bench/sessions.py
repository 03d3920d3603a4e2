"""ACP session benchmarks (reference agent in the VM), printed by bench/run.py.

- session.create: spawning /bin/acp-agent in the VM plus the ACP handshake
  (initialize, session/new), one wire request; peer: process.exec of the same
  agent with empty stdin (spawn, start, exit), so the ratio is the handshake's cost
  over starting the guest at all.
- time to first chunk: from sending session.prompt to receiving the first
  session.update event; peer: a process.exec `echo` round trip.
- Codex is not benchmarked yet: the Codex CLI cannot answer a prompt in the VM
  until networking (host_net) lands and its config loading works (see acp/codex.py).
"""

from __future__ import annotations

import threading
import time

from agentvm import Client
from agentvm_protocol import SessionUpdateEvent

__all__ = ["session_rows"]


def _create_and_close(client: Client, vm: str) -> None:
    session = client.session.create(vm, "reference", permission_policy="deny")
    client.session.close(session.session_id)


def _first_chunk(client: Client, session_id: str) -> float:
    with client.events() as events:
        started = time.perf_counter()
        prompt = threading.Thread(target=client.session.prompt, args=(session_id, "hello"))
        prompt.start()
        for event in events:
            if isinstance(event, SessionUpdateEvent) and event.session_id == session_id:
                elapsed = time.perf_counter() - started
                break
        prompt.join()
    return elapsed


def session_rows(client: Client, vm: str, n: int, measure, row) -> None:  # type: ignore[no-untyped-def]
    """Print the session rows (``measure``/``row`` are run.py's helpers)."""
    print("\n== ACP sessions (reference agent in the VM) ==")
    exec_agent = measure(lambda: client.process.exec(vm, argv=["/bin/acp-agent"]), n)
    row("session.create + close", measure(lambda: _create_and_close(client, vm), n), ("exec acp-agent", exec_agent))
    session = client.session.create(vm, "reference", permission_policy="deny")
    firsts = [_first_chunk(client, session.session_id) for _ in range(n)]
    row("prompt -> first session.update", firsts, ("exec echo", measure(lambda: client.process.exec(vm, "echo hi"), n)))
    client.session.close(session.session_id)
