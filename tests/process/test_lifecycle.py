"""process.spawn / events / stdin / kill / wait / list / tree through the wire."""

from __future__ import annotations

import pytest
import trio

from agentvm import RpcError, VmConfig, VmLimits
from tests.process.conftest import running_pids, wait_until_no_process_runs


async def collect_until_exit(events, pid):
    out = {"stdout": b"", "stderr": b""}
    with trio.fail_after(60):
        async for ev in events:
            if getattr(ev, "pid", None) != pid:
                continue
            if ev.__class__.__name__ == "ProcessOutputEvent":
                out[ev.stream] += ev.data
            else:
                return out, ev


async def test_spawn_streams_output_then_exit_event(client, vm_id):
    async with client.events() as events:
        pid = (await client.process.spawn(vm_id, "echo out; echo err >&2; exit 3")).pid
        out, exit_ev = await collect_until_exit(events, pid)
    assert out == {"stdout": b"out\n", "stderr": b"err\n"}
    assert exit_ev.exit_code == 3
    assert (await client.process.wait(vm_id, pid)).exit_code == 3


async def test_stdin_streaming_to_cat(client, vm_id):
    async with client.events() as events:
        pid = (await client.process.spawn(vm_id, argv=["cat"])).pid
        for i in range(3):
            await client.process.write_stdin(vm_id, pid, f"line {i}\n".encode())
        await client.process.close_stdin(vm_id, pid)
        out, exit_ev = await collect_until_exit(events, pid)
    assert out["stdout"] == b"line 0\nline 1\nline 2\n"
    assert exit_ev.exit_code == 0


async def test_kill_ends_a_cpu_bound_shell_loop_promptly(client, vm_id):
    pid = (await client.process.spawn(vm_id, "while true; do :; done")).pid
    await trio.sleep(0.3)
    await client.process.kill(vm_id, pid, "SIGKILL")
    with trio.fail_after(10):
        res = await client.process.wait(vm_id, pid)
    assert (res.exit_code, res.signal) == (137, "SIGKILL")


async def test_sigterm_kills_a_sleeping_process(client, vm_id):
    pid = (await client.process.spawn(vm_id, argv=["sleep", "30"])).pid
    await client.process.kill(vm_id, pid)
    with trio.fail_after(10):
        res = await client.process.wait(vm_id, pid)
    assert (res.exit_code, res.signal) == (143, "SIGTERM")


async def test_wait_with_timeout_reports_timeout_and_keeps_running(client, vm_id):
    pid = (await client.process.spawn(vm_id, argv=["sleep", "30"])).pid
    with pytest.raises(RpcError) as err:
        await client.process.wait(vm_id, pid, timeout_ms=100)
    assert err.value.kind == "timeout"
    listed = {p.pid: p for p in (await client.process.list(vm_id)).processes}
    assert listed[pid].state == "running" and listed[pid].argv == ["sleep", "30"]
    await client.process.kill(vm_id, pid, "SIGKILL")


async def test_exec_timeout_kills_and_reports_124(client, vm_id):
    res = await client.process.exec(vm_id, "sleep 30", timeout_ms=300)
    assert res.timed_out and res.exit_code == 124


async def test_exec_timeout_kills_the_whole_command_tree(client, vm_id):
    t0 = trio.current_time()
    res = await client.process.exec(vm_id, "sh -c 'sleep 30'; echo never", timeout_ms=500)
    assert res.timed_out and res.exit_code == 124 and b"never" not in res.stdout
    assert trio.current_time() - t0 < 10
    await wait_until_no_process_runs(client, vm_id)


async def test_exec_timeout_bounds_a_background_child_holding_stdout(client, vm_id):
    t0 = trio.current_time()
    res = await client.process.exec(vm_id, "sleep 30 & echo started", timeout_ms=1000)
    assert trio.current_time() - t0 < 10
    assert res.timed_out and res.stdout == b"started\n"
    await wait_until_no_process_runs(client, vm_id)


async def test_kill_of_a_spawned_shell_ends_its_pipeline_children(client, vm_id):
    pid = (await client.process.spawn(vm_id, "sleep 30 | cat; echo done")).pid
    with trio.fail_after(20):
        while len(await running_pids(client, vm_id)) < 3:
            await trio.sleep(0.05)
    await client.process.kill(vm_id, pid, "SIGTERM")
    assert (await client.process.wait(vm_id, pid)).signal == "SIGTERM"
    await wait_until_no_process_runs(client, vm_id)


async def test_process_tree_shows_children_of_the_shell(client, vm_id):
    pid = (await client.process.spawn(vm_id, "sleep 30 | cat")).pid
    with trio.fail_after(20):
        while True:
            roots = (await client.process.tree(vm_id)).roots
            shell = next(r for r in roots if r.process.pid == pid)
            if len(shell.children) == 2:
                break
            await trio.sleep(0.05)
    assert sorted(c.process.argv[0].rsplit("/", 1)[-1] for c in shell.children) == ["cat", "sleep"]
    await client.process.kill(vm_id, pid, "SIGKILL")


async def test_cancelling_a_wait_leaves_the_connection_and_the_process_alive(client, vm_id):
    pid = (await client.process.spawn(vm_id, argv=["sleep", "30"])).pid
    with trio.move_on_after(0.2):
        await client.process.wait(vm_id, pid)
    # the connection is still usable and the process still runs
    assert any(p.pid == pid for p in (await client.process.list(vm_id)).processes)
    await client.process.kill(vm_id, pid, "SIGKILL")


async def test_dispose_kills_running_processes(client):
    vm = (await client.vm.create()).vm_id
    await client.process.spawn(vm, "while true; do :; done")
    with trio.fail_after(15):
        await client.vm.dispose(vm)
    assert (await client.vm.list()).vms == []


async def test_processes_of_different_vms_run_concurrently(client):
    a = (await client.vm.create()).vm_id
    b = (await client.vm.create()).vm_id
    results = {}

    async def run(vm):
        results[vm] = await client.process.exec(vm, "seq 1 3 | wc -l")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run, a)
        nursery.start_soon(run, b)
    assert results[a].stdout.strip() == results[b].stdout.strip() == b"3"


async def test_process_limit_fires_with_eagain(client):
    vm = (await client.vm.create(VmConfig(limits=VmLimits(max_processes=2)))).vm_id
    first = (await client.process.spawn(vm, argv=["sleep", "30"])).pid
    second = (await client.process.spawn(vm, argv=["sleep", "30"])).pid
    with pytest.raises(RpcError) as err:
        await client.process.spawn(vm, argv=["sleep", "30"])
    assert (err.value.kind, err.value.errno) == ("limit_exceeded", "EAGAIN")
    for pid in (first, second):
        await client.process.kill(vm, pid, "SIGKILL")


async def test_argv_env_limit_fires_with_e2big(client):
    vm = (await client.vm.create(VmConfig(limits=VmLimits(max_argv_env_bytes=4096)))).vm_id
    with pytest.raises(RpcError) as err:
        await client.process.exec(vm, argv=["echo", "x" * 5000])
    assert (err.value.kind, err.value.errno) == ("limit_exceeded", "E2BIG")


@pytest.mark.parametrize(("cwd", "errno"), [("/no/such/dir", "ENOENT"), ("/etc/passwd", "ENOTDIR")])
async def test_exec_and_spawn_refuse_a_cwd_that_is_not_a_directory(client, vm_id, cwd, errno):
    for start in (client.process.exec, client.process.spawn):
        with pytest.raises(RpcError) as err:
            await start(vm_id, "pwd", cwd=cwd)
        assert (err.value.errno, err.value.path) == (errno, cwd)
    usage = (await client.vm.info(vm_id)).info.usage
    assert (usage.open_fds, usage.pipes, usage.processes) == (0, 0, 0)


async def test_a_subscription_nobody_reads_holds_back_only_its_process(client, vm_id):
    total = 20 * 1024 * 1024
    async with client.events() as events:
        pid = (await client.process.spawn(vm_id, f"head -c {total} /dev/zero")).pid
        await trio.sleep(1.0)
        # nobody reads the subscription: other calls are still answered at once...
        with trio.fail_after(10):
            assert (await client.process.exec(vm_id, "echo still served")).stdout == b"still served\n"
            await client.vm.list()
        # ...and the producer is held back by its output window, not buffered away
        assert pid in await running_pids(client, vm_id)
        received = 0
        with trio.fail_after(120):
            async for ev in events:
                if getattr(ev, "pid", None) != pid:
                    continue
                if ev.__class__.__name__ == "ProcessOutputEvent":
                    received += len(ev.data)
                else:
                    assert ev.exit_code == 0
                    break
    assert received == total


async def test_output_nobody_subscribed_to_does_not_block_the_process(client, vm_id):
    pid = (await client.process.spawn(vm_id, "head -c 5000000 /dev/zero")).pid
    with trio.fail_after(60):
        assert (await client.process.wait(vm_id, pid)).exit_code == 0


async def test_cancelling_an_exec_kills_its_processes(client, vm_id):
    with trio.move_on_after(1.5):  # sends $/cancelRequest
        await client.process.exec(vm_id, "sleep 30 & sleep 30")
    await wait_until_no_process_runs(client, vm_id)
    assert (await client.process.exec(vm_id, "echo alive")).stdout == b"alive\n"


async def test_kill_reaches_the_session_after_its_leader_exited(client, vm_id):
    pid = (await client.process.spawn(vm_id, "sleep 30 </dev/null >/dev/null 2>&1 & echo started")).pid
    with trio.fail_after(30):
        await client.process.wait(vm_id, pid)
    await trio.sleep(0.3)  # its output streams end too: the sidecar forgets the leader
    assert await running_pids(client, vm_id)  # the background sleep lives on
    await client.process.kill(vm_id, pid, "SIGKILL")
    await wait_until_no_process_runs(client, vm_id)
    with pytest.raises(RpcError) as err:  # nothing of that session is left now
        await client.process.kill(vm_id, pid, "SIGKILL")
    assert err.value.kind == "not_found"
