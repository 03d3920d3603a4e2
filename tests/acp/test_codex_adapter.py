"""The Codex adapter (acp/codex.py) driven through the wire, with a deterministic
stand-in for the Codex CLI speaking its ``--session-turn`` NDJSON
(tests/guests/fake_codex.c) installed in the VM. Every session.update it produces
is validated against the ACP schema like any other session's."""

from __future__ import annotations

import pathlib

import pytest
import trio

from agentvm import AgentCommand, RpcError, SessionTimeouts, VmConfig

from .acp_schema import validate_def

FAKE_CODEX = pathlib.Path(__file__).resolve().parents[2] / ".build" / "guests" / "fake_codex.wasm"
TIMEOUT = 60


@pytest.fixture
async def codex(client, vm_id):
    """(client, vm_id, agent): the fake codex at /tmp/fake-codex in a fresh VM."""
    await client.fs.write_file(vm_id, "/tmp/fake-codex", FAKE_CODEX.read_bytes(), mode=0o755)
    return client, vm_id, AgentCommand(preset="codex", argv=["/tmp/fake-codex"])


def _said(updates: list[dict]) -> str:
    return "".join(u["content"]["text"] for u in updates if u["sessionUpdate"] == "agent_message_chunk")


async def test_codex_text_deltas_stream_as_message_chunks_and_history_spans_prompts(codex):
    client, vm_id, agent = codex
    with trio.fail_after(TIMEOUT):
        session = await client.session.create(vm_id, agent)
        assert session.agent_info["name"] == "codex"
        first = await client.session.prompt(session.session_id, "hello")
        second = await client.session.prompt(session.session_id, "again")
        events = (await client.session.events(session.session_id)).events
    assert (first.stop_reason, second.stop_reason) == ("end_turn", "end_turn")
    said = _said([e.update for e in events])
    assert said == "turn 1: helloturn 2: again"  # the second turn got the first as history


async def test_codex_permission_request_is_answered_by_the_client_and_the_tool_call_streams(codex):
    client, vm_id, agent = codex
    asked = []

    async def handler(params):
        asked.append(params)
        return {"outcome": {"outcome": "selected", "optionId": "allow"}}

    client.on_request("session.requestPermission", handler)
    with trio.fail_after(TIMEOUT):
        session = await client.session.create(vm_id, agent)
        result = await client.session.prompt(session.session_id, "shell /tmp/ran.txt")
        events = (await client.session.events(session.session_id)).events
    assert result.stop_reason == "end_turn"
    assert [a["toolCall"]["toolCallId"] for a in asked] == ["call_1"]
    updates = [e.update for e in events]
    for update in updates:
        validate_def("SessionUpdate", update)
    calls = [(u["sessionUpdate"], u.get("status")) for u in updates if u.get("toolCallId") == "call_1"]
    assert calls == [("tool_call", "pending"), ("tool_call_update", "in_progress"), ("tool_call_update", "completed")]
    assert (await client.fs.read_file(vm_id, "/tmp/ran.txt")).data == b"ran\n"


async def test_codex_denied_permission_runs_nothing(codex):
    client, vm_id, agent = codex
    with trio.fail_after(TIMEOUT):
        session = await client.session.create(vm_id, agent, permission_policy="deny")
        await client.session.prompt(session.session_id, "shell /tmp/ran.txt")
        said = _said([e.update for e in (await client.session.events(session.session_id)).events])
    assert said == "not allowed"
    assert not (await client.fs.exists(vm_id, "/tmp/ran.txt")).exists


async def test_a_codex_error_fails_the_prompt_with_agent_error_and_the_session_goes_on(codex):
    client, vm_id, agent = codex
    with trio.fail_after(TIMEOUT):
        session = await client.session.create(vm_id, agent)
        with pytest.raises(RpcError) as failed:
            await client.session.prompt(session.session_id, "fail")
        assert failed.value.kind == "agent_error"
        assert (await client.session.prompt(session.session_id, "hello")).stop_reason == "end_turn"


async def test_cancelling_a_codex_turn_stops_its_process(codex):
    client, vm_id, agent = codex
    with trio.fail_after(TIMEOUT):
        session = await client.session.create(vm_id, agent, timeouts=SessionTimeouts(close_grace=1))
        outcome = []

        async def prompt() -> None:
            outcome.append(await client.session.prompt(session.session_id, "hang"))

        async with trio.open_nursery() as inner:
            inner.start_soon(prompt)
            while (await client.session.list(vm_id)).sessions[0].pid == 0:
                await trio.sleep(0.01)
            await client.session.cancel(session.session_id)
        assert outcome[0].stop_reason == "cancelled"
        running = [p for p in (await client.process.list(vm_id)).processes if p.state == "running"]
        assert running == []


async def test_the_codex_preset_needs_the_codex_cli_in_the_vm(client):
    vm_id = (await client.vm.create(VmConfig(software=False))).vm_id
    with pytest.raises(RpcError) as failed:
        await client.session.create(vm_id, "codex")
    assert failed.value.kind == "unavailable"
