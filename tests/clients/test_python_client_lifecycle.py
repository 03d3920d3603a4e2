"""Client lifecycle: handshake, sync facade, and clear errors instead of hangs."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import sys
import textwrap
import threading
import time

import pytest
import trio

from agentvm import AsyncClient, Client, RpcError, SidecarError, VersionMismatchError, VmConfig
from agentvm._api import FsApi
from agentvm_protocol import make_error
from tests.conftest import SIDECAR


def fake_sidecar(tmp_path, body: str) -> list[str]:
    script = tmp_path / "fake_sidecar.py"
    script.write_text(textwrap.dedent(body))
    return [sys.executable, str(script)]


async def test_hello_reports_version_limits_and_methods(client):
    assert client.hello.protocol_version == 1
    assert "fs.readFile" in client.hello.methods
    assert client.hello.default_limits.memory_bytes_per_process == 128 * 1024 * 1024


async def test_missing_sidecar_binary_fails_to_start_clearly():
    with pytest.raises(SidecarError) as err:
        async with AsyncClient.connect(["/nonexistent/agentvm-sidecar", "--stdio"]):
            pass
    assert err.value.reason == "failed_to_start"


async def test_sidecar_that_exits_immediately_raises_instead_of_hanging(tmp_path):
    cmd = fake_sidecar(tmp_path, "import sys; sys.exit(3)")
    with trio.fail_after(20), pytest.raises(SidecarError) as err:
        async with AsyncClient.connect(cmd):
            pass
    assert err.value.reason == "exited" and err.value.returncode == 3


DIES_AT_ITS_FIRST_REQUEST = """
import json, sys
hello = json.loads(sys.stdin.readline())
print(json.dumps({"jsonrpc": "2.0", "id": hello["id"], "result": {
    "protocolVersion": 1, "sidecarVersion": "fake", "maxFrameBytes": 1000, "defaultLimits": {}, "methods": []}}),
    flush=True)
sys.stdin.readline()
sys.exit(7)
"""


async def test_sidecar_dying_mid_request_fails_the_request(tmp_path):
    cmd = fake_sidecar(tmp_path, DIES_AT_ITS_FIRST_REQUEST)
    with trio.fail_after(20):
        async with AsyncClient.connect(cmd) as c:
            with pytest.raises(SidecarError) as err:
                await c.vm.list()
    assert err.value.reason == "exited"


async def test_version_mismatch_is_a_typed_error(tmp_path):
    cmd = fake_sidecar(
        tmp_path,
        """
        import json, sys
        hello = json.loads(sys.stdin.readline())
        print(json.dumps({"jsonrpc": "2.0", "id": hello["id"], "error": {"code": -32003, "message": "no",
            "data": {"kind": "version_mismatch", "expectedVersion": 2, "receivedVersion": 1}}}), flush=True)
        sys.stdin.read()
        """,
    )
    with trio.fail_after(20), pytest.raises(VersionMismatchError) as err:
        async with AsyncClient.connect(cmd):
            pass
    assert err.value.kind == "version_mismatch"


# A fake sidecar that answers hello, then runs BODY with `send(obj)`, `recv()` and
# `log(obj)` (appends JSON to the file named by argv[1]) in scope.
FAKE_PRELUDE = """
import json, sys
def send(obj): print(json.dumps({"jsonrpc": "2.0", **obj}), flush=True)
def recv(): return json.loads(sys.stdin.readline())
def log(obj):
    with open(sys.argv[1], "a") as f: f.write(json.dumps(obj) + "\\n")
hello = recv()
send({"id": hello["id"], "result": {"protocolVersion": 1, "sidecarVersion": "fake", "maxFrameBytes": 100000,
      "defaultLimits": {}, "methods": []}})
"""


def scripted_sidecar(tmp_path, body: str) -> tuple[list[str], pathlib.Path]:
    log = tmp_path / "fake.log"
    cmd = fake_sidecar(tmp_path, FAKE_PRELUDE + textwrap.dedent(body))
    return [*cmd, str(log)], log


def logged(log: pathlib.Path) -> list:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


async def test_cancelling_a_call_sends_cancel_request_and_the_connection_stays_usable(tmp_path):
    cmd, log = scripted_sidecar(
        tmp_path,
        """
        first = recv()                       # vm.list, never answered
        log(recv())                          # what the client sends when it gives up
        second = recv()
        send({"id": second["id"], "result": {"vms": []}})
        sys.stdin.read()
        """,
    )
    async with AsyncClient.connect(cmd) as c:
        with trio.move_on_after(0.5):
            await c.vm.list()
        with trio.fail_after(10):
            assert (await c.vm.list()).vms == []
    assert logged(log) == [{"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 2}}]


async def test_a_line_that_is_not_json_rpc_fails_pending_calls_instead_of_hanging(tmp_path):
    cmd, _ = scripted_sidecar(tmp_path, "recv(); print('this is not JSON', flush=True); sys.stdin.read()")
    async with AsyncClient.connect(cmd) as c:
        with trio.fail_after(10), pytest.raises(SidecarError) as err:
            await c.vm.list()
        assert err.value.reason == "protocol_error"
        assert "this is not JSON" in str(err.value)  # the offending line is quoted
        with pytest.raises(SidecarError):
            await c.vm.list()  # a broken connection stays broken


async def test_an_event_the_client_cannot_decode_is_skipped_not_fatal(tmp_path, caplog):
    cmd, _ = scripted_sidecar(
        tmp_path,
        """
        req = recv()
        send({"method": "event", "params": {"type": "from.the.future", "x": 1}})
        send({"method": "event", "params": {"type": "process.exit", "vmId": "v", "pid": 1, "exitCode": 0}})
        send({"id": req["id"], "result": {"vms": []}})
        sys.stdin.read()
        """,
    )
    async with AsyncClient.connect(cmd) as c, c.events() as events:
        with trio.fail_after(10):
            assert (await c.vm.list()).vms == []
            assert (await events.receive()).exit_code == 0
    assert "cannot decode" in caplog.text


async def test_events_end_when_the_sidecar_dies_even_if_subscribed_afterwards(tmp_path):
    cmd, _ = scripted_sidecar(tmp_path, "recv(); sys.exit(0)")
    async with AsyncClient.connect(cmd) as c:
        with pytest.raises(SidecarError):
            await c.vm.list()
        with trio.fail_after(10):
            async with c.events() as events:
                assert [e async for e in events] == []


async def test_the_handshake_timeout_is_configurable(tmp_path):
    cmd = fake_sidecar(tmp_path, "import sys; sys.stdin.read()")
    with trio.fail_after(20), pytest.raises(SidecarError) as err:
        async with AsyncClient.connect(cmd, handshake_timeout=0.5):
            pass
    assert err.value.reason == "timeout"


async def test_a_handshake_timeout_kills_a_sidecar_that_ignores_end_of_input(tmp_path):
    # Before: the client closed stdin and granted the 10 s shutdown grace on top of
    # the handshake timeout (3 s took 13 s). A sidecar that never answered has no VM
    # to dispose, so it is killed at once; this one would outlive the deadline below.
    cmd = fake_sidecar(tmp_path, "import sys, time; sys.stdin.read(); time.sleep(60)")
    with trio.fail_after(8), pytest.raises(SidecarError) as err:
        async with AsyncClient.connect(cmd, handshake_timeout=0.5):
            pass
    assert err.value.reason == "timeout"


def test_the_sync_client_works_without_a_with_block_and_fails_clearly_after_close():
    client = Client.connect(SIDECAR)
    try:
        assert client.vm.list().vms == []
    finally:
        client.close()
    client.close()  # idempotent
    with pytest.raises(SidecarError) as err:
        client.vm.list()
    assert err.value.reason == "exited"


def test_a_call_after_the_with_block_raises_an_agentvm_error():
    with Client.connect(SIDECAR) as client:
        pass
    with pytest.raises(SidecarError):
        client.create_vm()


SIDECAR_ASKS_THE_CLIENT = """
req = recv()  # the client's vm.list, sent once its handlers are registered
send({"id": "ask-1", "method": "test.ask", "params": {"question": 6}})
log(recv())
send({"id": "ask-2", "method": "test.refuse", "params": {}})
log(recv())
send({"id": "ask-3", "method": "test.unknown", "params": {}})
log(recv())
send({"id": req["id"], "result": {"vms": []}})
sys.stdin.read()
"""


async def test_requests_from_the_sidecar_are_answered_by_handlers(tmp_path):
    cmd, log = scripted_sidecar(tmp_path, SIDECAR_ASKS_THE_CLIENT)

    async def ask(params):
        await trio.sleep(0)
        return {"answer": params["question"] * 7}

    async def refuse(params):
        raise RpcError(make_error("permission_denied", "not allowed"))

    async with AsyncClient.connect(cmd) as c:
        c.on_request("test.ask", ask)
        c.on_request("test.refuse", refuse)
        with trio.fail_after(10):
            await c.vm.list()
    assert_handler_answers(logged(log))


def test_the_sync_client_answers_sidecar_requests_with_blocking_handlers(tmp_path):
    cmd, log = scripted_sidecar(tmp_path, SIDECAR_ASKS_THE_CLIENT)

    def refuse(params):
        raise RpcError(make_error("permission_denied", "not allowed"))

    with Client.connect(cmd) as c:
        c.on_request("test.ask", lambda params: {"answer": params["question"] * 7})
        c.on_request("test.refuse", refuse)
        c.vm.list()
    assert_handler_answers(logged(log))


def assert_handler_answers(answers: list) -> None:
    assert answers[0] == {"jsonrpc": "2.0", "id": "ask-1", "result": {"answer": 42}}
    assert answers[1]["id"] == "ask-2" and answers[1]["error"]["data"]["kind"] == "permission_denied"
    assert answers[2]["id"] == "ask-3" and answers[2]["error"]["data"]["kind"] == "method_not_found"


def test_sync_facade_drives_the_same_methods():
    with Client.connect(SIDECAR) as c:
        vm = c.vm.create().vm_id
        c.fs.write_file(vm, "/tmp/s", b"sync")
        assert c.fs.read_file(vm, "/tmp/s").data == b"sync"
        with pytest.raises(RpcError) as err:
            c.fs.read_file(vm, "/tmp/none")
        assert err.value.errno == "ENOENT"
        assert c.fs.read_file.__doc__ == FsApi.read_file.__doc__


def test_a_blocking_call_fails_when_the_sidecar_dies_under_it(tmp_path):
    cmd = fake_sidecar(tmp_path, DIES_AT_ITS_FIRST_REQUEST)
    with Client.connect(cmd) as c, pytest.raises(SidecarError) as err:
        c.vm.list()  # written and waited for on this thread; the reader task fails it
    assert err.value.reason == "exited"


def test_blocking_calls_from_many_threads_keep_every_line_whole():
    # Small requests are written by their own threads (Connection.call_blocking);
    # requests over PIPE_BUF go through the client's trio thread, partly written
    # at a time. No line may land inside another.
    big = bytes(range(256)) * 1024  # 256 KiB: many times PIPE_BUF, base64 on the wire
    errors: list[BaseException] = []
    with Client.connect(SIDECAR) as c:
        vm = c.vm.create().vm_id

        def small(n: int) -> None:
            try:
                for i in range(100):
                    assert c.fs.exists(vm, "/tmp").exists
                    assert c.process.exec(vm, f"echo {n}-{i}").stdout == f"{n}-{i}\n".encode()
            except BaseException as exc:  # reported below
                errors.append(exc)

        def large(n: int) -> None:
            try:
                for _ in range(10):
                    c.fs.write_file(vm, f"/tmp/big{n}", big)
                    assert c.fs.read_file(vm, f"/tmp/big{n}").data == big
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=small, args=(n,)) for n in range(6)]
        threads += [threading.Thread(target=large, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert errors == []


def test_a_blocking_call_writes_its_request_on_the_calling_thread(monkeypatch):
    from agentvm import _connection

    writers: list[int] = []
    real_write = os.write

    def spy(fd: int, data: bytes) -> int:
        if b'"vm.list"' in bytes(data):
            writers.append(threading.get_ident())
        return real_write(fd, data)

    monkeypatch.setattr(_connection.os, "write", spy)
    with Client.connect(SIDECAR) as c:
        c.vm.list()
    assert writers == [threading.get_ident()]


def test_sync_facade_reports_a_missing_sidecar():
    with pytest.raises(SidecarError), Client.connect(["/nonexistent/sidecar"]):
        pass


async def test_a_request_over_max_frame_bytes_fails_locally_instead_of_hanging():
    async with AsyncClient.connect([*SIDECAR, "--max-frame-bytes", "2000"]) as c:
        vm = (await c.vm.create()).vm_id
        with trio.fail_after(10), pytest.raises(RpcError) as err:
            await c.fs.write_file(vm, "/tmp/big", b"x" * 5000)
        assert err.value.kind == "frame_too_large"
        assert (await c.vm.list()).vms[0].vm_id == vm


def test_sync_facade_streams_process_events():
    with Client.connect(SIDECAR) as c:
        vm = c.vm.create().vm_id
        with c.events() as events:
            pid = c.process.spawn(vm, "echo streamed").pid
            seen = []
            for ev in events:
                seen.append(ev)
                if type(ev).__name__ == "ProcessExitEvent" and ev.pid == pid:
                    break
        assert b"".join(e.data for e in seen if type(e).__name__ == "ProcessOutputEvent") == b"streamed\n"
        assert seen[-1].exit_code == 0


async def test_missing_guest_software_is_unavailable_with_a_hint(tmp_path):
    env = {**os.environ, "AGENTVM_SOFTWARE_DIR": str(tmp_path / "none")}
    async with AsyncClient.connect(SIDECAR, env=env) as c:
        with pytest.raises(RpcError) as err:
            await c.vm.create()
        assert err.value.kind == "unavailable"
        assert "agentvm-sidecar setup" in err.value.message  # the command for this context
        # a VM without the command layer still works
        vm = (await c.vm.create(VmConfig(software=False))).vm_id
        await c.fs.write_file(vm, "/tmp/a", b"x")


async def test_a_result_nested_too_deep_fails_only_its_call_and_the_connection_keeps_serving(tmp_path):
    cmd, _ = scripted_sidecar(
        tmp_path,
        """
        first = recv()
        sys.stdout.write('{"jsonrpc":"2.0","id":%s,"result":%s%s}\\n' % (json.dumps(first["id"]), "[" * 1000, "]" * 1000))
        sys.stdout.flush()
        second = recv()
        send({"id": second["id"], "result": {"vms": []}})
        sys.stdin.read()
        """,
    )
    async with AsyncClient.connect(cmd) as c:
        with trio.fail_after(10), pytest.raises(RpcError) as err:
            await c.vm.list()
        assert err.value.kind == "invalid_request"
        with trio.fail_after(10):
            assert (await c.vm.list()).vms == []


def test_an_interrupted_blocking_call_cancels_its_request():
    class Interrupted(Exception):
        pass

    def interrupt(signum, frame):
        raise Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        with Client.connect(SIDECAR) as c:
            vm = c.vm.create().vm_id
            signal.setitimer(signal.ITIMER_REAL, 0.5)
            with pytest.raises(Interrupted):
                c.process.exec(vm, "sleep 30")  # waiting on this thread when the signal comes
            deadline = time.monotonic() + 20
            while c.process.list(vm).processes:  # the cancel reached the sidecar: it killed the session
                assert time.monotonic() < deadline, "the interrupted exec still runs"
                time.sleep(0.05)
            assert c.process.exec(vm, "echo still serving").stdout == b"still serving\n"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
