"""``agentvm-sidecar --stdio --workers N``: VMs in worker processes behind a router.

The conformance suite runs every case against two workers too
(tests/conformance/test_conformance.py); here is what only a router has: VMs spread
over the workers, a worker that dies takes only its own VMs, cancellation reaches
the worker, no worker outlives the router, and the options it refuses.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from agentvm import AsyncClient, RpcError

WORKERS = [sys.executable, "-m", "agentvm_sidecar", "--stdio", "--workers", "2"]


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == str(pid):
            out.append(int(stat.parent.name))
    return sorted(out)


def _router_pid(client: AsyncClient) -> int:
    return client._conn._process.pid  # type: ignore[attr-defined]


async def test_a_worker_that_dies_takes_only_its_own_vms():
    async with AsyncClient.connect(WORKERS) as client:
        vms = [(await client.vm.create()).vm_id for _ in range(4)]
        workers = _children(_router_pid(client))
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        with trio.fail_after(10):
            while len(_children(_router_pid(client))) == 2 or workers[0] in _children(_router_pid(client)):
                await trio.sleep(0.05)
        survived, lost = [], []
        for vm in vms:
            try:
                result = await client.process.exec(vm, "echo alive")
            except RpcError as exc:
                assert exc.kind == "unavailable", exc
                assert "exited" in str(exc)
                lost.append(vm)
            else:
                assert result.stdout == b"alive\n"
                survived.append(vm)
        assert len(survived) == len(lost) == 2  # placed two and two
        assert sorted(v.vm_id for v in (await client.vm.list()).vms) == sorted(survived)
        await client.vm.dispose(lost[0])  # it is gone already: disposing it says so, and forgets it
        with pytest.raises(RpcError) as forgotten:
            await client.process.exec(lost[0], "echo")
        assert forgotten.value.kind == "not_found"
        fresh = (await client.vm.create()).vm_id  # on the worker still alive
        assert (await client.process.exec(fresh, "echo new")).stdout == b"new\n"


async def test_a_request_in_flight_when_its_worker_dies_answers_unavailable():
    async with AsyncClient.connect(WORKERS) as client:
        vm = (await client.vm.create()).vm_id
        workers = _children(_router_pid(client))  # both: which one runs the VM is not visible from here
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_kill_when_running, client, vm, workers)
            with trio.fail_after(20), pytest.raises(RpcError) as lost:
                await client.process.exec(vm, "sleep 60")
        assert lost.value.kind == "unavailable"


async def _kill_when_running(client: AsyncClient, vm: str, workers: list[int]) -> None:
    with trio.fail_after(10):
        while not (await client.process.list(vm)).processes:
            await trio.sleep(0.02)
    for pid in workers:
        os.kill(pid, signal.SIGKILL)


async def test_errors_travel_back_as_the_worker_answered():
    async with AsyncClient.connect(WORKERS) as client:
        vm = (await client.vm.create()).vm_id
        with pytest.raises(RpcError) as missing:
            await client.fs.read_file(vm, "/nope")
        assert (missing.value.kind, missing.value.errno, missing.value.path) == ("not_found", "ENOENT", "/nope")
        with pytest.raises(RpcError) as unknown:
            await client.fs.read_file("vm-000000000000", "/etc/hostname")
        assert unknown.value.kind == "not_found"


async def test_a_cancelled_request_stops_in_the_worker():
    async with AsyncClient.connect(WORKERS) as client:
        vm = (await client.vm.create()).vm_id
        with trio.move_on_after(0.5) as waited:
            await client.process.exec(vm, "sleep 30")
        assert waited.cancelled_caught
        with trio.fail_after(10):
            while (await client.process.list(vm)).processes:
                await trio.sleep(0.05)


async def test_no_worker_outlives_the_router():
    async with AsyncClient.connect(WORKERS) as client:
        await client.vm.create()
        workers = _children(_router_pid(client))
        assert len(workers) == 2
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@pytest.mark.parametrize(("args", "message"), [(["--workers", "-1"], "--workers must be"), (["--workers", "65"], "--workers must be")])
def test_a_worker_count_out_of_range_is_refused(args: list[str], message: str):
    done = subprocess.run(
        [sys.executable, "-m", "agentvm_sidecar", "--stdio", *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert message in done.stderr


def test_a_worker_that_cannot_start_stops_the_router_with_a_clear_error():
    script = (
        "import sys\n"
        "import agentvm_sidecar.cli as cli\n"
        "from agentvm_sidecar.workers import WorkerCommand\n"
        "cli.worker_command = lambda count, options: WorkerCommand(count, (sys.executable, '-c', 'raise SystemExit(3)'))\n"
        "sys.exit(cli.main(['--stdio', '--workers', '2']))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("agentvm-sidecar: worker ") and "did not start: worker process" in last and "(status 3)" in last


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("fs.readFile", {"vmId": 5, "path": "/x"}),
        ("fs.readFile", {"path": "/x"}),
        ("fs.readFile", {"vmId": "vm-000000000000", "path": "/x", "bogus": 1}),
        ("fs.readFile", {"vmId": "vm-000000000000", "path": "/x"}),
        ("session.prompt", {"sessionId": "nope"}),
        ("vm.list", {"bogus": 1}),
        ("vm.dispose", {"vmId": ""}),
    ],
)
async def test_bad_requests_answer_as_one_process_does(method: str, params: dict):
    answers = []
    for command in (None, WORKERS):
        async with AsyncClient.connect(command) as client:
            with pytest.raises(RpcError) as failed:
                await client.call_raw(method, params)
            answers.append((failed.value.kind, str(failed.value)))
    assert answers[0] == answers[1]
