"""ACP sessions end to end: the Python client, a real sidecar, and the reference
agent (/bin/acp-agent) running in the VM. Every ACP message of each test is
validated against the vendored schema by the ``acp_client`` fixture."""

from __future__ import annotations

import os

import pytest
import trio

from agentvm import AgentCommand, HostDirMount, RpcError, SessionTimeouts, VmConfig

from .recorder import Recorder, answer_permissions

TIMEOUT = 60


async def test_prompt_streams_updates_asks_permission_writes_the_mount_runs_a_command_cancels_and_closes(
    acp_client, tmp_path, nursery
):
    host = tmp_path / "work"
    host.mkdir()
    vm_id = (await acp_client.vm.create(VmConfig(mounts=[HostDirMount(path="/work", host_path=str(host))]))).vm_id
    asked: list = []
    answer_permissions(acp_client, "allow", asked)
    recorder = Recorder()
    nursery.start_soon(recorder.run, acp_client)
    with trio.fail_after(TIMEOUT):
        session = await acp_client.session.create(vm_id, "reference")
        assert session.agent_info["name"] == "acp-agent"
        assert session.modes["currentModeId"] == "code"
        result = await acp_client.session.prompt(session.session_id, "demo /work/out.txt")
        assert result.stop_reason == "end_turn"
        while len(recorder.events) < result.last_seq:
            await recorder.changed.wait()

    assert [e.seq for e in recorder.events] == list(range(1, result.last_seq + 1))
    kinds = recorder.kinds()
    assert kinds[:2] == ["agent_thought_chunk", "plan"]
    assert kinds.count("tool_call") == 3
    assert [e.update.get("status") for e in recorder.events if e.update.get("toolCallId") == "call-1"] == [
        "pending", "in_progress", "completed"
    ]
    assert len(asked) == 1 and asked[0]["toolCall"]["toolCallId"] == "call-1"
    assert asked[0]["sessionId"] == session.session_id
    assert (host / "out.txt").read_text() == "written by acp-agent\n"
    text = recorder.text()
    assert "written by acp-agent" in text  # read back through fs/read_text_file
    assert "21 /work/out.txt" in text  # wc -c, run through terminal/*

    events = await acp_client.session.events(session.session_id, since=result.last_seq - 2)
    assert [e.seq for e in events.events] == [result.last_seq - 1, result.last_seq]

    with trio.fail_after(TIMEOUT):
        outcome: list = []

        async def sleep_prompt() -> None:
            outcome.append(await acp_client.session.prompt(session.session_id, "sleep"))

        async with trio.open_nursery() as inner:
            inner.start_soon(sleep_prompt)
            await recorder.wait_for_text("Sleeping until cancelled.")
            await acp_client.session.cancel(session.session_id)
        while len(recorder.events) < outcome[0].last_seq:
            await recorder.changed.wait()
    assert outcome[0].stop_reason == "cancelled"
    assert [e.seq for e in recorder.events] == list(range(1, outcome[0].last_seq + 1))
    closed = await acp_client.session.close(session.session_id)
    assert closed.exit_code == 0
    assert (await acp_client.session.list()).sessions == []


async def test_cancel_mid_prompt_ends_the_turn_cancelled_and_a_second_prompt_is_busy(acp_client, vm, nursery):
    recorder = Recorder()
    nursery.start_soon(recorder.run, acp_client)
    with trio.fail_after(TIMEOUT):
        session = await acp_client.session.create(vm, permission_policy="deny")
        outcome: list = []

        async def sleep_prompt() -> None:
            outcome.append(await acp_client.session.prompt(session.session_id, "sleep"))

        async with trio.open_nursery() as inner:
            inner.start_soon(sleep_prompt)
            await recorder.wait_for_text("Sleeping")
            with pytest.raises(RpcError) as busy:
                await acp_client.session.prompt(session.session_id, "hello")
            assert busy.value.kind == "busy"
            assert (await acp_client.session.list(vm)).sessions[0].state == "prompting"
            await acp_client.session.cancel(session.session_id)
        assert outcome[0].stop_reason == "cancelled"
        # the session takes prompts again
        assert (await acp_client.session.prompt(session.session_id, "hello")).stop_reason == "end_turn"
        await recorder.wait_for_text("You said: hello")
        await acp_client.session.close(session.session_id)


async def test_cancel_answers_a_pending_permission_request_cancelled(acp_client, vm):
    asked: list = []
    answer_permissions(acp_client, None, asked)  # the user never answers
    with trio.fail_after(TIMEOUT):
        session = await acp_client.session.create(vm)
        outcome: list = []

        async def write_prompt() -> None:
            outcome.append(await acp_client.session.prompt(session.session_id, "write /tmp/never.txt x"))

        async with trio.open_nursery() as inner:
            inner.start_soon(write_prompt)
            while not asked:
                await trio.sleep(0.01)
            await acp_client.session.cancel(session.session_id)
        assert outcome[0].stop_reason == "cancelled"
        assert not (await acp_client.fs.exists(vm, "/tmp/never.txt")).exists


@pytest.mark.parametrize(("policy", "answer", "written"), [("ask", "reject", False), ("allow", None, True), ("deny", None, False)])
async def test_permission_policy_or_the_clients_answer_decides_the_write(acp_client, vm, policy, answer, written):
    asked: list = []
    answer_permissions(acp_client, answer, asked)
    with trio.fail_after(TIMEOUT):
        session = await acp_client.session.create(vm, permission_policy=policy)
        result = await acp_client.session.prompt(session.session_id, "write /tmp/f.txt hello")
    assert result.stop_reason == "end_turn"
    assert len(asked) == (1 if policy == "ask" else 0)
    assert (await acp_client.fs.exists(vm, "/tmp/f.txt")).exists is written


async def test_writes_to_a_read_only_mount_fail_in_the_tool_call(acp_client, tmp_path, nursery):
    host = tmp_path / "ro"
    host.mkdir()
    vm_id = (await acp_client.vm.create(VmConfig(mounts=[HostDirMount(path="/ro", host_path=str(host), read_only=True)]))).vm_id
    recorder = Recorder()
    nursery.start_soon(recorder.run, acp_client)
    with trio.fail_after(TIMEOUT):
        session = await acp_client.session.create(vm_id, permission_policy="allow")
        await acp_client.session.prompt(session.session_id, "write /ro/f.txt hello")
        await recorder.wait_for_text("Writing the file failed.")
    assert os.listdir(host) == []
    assert recorder.events[-2].update == {"sessionUpdate": "tool_call_update", "toolCallId": "call-1", "status": "failed"}


async def test_read_text_file_honours_line_and_limit(acp_client, vm, nursery):
    await acp_client.fs.write_file(vm, "/tmp/lines.txt", "".join(f"line {i}\n" for i in range(1, 201)).encode())
    recorder = Recorder()
    nursery.start_soon(recorder.run, acp_client)
    with trio.fail_after(TIMEOUT):
        session = await acp_client.session.create(vm)
        await acp_client.session.prompt(session.session_id, "read /tmp/lines.txt")
        await recorder.wait_for_text("line 100\n")
    text = recorder.text()
    assert "line 1\n" in text and "line 101" not in text  # the agent asks for line 1, limit 100


async def test_mode_and_config_option_changes_reach_the_agent(acp_client, vm, nursery):
    recorder = Recorder()
    nursery.start_soon(recorder.run, acp_client)
    with trio.fail_after(TIMEOUT):
        session = await acp_client.session.create(vm)
        assert session.config_options[0]["currentValue"] == "small"
        await acp_client.session.set_mode(session.session_id, "plan")
        while "current_mode_update" not in recorder.kinds():
            await recorder.changed.wait()
        assert recorder.events[-1].update["currentModeId"] == "plan"
        changed = await acp_client.session.set_config_option(session.session_id, "model", "large")
        assert changed.config_options[0]["currentValue"] == "large"
        with pytest.raises(RpcError) as refused:
            await acp_client.session.set_config_option(session.session_id, "model", "huge")
        assert refused.value.kind == "agent_error"


async def test_load_replays_the_conversation_and_resume_does_not(acp_client, vm, nursery):
    recorder = Recorder()
    nursery.start_soon(recorder.run, acp_client)
    with trio.fail_after(TIMEOUT):
        loaded = await acp_client.session.load(vm, "sess-earlier")
        assert loaded.agent_session_id == "sess-earlier"
        await recorder.wait_for_text("restored conversation")
        assert recorder.events[0].session_id == loaded.session_id
        resumed = await acp_client.session.resume(vm, "sess-other")
        assert resumed.agent_session_id == "sess-other"
        assert (await acp_client.session.events(resumed.session_id)).events == []
        assert len((await acp_client.session.list(vm)).sessions) == 2


async def test_an_agent_that_requires_auth_is_authenticated_during_create(acp_client, vm):
    agent = AgentCommand(preset="reference", env={"ACP_AGENT_REQUIRE_AUTH": "1"})
    with trio.fail_after(TIMEOUT):
        session = await acp_client.session.create(vm, agent)
    assert session.auth_methods == [{"id": "token", "name": "Token"}]
    assert session.agent_session_id == "sess-1"


async def test_close_during_a_prompt_fails_the_prompt_cancelled(acp_client, vm):
    with trio.fail_after(TIMEOUT):
        session = await acp_client.session.create(vm, timeouts=SessionTimeouts(close_grace=1))
        outcome: list = []

        async def sleep_prompt() -> None:
            with pytest.raises(RpcError) as failed:
                await acp_client.session.prompt(session.session_id, "sleep")
            outcome.append(failed.value.kind)

        async with trio.open_nursery() as inner:
            inner.start_soon(sleep_prompt)
            while (await acp_client.session.list(vm)).sessions[0].state != "prompting":
                await trio.sleep(0.01)
            await acp_client.session.close(session.session_id)
        assert outcome == ["cancelled"]
    with pytest.raises(RpcError) as gone:
        await acp_client.session.prompt(session.session_id, "hello")
    assert gone.value.kind == "not_found"


async def test_disposing_the_vm_ends_its_sessions(acp_client, vm):
    with trio.fail_after(TIMEOUT):
        session = await acp_client.session.create(vm)
        await acp_client.vm.dispose(vm)
    assert (await acp_client.session.list()).sessions == []
    with pytest.raises(RpcError) as gone:
        await acp_client.session.cancel(session.session_id)
    assert gone.value.kind == "not_found"
