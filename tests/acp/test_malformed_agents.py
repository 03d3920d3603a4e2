"""Agents that break ACP: each ends in a clear session error or stop reason within
the session's timeouts, and never wedges the sidecar or other sessions. The agent
is /bin/acp-agent told to misbehave (``--misbehave=MODE``, see acp-agent.c)."""

from __future__ import annotations

import pytest
import trio

from agentvm import AgentCommand, RpcError, SessionTimeouts

TIMEOUT = 60


def misbehaving(mode: str) -> AgentCommand:
    return AgentCommand(argv=["/bin/acp-agent", f"--misbehave={mode}"])


async def _assert_sidecar_still_serves(client, vm_id: str) -> None:
    """Another session in the same VM works from start to end."""
    session = await client.session.create(vm_id, permission_policy="deny")
    assert (await client.session.prompt(session.session_id, "hello")).stop_reason == "end_turn"
    await client.session.close(session.session_id)


@pytest.mark.parametrize("mode", ["garbage", "exit", "flood"])
async def test_an_agent_breaking_the_transport_mid_prompt_fails_the_session(client, vm_id, mode):
    with trio.fail_after(TIMEOUT):
        session = await client.session.create(vm_id, misbehaving(mode), timeouts=SessionTimeouts(close_grace=1))
        with pytest.raises(RpcError) as failed:
            await client.session.prompt(session.session_id, "hello")
        assert failed.value.kind == "agent_error"
        assert (await client.session.list(vm_id)).sessions[0].state == "failed"
        with pytest.raises(RpcError) as again:
            await client.session.prompt(session.session_id, "hello")
        assert again.value.kind == "agent_error"
        await client.session.close(session.session_id)
        await _assert_sidecar_still_serves(client, vm_id)


@pytest.mark.parametrize("mode", ["unknown-method", "stray-response"])
async def test_unknown_methods_and_stray_responses_do_not_end_the_turn(client, vm_id, mode):
    with trio.fail_after(TIMEOUT):
        session = await client.session.create(vm_id, misbehaving(mode))
        async with client.events() as subscription:
            result = await client.session.prompt(session.session_id, "hello")
            texts = []
            while len(texts) < result.last_seq:
                texts.append((await subscription.receive()).update)
    assert result.stop_reason == "end_turn"
    chunks = "".join(u["content"]["text"] for u in texts if u["sessionUpdate"] == "agent_message_chunk")
    assert "You said: hello" in chunks
    if mode == "unknown-method":
        assert "the client refused x/unknown_method" in chunks


async def test_an_agent_that_never_answers_initialize_times_out_and_is_stopped(client, vm_id):
    with trio.fail_after(TIMEOUT):
        with pytest.raises(RpcError) as failed:
            await client.session.create(vm_id, misbehaving("silent-init"), timeouts=SessionTimeouts(initialize=0.5, close_grace=0.5))
        assert failed.value.kind == "timeout"
        assert (await client.session.list()).sessions == []
        procs = (await client.process.list(vm_id)).processes
        assert [p for p in procs if p.state == "running"] == []


async def test_an_agent_ignoring_cancel_still_ends_the_turn_cancelled(client, vm_id):
    with trio.fail_after(TIMEOUT):
        session = await client.session.create(vm_id, misbehaving("ignore-cancel"), timeouts=SessionTimeouts(close_grace=0.5))
        outcome: list = []

        async def prompt() -> None:
            outcome.append(await client.session.prompt(session.session_id, "sleep"))

        async with trio.open_nursery() as inner:
            inner.start_soon(prompt)
            while (await client.session.list(vm_id)).sessions[0].state != "prompting":
                await trio.sleep(0.01)
            await client.session.cancel(session.session_id)
        assert outcome[0].stop_reason == "cancelled"
        await client.session.close(session.session_id)


async def test_a_prompt_past_its_timeout_fails_with_timeout(client, vm_id):
    with trio.fail_after(TIMEOUT):
        session = await client.session.create(vm_id, timeouts=SessionTimeouts(prompt=0.5, close_grace=0.5))
        with pytest.raises(RpcError) as failed:
            await client.session.prompt(session.session_id, "sleep")
        assert failed.value.kind == "timeout"
        # the agent got session/cancel and is ready again
        assert (await client.session.prompt(session.session_id, "hello")).stop_reason == "end_turn"


async def test_a_missing_agent_program_fails_create_with_enoent(client, vm_id):
    with pytest.raises(RpcError) as failed:
        await client.session.create(vm_id, AgentCommand(argv=["/bin/no-such-agent"]))
    assert failed.value.errno == "ENOENT"
