"""Host tools from inside the VM: discovery, calls, auth, jobs, audit (issue 14)."""

from __future__ import annotations

import json

import trio

from agentvm import Client, ToolSpec
from tests.process.conftest import guest_bytes
from tests.tools.conftest import AUTH, request, status_and_json

ADD = ToolSpec(
    name="add",
    description="Add two integers.",
    input_schema={"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                  "required": ["a", "b"], "additionalProperties": False},
    output_schema={"type": "object", "properties": {"sum": {"type": "integer"}}, "required": ["sum"]},
)


async def _add(value, vm_id):
    await trio.lowlevel.checkpoint()
    return {"sum": value["a"] + value["b"]}


async def test_a_guest_discovers_tools_through_openapi_and_calls_them(client, vm_id):
    client.on_tool("add", _add)
    await client.tools.register(vm_id, [ADD])
    assert [t.name for t in (await client.tools.list(vm_id)).tools] == ["add"]

    status, document = status_and_json(await request(client, vm_id, "GET", "/openapi.json", AUTH))
    assert status == 200 and document["openapi"].startswith("3.1")
    assert document["paths"]["/tools/add"]["post"]["requestBody"]["content"]["application/json"]["schema"] == ADD.input_schema
    in_vm = json.loads((await client.fs.read_file(vm_id, "/etc/agentvm/tools/openapi.json")).data)
    assert in_vm == document
    readme = (await client.fs.read_file(vm_id, "/etc/agentvm/tools/README.md")).data
    assert b"AGENTVM_TOOLS_TOKEN" in readme and b"`add`" in readme

    assert status_and_json(await request(client, vm_id, "POST", "/tools/add", AUTH, body='{"a": 2, "b": 40}')) == (200, {"sum": 42})

    status, answer = status_and_json(await request(client, vm_id, "POST", "/tools/add", AUTH, body='{"a": "x", "c": 1}'))
    assert status == 400 and answer["error"]["kind"] == "invalid_input"
    assert len(answer["error"]["errors"]) == 3  # a: not an integer, b: missing, c: not allowed
    assert status_and_json(await request(client, vm_id, "POST", "/tools/add", AUTH, body="{"))[0] == 400
    assert status_and_json(await request(client, vm_id, "POST", "/tools/nope", AUTH, body="{}"))[0] == 404

    log = (await client.tools.log(vm_id)).entries
    assert [(e.kind, e.target, e.status) for e in log] == [("tool", "add", "200"), ("tool", "add", "400"), ("tool", "add", "400"), ("tool", "nope", "404")]

    await client.tools.unregister(vm_id, ["add"])
    assert b"/tools/add" not in (await client.fs.read_file(vm_id, "/etc/agentvm/tools/openapi.json")).data


async def test_an_output_that_breaks_the_output_schema_is_a_502(client, vm_id):
    async def wrong(value, vm):
        await trio.lowlevel.checkpoint()
        return {"sum": "not a number"}

    client.on_tool("add", wrong)
    await client.tools.register(vm_id, [ADD])
    status, answer = status_and_json(await request(client, vm_id, "POST", "/tools/add", AUTH, body='{"a": 1, "b": 1}'))
    assert (status, answer["error"]["kind"]) == (502, "invalid_output")


async def test_calls_without_the_vms_token_are_401(client, vm_id):
    client.on_tool("add", _add)
    await client.tools.register(vm_id, [ADD])
    other = (await client.vm.create()).vm_id
    other_token = (await client.process.exec(other, "printf %s \"$AGENTVM_TOOLS_TOKEN\"", timeout_ms=60_000)).stdout.decode()
    assert len(other_token) > 20

    assert status_and_json(await request(client, vm_id, "POST", "/tools/add", body='{"a": 1, "b": 1}'))[0] == 401
    response = await request(client, vm_id, "POST", "/tools/add", f"Authorization: Bearer {other_token}", body='{"a": 1, "b": 1}')
    assert status_and_json(response)[0] == 401
    assert status_and_json(await request(client, vm_id, "GET", "/openapi.json"))[0] == 401

    own = (await client.process.exec(vm_id, "printf %s \"$AGENTVM_TOOLS_TOKEN\"", timeout_ms=60_000)).stdout.decode()
    await client.tools.rotate_token(vm_id)
    assert status_and_json(await request(client, vm_id, "GET", "/openapi.json", f"Authorization: Bearer {own}"))[0] == 401
    assert status_and_json(await request(client, vm_id, "GET", "/openapi.json", AUTH))[0] == 200  # new processes get the new one


async def test_a_long_running_tool_is_a_job_polled_to_completion(client, vm_id):
    release = trio.Event()

    async def build(value, vm):
        await release.wait()
        return {"image": value["tag"]}

    client.on_tool("build", build)
    await client.tools.register(vm_id, [ToolSpec(name="build", long_running=True, timeout_ms=600_000)])
    status, started = status_and_json(await request(client, vm_id, "POST", "/tools/build", AUTH, body='{"tag": "v1"}'))
    assert status == 202
    job = started["jobId"]
    status, state = status_and_json(await request(client, vm_id, "GET", f"/jobs/{job}", AUTH))
    assert (status, state["state"]) == (200, "running")
    release.set()
    status, state = status_and_json(await request(client, vm_id, "GET", f"/jobs/{job}?wait=30", AUTH))
    assert (status, state["state"], state["output"]) == (200, "succeeded", {"image": "v1"})
    assert status_and_json(await request(client, vm_id, "GET", "/jobs/job-unknown", AUTH))[0] == 404
    assert status_and_json(await request(client, vm_id, "GET", f"/jobs/{job}?wait=999", AUTH))[0] == 400


async def test_cancelling_a_job_cancels_the_client_handler(client, vm_id):
    entered, cancelled = trio.Event(), trio.Event()

    async def forever(value, vm):
        entered.set()
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            cancelled.set()
            raise

    client.on_tool("slow", forever)
    await client.tools.register(vm_id, [ToolSpec(name="slow", long_running=True, timeout_ms=600_000)])
    job = status_and_json(await request(client, vm_id, "POST", "/tools/slow", AUTH, body="{}"))[1]["jobId"]
    with trio.fail_after(30):
        await entered.wait()
    status, state = status_and_json(await request(client, vm_id, "DELETE", f"/jobs/{job}", AUTH))
    assert (status, state["state"]) == (200, "cancelled")
    with trio.fail_after(30):
        await cancelled.wait()
    entries = (await client.tools.log(vm_id)).entries
    assert entries[-1].status == "cancelled"


async def test_a_tool_that_does_not_answer_in_time_is_a_504(client, vm_id):
    async def forever(value, vm):
        await trio.sleep_forever()

    client.on_tool("stuck", forever)
    await client.tools.register(vm_id, [ToolSpec(name="stuck", timeout_ms=200)])
    assert status_and_json(await request(client, vm_id, "POST", "/tools/stuck", AUTH, body="{}"))[0] == 504


def test_the_blocking_client_answers_tools_with_plain_functions():
    with Client.connect() as c:
        vm = c.vm.create().vm_id
        c.on_tool("add", lambda value, vm_id: {"sum": value["a"] + value["b"]})
        c.tools.register(vm, [ADD])
        c.fs.write_file(vm, "/usr/bin/http_request", guest_bytes("http_request"), mode=0o755, create_dirs=True)
        argv = ["/usr/bin/http_request", "tools.agentvm.internal", "80", "POST", "/tools/add", "-H", AUTH, "-d", '{"a": 1, "b": 2}']
        assert status_and_json(c.process.exec(vm, argv=argv, timeout_ms=90_000).stdout) == (200, {"sum": 3})
