"""The REAL OpenAI Codex CLI (npm @agentos-software/codex-cli, /bin/codex-exec) in
a VM, as a session agent, against the deterministic fake OpenAI Responses API
(tests/fakes/openai_responses.py) reached through the VM's egress policy: it
answers prompts, keeps the conversation across prompts, runs shell commands in the
VM only as the session's permission policy (or the client) allows, and a denied
model host ends the prompt with a clear error instead of a hang."""

from __future__ import annotations

import pytest
import trio

from agentvm import AgentCommand, RpcError, VmConfig
from agentvm_protocol import NetworkPolicy, NetworkRule
from tests.fakes.openai_responses import DEFAULT_API_KEY, FakeOpenAI, say, shell_call

from .acp_schema import validate_def

MODEL_HOST = "api.test"  # the VM reaches the host's 127.0.0.1 through a DNS override
TIMEOUT = 90  # a hang guard only: a turn takes about a second on a warm machine


def _codex(api: FakeOpenAI) -> AgentCommand:
    env = {"OPENAI_BASE_URL": api.url_via(MODEL_HOST), "OPENAI_API_KEY": DEFAULT_API_KEY}
    return AgentCommand(preset="codex", env=env, cwd="/tmp")


async def _vm(client, api: FakeOpenAI, *, allow_model: bool = True) -> str:
    rules = [NetworkRule(mode="allow", operations=["*"], patterns=[f"{MODEL_HOST}:{api.port}"])] if allow_model else []
    network = NetworkPolicy(rules=rules, dns_overrides={MODEL_HOST: "127.0.0.1"})
    return (await client.vm.create(VmConfig(network=network))).vm_id


async def _updates(client, session_id: str) -> list[dict]:
    updates = [e.update for e in (await client.session.events(session_id)).events]
    for update in updates:
        validate_def("SessionUpdate", update)
    return updates


def _said(updates: list[dict]) -> str:
    return "".join(u["content"]["text"] for u in updates if u["sessionUpdate"] == "agent_message_chunk")


async def test_codex_answers_from_the_model_and_keeps_the_conversation_across_prompts(client, openai_api):
    openai_api.queue(say("hello ", "from codex"), say("still here"))
    vm_id = await _vm(client, openai_api)
    with trio.fail_after(TIMEOUT):
        session = await client.session.create(vm_id, _codex(openai_api), permission_policy="deny")
        first = await client.session.prompt(session.session_id, "say hello")
        second = await client.session.prompt(session.session_id, "are you there?")
        updates = await _updates(client, session.session_id)
        home = f"/tmp/.codex/{session.agent_session_id}"  # the session's CODEX_HOME
        assert (await client.fs.exists(vm_id, f"{home}/config.toml")).exists
        await client.session.close(session.session_id)
    assert not (await client.fs.exists(vm_id, home)).exists
    assert (first.stop_reason, second.stop_reason) == ("end_turn", "end_turn")
    assert _said(updates) == "hello from codexstill here"
    first_request, second_request = openai_api.model_requests()
    assert first_request.headers["authorization"] == f"Bearer {DEFAULT_API_KEY}"
    assert any("say hello" in text for text in first_request.message_texts("user"))
    # the second turn is a new codex process: the adapter replayed the first as history
    assert any("say hello" in text for text in second_request.message_texts("user"))
    assert "hello from codex" in second_request.message_texts("assistant")


async def test_codex_runs_a_shell_command_in_the_vm_once_the_client_allows_it(client, openai_api):
    openai_api.queue(shell_call("call_1", "echo ran > /tmp/ran.txt"), say("wrote it"))
    vm_id = await _vm(client, openai_api)
    asked = []

    async def allow(params):
        asked.append(params)
        return {"outcome": {"outcome": "selected", "optionId": "allow"}}

    client.on_request("session.requestPermission", allow)
    with trio.fail_after(TIMEOUT):
        session = await client.session.create(vm_id, _codex(openai_api))
        result = await client.session.prompt(session.session_id, "write ran to /tmp/ran.txt")
        updates = await _updates(client, session.session_id)
    assert result.stop_reason == "end_turn"
    [question] = asked
    validate_def("ToolCallUpdate", question["toolCall"])
    assert question["toolCall"]["rawInput"]["command"] == ["bash", "-lc", "echo ran > /tmp/ran.txt"]
    assert (await client.fs.read_file(vm_id, "/tmp/ran.txt")).data == b"ran\n"
    calls = [(u["sessionUpdate"], u.get("status")) for u in updates if u.get("toolCallId") == "call_1"]
    assert calls == [("tool_call", "in_progress"), ("tool_call_update", "completed")]
    assert openai_api.model_requests()[1].function_call_output("call_1") is not None
    assert _said(updates) == "wrote it"


@pytest.mark.parametrize("policy", ["ask", "deny"])
async def test_a_refused_command_never_runs_and_codex_carries_on(client, openai_api, policy):
    openai_api.queue(shell_call("call_1", "echo ran > /tmp/ran.txt"), say("could not"))
    vm_id = await _vm(client, openai_api)

    async def reject(params):
        return {"outcome": {"outcome": "selected", "optionId": "reject"}}

    client.on_request("session.requestPermission", reject)
    with trio.fail_after(TIMEOUT):
        session = await client.session.create(vm_id, _codex(openai_api), permission_policy=policy)
        result = await client.session.prompt(session.session_id, "write ran to /tmp/ran.txt")
    assert result.stop_reason == "end_turn"
    assert not (await client.fs.exists(vm_id, "/tmp/ran.txt")).exists
    # codex told the model the command failed, and the model answered
    assert openai_api.model_requests()[1].function_call_output("call_1") is not None


async def test_a_denied_model_host_ends_the_prompt_with_an_agent_error_not_a_hang(client, openai_api):
    openai_api.queue(say("unreachable"))
    vm_id = await _vm(client, openai_api, allow_model=False)
    with trio.fail_after(TIMEOUT):
        session = await client.session.create(vm_id, _codex(openai_api), permission_policy="deny")
        with pytest.raises(RpcError) as failure:
            await client.session.prompt(session.session_id, "say hello")
    assert failure.value.kind == "agent_error"
    assert openai_api.model_requests() == []
    # the session is still usable once the policy allows the model
    await client.vm.set_network_policy(
        vm_id,
        NetworkPolicy(rules=[NetworkRule(mode="allow", operations=["*"], patterns=[f"{MODEL_HOST}:{openai_api.port}"])],
                      dns_overrides={MODEL_HOST: "127.0.0.1"}),
    )
    with trio.fail_after(TIMEOUT):
        result = await client.session.prompt(session.session_id, "say hello")
    assert result.stop_reason == "end_turn"
