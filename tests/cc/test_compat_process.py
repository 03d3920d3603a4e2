"""The compat library's process half, through a real VM: a guest built with
agentvm-cc spawns with redirections, joins children with a pipe, reads exit
codes and signals, uses popen/system, sees its parent, mask and cwd, and keeps
close-on-exec fds from its children."""

from __future__ import annotations

from tests.process.conftest import sh

GUEST = "/usr/bin/procs"


async def run(client, vm_id: str, procs_guest: bytes, mode: str) -> list[str]:
    await client.fs.write_file(vm_id, GUEST, procs_guest, mode=0o755)
    res = await sh(client, vm_id, f"{GUEST} {mode}")
    assert res.exit_code == 0, res.stderr
    return res.stdout.decode().splitlines()


async def test_spawn_applies_open_and_dup2_file_actions(client, vm_id, procs_guest):
    lines = await run(client, vm_id, procs_guest, "redirect")
    assert lines == [
        "child exited 0",
        "/tmp/cc-out.txt: apple",
        "/tmp/cc-out.txt: banana",
        "/tmp/cc-out.txt: to-stderr",
    ]


async def test_a_pipe_joins_two_children_and_wait_reports_each_exit_code(client, vm_id, procs_guest):
    lines = await run(client, vm_id, procs_guest, "pipeline")
    # the consumer's output and the parent's reports interleave as they run
    assert [line for line in lines if line.isupper()] == ["ONE", "TWO"]
    assert sorted(line for line in lines if "exited" in line) == ["consumer exited 4", "producer exited 3"]
    assert lines[-1] == "wait again -1 ECHILD"


async def test_kill_terminates_a_child_and_waitpid_reports_the_signal(client, vm_id, procs_guest):
    lines = await run(client, vm_id, procs_guest, "signals")
    assert lines == [
        "kill0 0",
        "kill 0",
        "reaped 1",
        "sleeper signalled 15",
        "kill reaped -1 ESRCH",
        "nohang -1 ECHILD",
    ]


async def test_popen_reads_and_writes_and_system_returns_the_status(client, vm_id, procs_guest):
    lines = await run(client, vm_id, procs_guest, "streams")
    assert lines == [
        "read: from-child",
        "popen r exited 2",
        "popen w exited 0",
        "/tmp/cc-popen.txt: SHOUT",
        "system exited 5",
        "system shell 1",
    ]


async def test_spawn_failures_are_errno_values(client, vm_id, procs_guest):
    lines = await run(client, vm_id, procs_guest, "failures")
    assert lines == [
        "spawnp missing ENOENT",
        "spawn bare ENOENT",  # posix_spawn does not search $PATH: ./sh does not exist
        "spawn bad fd EBADF",
        "dup2 bad -1 EBADF",
        "dup 1",
        "waitpid none -1 ECHILD",
    ]


async def test_a_child_sees_its_parent_inherits_the_mask_and_starts_in_the_chdir_cwd(client, vm_id, procs_guest):
    lines = await run(client, vm_id, procs_guest, "family")
    parent = next(line.split()[-1] for line in lines if line.startswith("parent pid"))
    assert f"child ppid {parent}" in lines
    assert "child usr1 blocked 1" in lines
    assert "child cwd /tmp/cc-sub" in lines
    assert lines[-1] == "child exited 0"


async def test_close_on_exec_fds_do_not_reach_a_spawned_child(client, vm_id, procs_guest):
    lines = await run(client, vm_id, procs_guest, "cloexec")
    # O_CLOEXEC open, plain open, pipe2(O_CLOEXEC) both ends, F_SETFD, F_DUPFD copy
    assert lines == [
        "getfd 1 0 1 1 0",
        "dupfd 20",
        "child sees closed open closed closed closed open",
        "checker exited 0",
    ]
