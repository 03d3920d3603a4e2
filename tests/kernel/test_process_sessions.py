"""Process sessions: a killed session starts nothing new until it is empty, and
shutting the table down signals everything at once and waits once."""

from __future__ import annotations

import threading
import time

import pytest

from agentvm_sidecar.kernel.errors import KernelError
from agentvm_sidecar.kernel.fstypes import CLIENT, USER
from agentvm_sidecar.kernel.kernel import Kernel
from agentvm_sidecar.kernel.limits import Limits
from agentvm_sidecar.kernel.process import ExitStatus, ProcessState


@pytest.fixture
def kernel():
    return Kernel(Limits())


def _create(kernel: Kernel, ppid: int = 0):
    return kernel.processes.create(ppid=ppid, argv=["p"], env={}, cwd="/", fds=kernel.new_fd_table(), cred=USER)


def test_a_killed_session_cannot_start_processes_until_it_is_empty(kernel: Kernel):
    table = kernel.processes
    leader = _create(kernel)
    child = _create(kernel, leader.pid)
    assert table.kill_session(leader.pid, 9) == 2
    with pytest.raises(KernelError) as err:
        _create(kernel, child.pid)  # a child spawning before it noticed its kill
    assert err.value.errno == "EAGAIN"
    other = _create(kernel)  # other sessions are unaffected
    table.exit(child, ExitStatus(0, 9))
    table.exit(leader, ExitStatus(0, 9))
    assert table.kill_session(leader.pid, 9) == 0
    table.exit(other, ExitStatus(0))


def test_an_ignored_signal_does_not_stop_a_session_from_spawning(kernel: Kernel):
    table = kernel.processes
    leader = _create(kernel)
    assert table.kill_session(leader.pid, 17) == 1  # SIGCHLD: ignored by default
    table.exit(_create(kernel, leader.pid), ExitStatus(0))
    table.exit(leader, ExitStatus(0))


def test_shutdown_signals_every_process_then_waits_once(kernel: Kernel):
    procs = [_create(kernel) for _ in range(4)]
    seen_signalled: list[int] = []

    def runner(proc):
        # each process exits only once every process has its kill: a table that
        # signalled and waited one by one would never see the second one exit
        while not all(p.pending_kill for p in procs):
            time.sleep(0.005)
        seen_signalled.append(proc.pid)
        kernel.processes.exit(proc, ExitStatus(0, 9))

    for proc in procs:
        threading.Thread(target=runner, args=(proc,), daemon=True).start()
    assert kernel.processes.shutdown(timeout=30) == []
    assert sorted(seen_signalled) == [p.pid for p in procs]
    with pytest.raises(KernelError) as err:
        _create(kernel)
    assert err.value.errno == "EAGAIN"


def test_kernel_shutdown_abandons_stuck_processes_after_one_overall_deadline(kernel: Kernel, monkeypatch):
    import agentvm_sidecar.kernel.kernel as kernel_module

    monkeypatch.setattr(kernel_module, "SHUTDOWN_GRACE_SECONDS", 0.5)
    stuck = [_create(kernel) for _ in range(8)]  # no program runs them: they never exit
    t0 = time.monotonic()
    kernel.shutdown()
    # one deadline for all (0.5 s), not one per process (8 x 0.5 s); generous bound
    assert time.monotonic() - t0 < 3.5
    assert all(p.state is ProcessState.EXITED and p.status == ExitStatus(0, 9) for p in stuck)


def test_shutdown_nowait_refuses_while_a_process_runs_and_leaves_the_rest_to_shutdown(kernel: Kernel):
    kernel.mount_memory("/tmp")
    _create(kernel)
    assert kernel.shutdown_nowait() is False
    assert _create(kernel).state is ProcessState.RUNNING  # nothing changed: processes still start
    for proc in kernel.processes.all():
        kernel.processes.exit(proc, ExitStatus(0))
    kernel.shutdown()
    assert [m.path for m in kernel.vfs.mounts()] == ["/"]


def test_shutdown_nowait_of_an_idle_kernel_unmounts_and_refuses_new_processes(kernel: Kernel):
    kernel.mount_memory("/tmp")
    kernel.processes.exit(_create(kernel), ExitStatus(0))  # exited: the kernel is idle
    assert kernel.shutdown_nowait() is True
    assert [m.path for m in kernel.vfs.mounts()] == ["/"]
    with pytest.raises(KernelError) as err:
        _create(kernel)
    assert err.value.errno == "EAGAIN"


def test_shutdown_nowait_waits_for_nobody_holding_the_vm_lock(kernel: Kernel):
    held, release = threading.Event(), threading.Event()

    def holder():
        with kernel.lock:
            held.set()
            release.wait(30)

    threading.Thread(target=holder, daemon=True).start()
    held.wait(30)
    try:
        assert kernel.shutdown_nowait() is False  # at once, not after the holder
    finally:
        release.set()
    kernel.shutdown()
    assert [m.path for m in kernel.vfs.mounts()] == ["/"]


def test_shutdown_nowait_leaves_host_dir_mounts_to_shutdown(kernel: Kernel, tmp_path):
    kernel.vfs.mkdir("/host", 0o755, cred=CLIENT)
    kernel.mount_host_dir("/host", str(tmp_path), read_only=False)
    assert kernel.shutdown_nowait() is False
    kernel.shutdown()
    assert [m.path for m in kernel.vfs.mounts()] == ["/"]
