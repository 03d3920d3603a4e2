"""The reference agent answering from a model: with OPENAI_BASE_URL and
OPENAI_API_KEY in its env, /bin/acp-agent asks the OpenAI Responses API (the fake
in tests/fakes, on the host's 127.0.0.1) over the VM's network, through the VM's
egress policy, and streams the answer as message chunks. Every ACP message is
validated against the vendored schema by the ``acp_client`` fixture."""

from __future__ import annotations

import pytest
import trio

from agentvm import AgentCommand, RpcError
from agentvm_protocol import NetworkPolicy, NetworkRule, VmConfig
from tests.fakes.openai_responses import DEFAULT_API_KEY, FakeOpenAI, Turn, say
from tests.net.host_server import make_ca_and_server_context

from .recorder import Recorder

TIMEOUT = 60
MODEL_HOST = "api.test"  # resolved to the host's 127.0.0.1 by the VM's DNS override
DENY_BOUND = 30  # a liveness bound, not a timing: a denied model host must not hang the prompt


def model_policy(*allowed: str) -> NetworkPolicy:
    rules = [NetworkRule(mode="allow", operations=["*"], patterns=list(allowed))] if allowed else []
    return NetworkPolicy(rules=rules, dns_overrides={MODEL_HOST: "127.0.0.1"})


def model_agent(api, *, key: str = DEFAULT_API_KEY) -> AgentCommand:
    env = {"OPENAI_BASE_URL": api.url_via(MODEL_HOST), "OPENAI_API_KEY": key, "OPENAI_MODEL": "gpt-test"}
    return AgentCommand(preset="reference", env=env)


async def vm_reaching(client, api, *allowed: str) -> str:
    return (await client.vm.create(VmConfig(network=model_policy(*allowed)))).vm_id


def chunks(recorder: Recorder) -> list[str]:
    return [e.update["content"]["text"] for e in recorder.events if e.update["sessionUpdate"] == "agent_message_chunk"]


async def test_the_models_deltas_stream_as_message_chunks_and_the_conversation_is_sent_back(acp_client, openai_api, nursery):
    openai_api.queue(say("Hel", "lo ", "there \U0001f642"), say("Again: ", "yes"))  # JSON escapes it as a surrogate pair
    vm_id = await vm_reaching(acp_client, openai_api, f"{MODEL_HOST}:{openai_api.port}")
    recorder = Recorder()
    nursery.start_soon(recorder.run, acp_client)
    with trio.fail_after(TIMEOUT):
        session = await acp_client.session.create(vm_id, model_agent(openai_api))
        first = await acp_client.session.prompt(session.session_id, "hi model")
        second = await acp_client.session.prompt(session.session_id, "once more")
        while len(recorder.events) < second.last_seq:
            await recorder.changed.wait()
    assert (first.stop_reason, second.stop_reason) == ("end_turn", "end_turn")
    assert chunks(recorder) == ["Hel", "lo ", "there \U0001f642", "Again: ", "yes"]  # each delta, in order
    one, two = openai_api.model_requests()
    assert one.path == "/v1/responses" and one.headers["authorization"] == f"Bearer {DEFAULT_API_KEY}"
    assert one.json["model"] == "gpt-test" and one.json["stream"] is True
    assert one.input_items() == [{"role": "user", "content": "hi model"}]
    assert two.input_items() == [
        {"role": "user", "content": "hi model"},
        {"role": "assistant", "content": "Hello there \U0001f642"},
        {"role": "user", "content": "once more"},
    ]
    await acp_client.session.close(session.session_id)


async def test_a_model_host_denied_by_the_vm_policy_fails_the_prompt_at_once_and_the_session_survives(acp_client, openai_api):
    openai_api.queue(say("allowed now"))
    vm_id = await vm_reaching(acp_client, openai_api)  # default deny: the model host is not allowed
    with trio.fail_after(TIMEOUT):
        session = await acp_client.session.create(vm_id, model_agent(openai_api))
    with trio.fail_after(DENY_BOUND), pytest.raises(RpcError) as denied:
        await acp_client.session.prompt(session.session_id, "are you there")
    assert denied.value.kind == "agent_error"
    assert openai_api.requests == []  # the connection never left the VM
    with trio.fail_after(TIMEOUT):
        await acp_client.vm.set_network_policy(vm_id, model_policy(MODEL_HOST))
        result = await acp_client.session.prompt(session.session_id, "and now")
    assert result.stop_reason == "end_turn"
    assert [r.input_items()[-1]["content"] for r in openai_api.model_requests()] == ["and now"]


async def test_an_answer_cut_at_the_models_output_limit_stops_with_max_tokens(acp_client, openai_api):
    openai_api.queue(Turn(items=say("so far").items, incomplete=True))
    vm_id = await vm_reaching(acp_client, openai_api, MODEL_HOST)
    with trio.fail_after(TIMEOUT):
        session = await acp_client.session.create(vm_id, model_agent(openai_api))
        assert (await acp_client.session.prompt(session.session_id, "tell a long story")).stop_reason == "max_tokens"


@pytest.mark.parametrize("failure", ["http-500", "wrong-key", "cut-stream"])
async def test_a_failing_model_answer_fails_the_prompt_with_an_agent_error(acp_client, openai_api, failure):
    openai_api.queue({"http-500": Turn(status=500), "wrong-key": say("x"), "cut-stream": say("partial", cut=True)}[failure])
    key = "sk-wrong" if failure == "wrong-key" else DEFAULT_API_KEY
    vm_id = await vm_reaching(acp_client, openai_api, MODEL_HOST)
    with trio.fail_after(TIMEOUT):
        session = await acp_client.session.create(vm_id, model_agent(openai_api, key=key))
        with pytest.raises(RpcError) as failed:
            await acp_client.session.prompt(session.session_id, "question")
    assert failed.value.kind == "agent_error"


async def test_cancel_while_the_model_streams_closes_the_request_and_ends_the_turn_cancelled(acp_client, openai_api, nursery):
    openai_api.queue(say("thinking", hang=True), say("fresh answer"))
    vm_id = await vm_reaching(acp_client, openai_api, MODEL_HOST)
    recorder = Recorder()
    nursery.start_soon(recorder.run, acp_client)
    with trio.fail_after(TIMEOUT):
        session = await acp_client.session.create(vm_id, model_agent(openai_api))
        outcome: list = []

        async def prompt() -> None:
            outcome.append(await acp_client.session.prompt(session.session_id, "long question"))

        async with trio.open_nursery() as inner:
            inner.start_soon(prompt)
            await recorder.wait_for_text("thinking")
            await acp_client.session.cancel(session.session_id)
        assert outcome[0].stop_reason == "cancelled"
        assert (await acp_client.session.prompt(session.session_id, "next")).stop_reason == "end_turn"
        await recorder.wait_for_text("fresh answer")
    # the cancelled turn is not part of the conversation the model sees next
    assert openai_api.model_requests()[-1].input_items() == [{"role": "user", "content": "next"}]


async def test_an_https_model_endpoint_is_reached_through_the_tls_the_sidecar_does(acp_client):
    ca_pem, server_context = make_ca_and_server_context(MODEL_HOST)
    with FakeOpenAI(ssl_context=server_context).running() as api:
        api.queue(say("over ", "TLS"))
        policy = model_policy(MODEL_HOST)
        policy.ca_certificates = [ca_pem]
        vm_id = (await acp_client.vm.create(VmConfig(network=policy))).vm_id
        with trio.fail_after(TIMEOUT):
            session = await acp_client.session.create(vm_id, model_agent(api))
            result = await acp_client.session.prompt(session.session_id, "secure hello")
            events = (await acp_client.session.events(session.session_id)).events
    assert api.url_via(MODEL_HOST).startswith("https://") and result.stop_reason == "end_turn"
    assert "".join(e.update["content"]["text"] for e in events if e.update["sessionUpdate"] == "agent_message_chunk") == "over TLS"
