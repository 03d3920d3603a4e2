"""Client lifecycle: handshake, sync facade, and clear errors instead of hangs."""

from __future__ import annotations

import os
import sys
import textwrap

import pytest
import trio

from agentvm import AsyncClient, Client, RpcError, SidecarError, VersionMismatchError, VmConfig
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


async def test_sidecar_dying_mid_request_fails_the_request(tmp_path):
    cmd = fake_sidecar(
        tmp_path,
        """
        import json, sys
        hello = json.loads(sys.stdin.readline())
        print(json.dumps({"jsonrpc": "2.0", "id": hello["id"], "result": {
            "protocolVersion": 1, "sidecarVersion": "fake", "maxFrameBytes": 1000, "defaultLimits": {}, "methods": []}}),
            flush=True)
        sys.stdin.readline()
        sys.exit(7)
        """,
    )
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


async def test_cancelling_a_call_does_not_break_the_connection(client):
    with trio.move_on_after(0):
        await client.vm.list()
    assert (await client.vm.list()).vms == []


def test_sync_facade_drives_the_same_methods():
    with Client.connect(SIDECAR) as c:
        vm = c.vm.create().vm_id
        c.fs.write_file(vm, "/tmp/s", b"sync")
        assert c.fs.read_file(vm, "/tmp/s").data == b"sync"
        with pytest.raises(RpcError) as err:
            c.fs.read_file(vm, "/tmp/none")
        assert err.value.errno == "ENOENT"
        assert c.fs.read_file.__doc__ == "Read a whole file."


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
        assert "agentvm_sidecar.software.fetch" in err.value.message
        # a VM without the command layer still works
        vm = (await c.vm.create(VmConfig(software=False))).vm_id
        await c.fs.write_file(vm, "/tmp/a", b"x")
