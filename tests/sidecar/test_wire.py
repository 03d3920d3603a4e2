"""The raw wire: bad frames and handshake rules, spoken directly to the sidecar process.

Each case sends bytes a client library would never send and checks the JSON-RPC error
``kind``, then proves the sidecar still serves.
"""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys

import pytest
import trio

HELLO = {"jsonrpc": "2.0", "id": "h", "method": "hello", "params": {"protocolVersion": 1}}


class RawSidecar:
    def __init__(self, proc: trio.Process) -> None:
        self.proc = proc
        self.buf = b""

    async def send(self, payload: bytes | dict) -> None:
        line = payload if isinstance(payload, bytes) else json.dumps(payload).encode() + b"\n"
        await self.proc.stdin.send_all(line)

    async def recv(self) -> dict:
        with trio.fail_after(20):
            while b"\n" not in self.buf:
                chunk = await self.proc.stdout.receive_some(65536)
                assert chunk, "sidecar closed stdout"
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    async def call(self, payload: bytes | dict) -> dict:
        await self.send(payload)
        return await self.recv()


@pytest.fixture
async def raw():
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-m", "agentvm_sidecar", "--stdio", "--max-frame-bytes", "4096", "--log-level", "error"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        yield RawSidecar(proc)
    finally:
        proc.kill()
        await proc.wait()


async def ready(raw: RawSidecar) -> None:
    assert "result" in await raw.call(HELLO)


def kind(reply: dict) -> str:
    return reply["error"]["data"]["kind"]


async def still_serving(raw: RawSidecar) -> None:
    reply = await raw.call({"jsonrpc": "2.0", "id": "ping", "method": "vm.list", "params": {}})
    assert reply == {"jsonrpc": "2.0", "id": "ping", "result": {"vms": []}}


async def test_request_before_hello_is_refused_with_not_initialized(raw):
    reply = await raw.call({"jsonrpc": "2.0", "id": 1, "method": "vm.list", "params": {}})
    assert kind(reply) == "not_initialized" and reply["id"] == 1
    await ready(raw)
    await still_serving(raw)


async def test_version_mismatch_names_both_versions_and_nothing_else_is_served(raw):
    reply = await raw.call({"jsonrpc": "2.0", "id": 1, "method": "hello", "params": {"protocolVersion": 999}})
    assert kind(reply) == "version_mismatch"
    assert reply["error"]["data"]["expectedVersion"] == 1 and reply["error"]["data"]["receivedVersion"] == 999
    assert kind(await raw.call({"jsonrpc": "2.0", "id": 2, "method": "vm.list", "params": {}})) == "version_mismatch"
    assert kind(await raw.call(HELLO)) == "version_mismatch"


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (b"{not json\n", "parse_error"),
        (b"[1, 2, 3]\n", "invalid_request"),
        (b'"just a string"\n', "invalid_request"),
        (b'{"jsonrpc":"2.0","id":5,"method":"no.such"}\n', "method_not_found"),
        (b'{"jsonrpc":"2.0","id":6,"method":"vm.info","params":{"vmId":42}}\n', "invalid_params"),
        (b'{"jsonrpc":"2.0","id":7,"method":"vm.info","params":{"vmId":"vm-nope"}}\n', "not_found"),
        (b'{"jsonrpc":"2.0","id":8,"method":"fs.readFile","params":{"vmId":"v","path":"/a\\u0000b"}}\n', "invalid_params"),
        (b'{"jsonrpc":"2.0","id":9,"method":"vm.list","params":{"extra":1}}\n', "invalid_params"),
        (b'{"jsonrpc":"2.0","id":1,"method":"x' + b"x" * 5000 + b'"}\n', "frame_too_large"),
    ],
)
async def test_bad_input_gets_a_stable_error_kind_and_the_sidecar_keeps_serving(raw, frame, expected):
    await ready(raw)
    reply = await raw.call(frame)
    assert kind(reply) == expected
    await still_serving(raw)


async def test_nul_in_a_path_is_invalid_params_on_a_real_vm(raw):
    await ready(raw)
    vm = (await raw.call({"jsonrpc": "2.0", "id": 1, "method": "vm.create", "params": {}}))["result"]["vmId"]
    reply = await raw.call(
        {"jsonrpc": "2.0", "id": 2, "method": "fs.writeFile", "params": {"vmId": vm, "path": "/tmp/a\x00b", "data": ""}}
    )
    assert kind(reply) == "invalid_params"


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("vm.create", {"config": {"mounts": [{"type": "host_dir", "path": "/h", "hostPath": "/tmp\x00/x"}]}}),
        ("vm.create", {"config": {"env": {"A\x00B": "1"}}}),
        ("vm.create", {"config": {"env": {"A=B": "1"}}}),
        ("vm.create", {"config": {"env": {"A": "1\x002"}}}),
        ("process.exec", {"vmId": "VM", "argv": ["echo", "a\x00b"]}),
        ("process.exec", {"vmId": "VM", "command": "echo a\x00b"}),
        ("process.spawn", {"vmId": "VM", "command": "true", "env": {"": "x"}}),
        ("fs.symlink", {"vmId": "VM", "path": "/tmp/l", "target": "/a\x00b"}),
    ],
)
async def test_nul_and_bad_names_in_strings_reaching_the_guest_are_invalid_params(raw, method, params):
    await ready(raw)
    vm = (await raw.call({"jsonrpc": "2.0", "id": 1, "method": "vm.create", "params": {}}))["result"]["vmId"]
    if params.get("vmId") == "VM":
        params = {**params, "vmId": vm}
    assert kind(await raw.call({"jsonrpc": "2.0", "id": 2, "method": method, "params": params})) == "invalid_params"
    await still_serving_vm(raw, vm)


async def test_cancel_request_ends_a_blocked_request_with_cancelled(raw):
    await ready(raw)
    vm = (await raw.call({"jsonrpc": "2.0", "id": 1, "method": "vm.create", "params": {}}))["result"]["vmId"]
    spawn = {"vmId": vm, "argv": ["sleep", "30"]}
    pid = (await raw.call({"jsonrpc": "2.0", "id": 2, "method": "process.spawn", "params": spawn}))["result"]["pid"]
    await raw.send({"jsonrpc": "2.0", "id": 3, "method": "process.wait", "params": {"vmId": vm, "pid": pid}})
    await raw.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 3}})
    reply = await raw.recv()
    while reply.get("method") == "event":
        reply = await raw.recv()
    assert reply["id"] == 3 and kind(reply) == "cancelled"
    await still_serving_vm(raw, vm)


async def still_serving_vm(raw: RawSidecar, vm: str) -> None:
    reply = await raw.call({"jsonrpc": "2.0", "id": "ping", "method": "vm.info", "params": {"vmId": vm}})
    assert reply["result"]["info"]["vmId"] == vm


async def test_a_slow_request_does_not_block_others(raw):
    await ready(raw)
    vm = (await raw.call({"jsonrpc": "2.0", "id": 1, "method": "vm.create", "params": {}}))["result"]["vmId"]
    slow = {"vmId": vm, "command": "sleep 2; echo slow", "timeoutMs": 20000}
    await raw.send({"jsonrpc": "2.0", "id": "slow", "method": "process.exec", "params": slow})
    fast = await raw.call({"jsonrpc": "2.0", "id": "fast", "method": "vm.list", "params": {}})
    assert fast["id"] == "fast"
    assert (await raw.recv())["id"] == "slow"


async def test_cancel_for_an_unknown_request_id_is_ignored_without_a_reply(raw):
    await ready(raw)
    await raw.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 12345}})
    await still_serving(raw)


async def _logged_sidecar_with_a_busy_vm(tmp_path) -> tuple[RawSidecar, str]:
    """A sidecar logging at info level to tmp_path/stderr, with one VM running a guest."""
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-m", "agentvm_sidecar", "--stdio", "--log-level", "info"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=(tmp_path / "stderr").open("wb"),
    )
    raw = RawSidecar(proc)
    await ready(raw)
    vm = (await raw.call({"jsonrpc": "2.0", "id": 1, "method": "vm.create", "params": {}}))["result"]["vmId"]
    spin = {"vmId": vm, "command": "while :; do :; done"}
    assert "result" in await raw.call({"jsonrpc": "2.0", "id": 2, "method": "process.spawn", "params": spin})
    return raw, vm


def _disposed(tmp_path) -> list[str]:
    logs = [json.loads(line) for line in (tmp_path / "stderr").read_text().splitlines()]
    return [e["vm_id"] for e in logs if e["event"] == "vm_disposed"]


@pytest.mark.parametrize("stop", ["end of input", "SIGTERM"])
async def test_shutdown_disposes_vms_with_running_guests_and_exits_zero(tmp_path, stop):
    raw, vm = await _logged_sidecar_with_a_busy_vm(tmp_path)
    if stop == "SIGTERM":
        raw.proc.send_signal(signal.SIGTERM)
    else:
        await raw.proc.stdin.aclose()
    with trio.fail_after(20):
        assert await raw.proc.wait() == 0
    assert _disposed(tmp_path) == [vm]


async def test_requests_received_before_end_of_input_are_all_answered():
    lines = [
        HELLO,
        {"jsonrpc": "2.0", "id": 2, "method": "vm.create", "params": {}},
        {"jsonrpc": "2.0", "id": 3, "method": "vm.list", "params": {}},
    ]
    proc = await trio.run_process(
        [sys.executable, "-m", "agentvm_sidecar", "--stdio"],
        stdin=b"".join(json.dumps(line).encode() + b"\n" for line in lines), capture_stdout=True,
    )
    answers = {a["id"]: a for a in map(json.loads, proc.stdout.splitlines())}
    assert sorted(answers, key=str) == [2, 3, "h"]
    assert "vmId" in answers[2]["result"]


async def test_a_request_still_running_at_end_of_input_is_answered_cancelled(raw):
    await ready(raw)
    vm = (await raw.call({"jsonrpc": "2.0", "id": 1, "method": "vm.create", "params": {}}))["result"]["vmId"]
    spawn = {"vmId": vm, "argv": ["sleep", "60"]}
    pid = (await raw.call({"jsonrpc": "2.0", "id": 2, "method": "process.spawn", "params": spawn}))["result"]["pid"]
    await raw.send({"jsonrpc": "2.0", "id": 3, "method": "process.wait", "params": {"vmId": vm, "pid": pid}})
    await raw.proc.stdin.aclose()
    with trio.fail_after(30):
        rest = raw.buf
        while chunk := await raw.proc.stdout.receive_some(65536):
            rest += chunk
        assert await raw.proc.wait() == 0
    wait_answer = next(a for a in map(json.loads, rest.splitlines()) if a.get("id") == 3)
    assert wait_answer["error"]["data"]["kind"] == "cancelled"


async def test_a_result_larger_than_max_frame_bytes_is_limit_exceeded_not_a_broken_frame(raw):
    await ready(raw)  # this sidecar's frames are at most 4096 bytes
    vm = (await raw.call({"jsonrpc": "2.0", "id": 1, "method": "vm.create", "params": {"config": {"software": False}}}))
    vm = vm["result"]["vmId"]
    # each file fits a frame; both together, base64-encoded, do not
    write = {"vmId": vm, "path": "/tmp/big", "data": base64.b64encode(b"x" * 2900).decode()}
    assert "result" in await raw.call({"jsonrpc": "2.0", "id": 2, "method": "fs.writeFile", "params": write})
    await raw.call({"jsonrpc": "2.0", "id": 3, "method": "fs.writeFile", "params": {**write, "path": "/tmp/big2"}})
    reply = await raw.call({"jsonrpc": "2.0", "id": 4, "method": "fs.readFiles", "params": {"vmId": vm, "paths": ["/tmp/big", "/tmp/big2"]}})
    assert reply["id"] == 4 and kind(reply) == "limit_exceeded"
    await still_serving_vm(raw, vm)


async def test_answers_stay_whole_lines_while_the_client_reads_slowly():
    """Answers bigger than the pipe, to requests in flight together, read a little at
    a time: each part written at once or queued behind the rest, never torn."""
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-m", "agentvm_sidecar", "--stdio", "--log-level", "error"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    raw = RawSidecar(proc)
    try:
        await ready(raw)
        vm = (await raw.call({"jsonrpc": "2.0", "id": 1, "method": "vm.create", "params": {"config": {"software": False}}}))["result"]["vmId"]
        files = {f"/tmp/f{i}": bytes([65 + i]) * (50_000 + 7_919 * i) for i in range(24)}  # 50-230 KB each
        for path, data in files.items():
            write = {"vmId": vm, "path": path, "data": base64.b64encode(data).decode()}
            assert "result" in await raw.call({"jsonrpc": "2.0", "id": 2, "method": "fs.writeFile", "params": write})
        for i, path in enumerate(files):
            await raw.send({"jsonrpc": "2.0", "id": 100 + i, "method": "fs.readFile", "params": {"vmId": vm, "path": path}})
        answers = {}
        with trio.fail_after(60):
            while len(answers) < len(files):
                while b"\n" not in raw.buf:
                    raw.buf += await proc.stdout.receive_some(4096)
                    await trio.sleep(0.0005)
                line, raw.buf = raw.buf.split(b"\n", 1)
                answer = json.loads(line)
                answers[answer["id"]] = base64.b64decode(answer["result"]["data"])
        assert answers == {100 + i: data for i, data in enumerate(files.values())}
        await still_serving_vm(raw, vm)
    finally:
        proc.kill()
        await proc.wait()


async def test_every_exec_is_answered_exactly_once_however_its_end_races_a_timeout_or_a_cancel(raw):
    # An exec may be answered from its guest thread as its process exits
    # (rpc/early_answers.py) or by its task (timeout, cancel): never both.
    await ready(raw)
    vm = (await raw.call({"jsonrpc": "2.0", "id": "vm", "method": "vm.create", "params": {}}))["result"]["vmId"]
    ids = []
    for n in range(60):
        kind = n % 3
        params = {"vmId": vm, "command": f"echo {n}" if kind == 0 else "sleep 0.02; echo late"}
        if kind == 1:
            params["timeoutMs"] = 20  # the deadline and the exit arrive together
        await raw.send({"jsonrpc": "2.0", "id": n, "method": "process.exec", "params": params})
        if kind == 2:
            await trio.sleep(0.015)
            await raw.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": n}})
        ids.append(n)
    answers: list[dict] = []
    while len(answers) < len(ids):
        answers.append(await raw.recv())
    await raw.send({"jsonrpc": "2.0", "id": "last", "method": "vm.list", "params": {}})
    while (message := await raw.recv()).get("id") != "last":
        answers.append(message)  # a second answer to one of them would land here
    assert sorted(a["id"] for a in answers) == ids
    for a in answers:
        n = a["id"]
        if n % 3 == 0:
            assert a["result"]["stdout"] == base64.b64encode(f"{n}\n".encode()).decode()
        elif n % 3 == 2:
            assert a.get("error", {}).get("data", {}).get("kind") == "cancelled" or a["result"]["exitCode"] == 0


async def test_an_id_answered_early_may_be_used_again_at_once(raw):
    # An exec answered by its guest thread (rpc/early_answers.py) is no longer in
    # flight for the client, though its task has not finished yet.
    await ready(raw)
    vm = (await raw.call({"jsonrpc": "2.0", "id": "vm", "method": "vm.create", "params": {}}))["result"]["vmId"]
    for n in range(50):
        answer = await raw.call({"jsonrpc": "2.0", "id": 7, "method": "process.exec", "params": {"vmId": vm, "command": f"echo {n}"}})
        assert answer.get("result", {}).get("stdout") == base64.b64encode(f"{n}\n".encode()).decode(), answer
