"""A wire-started process is created on its own guest thread (client_processes.py,
GuestRuntime.create_and_run). A request cancelled meanwhile still learns of the
process and kills it, a spawn error still reaches the request as it did from a
worker thread, and creations at once are bounded per VM."""

from __future__ import annotations

import threading
import time

import pytest
import trio

from agentvm_protocol import ProcessExecParams, VmConfig
from agentvm_sidecar import client_processes
from agentvm_sidecar.kernel.errors import KernelError
from agentvm_sidecar.vms import VM_WORKER_THREADS, VmRegistry
from tests.waiting import AtOnce


async def test_a_request_cancelled_while_its_process_is_created_still_kills_it(monkeypatch):
    creating = threading.Event()
    go_on = threading.Event()
    created = threading.Event()
    real_create = client_processes.create_process

    def held_create(*args, **kwargs):  # runs on the new guest thread
        creating.set()
        go_on.wait(10)
        try:
            return real_create(*args, **kwargs)
        finally:
            created.set()

    monkeypatch.setattr(client_processes, "create_process", held_create)
    async with trio.open_nursery() as nursery:
        vms = VmRegistry(nursery)
        vm = await vms.create(VmConfig())
        request = trio.CancelScope()
        ended = trio.Event()

        async def run() -> None:
            with request:
                await vm.processes.exec(ProcessExecParams(vm_id=vm.vm_id, command="sleep 30"))
            ended.set()

        nursery.start_soon(run)
        assert await trio.to_thread.run_sync(creating.wait, 10)
        request.cancel()  # while the guest thread is still creating the process
        await trio.sleep(0.05)  # the request had its chance to give up too early
        go_on.set()
        assert await trio.to_thread.run_sync(created.wait, 10)
        with trio.fail_after(10):  # the cancelled exec killed the session; its exit reaps it
            await ended.wait()
            while len(vm.kernel.processes):
                await trio.sleep(0.01)
        assert request.cancelled_caught
        await vms.dispose_all()
        nursery.cancel_scope.cancel()


async def test_a_spawn_error_raised_on_the_guest_thread_reaches_the_request():
    async with trio.open_nursery() as nursery:
        vms = VmRegistry(nursery)
        vm = await vms.create(VmConfig())
        with pytest.raises(KernelError) as caught:
            await vm.processes.exec(ProcessExecParams(vm_id=vm.vm_id, argv=["/no/such/program"]))
        assert caught.value.errno == "ENOENT"
        assert len(vm.kernel.processes) == 0
        # the VM's fds and pipes were given back: the next process starts as usual
        ok = await vm.processes.exec(ProcessExecParams(vm_id=vm.vm_id, command="echo hi"))
        assert ok.stdout == b"hi\n"
        await vms.dispose_all()
        nursery.cancel_scope.cancel()


async def test_execs_created_at_once_are_bounded_and_all_answer(monkeypatch):
    # An exec is created on its guest thread without telling trio (client_processes.py,
    # _Launch): at most VM_WORKER_THREADS at once per VM; those beyond take a worker
    # token as every other thread call does, so a client flooding execs cannot make
    # the sidecar start a thread per request.
    creating = AtOnce()
    real_create = client_processes.create_process

    def held_create(*args, **kwargs):
        with creating.inside():
            time.sleep(0.5)
        return real_create(*args, **kwargs)

    monkeypatch.setattr(client_processes, "create_process", held_create)
    async with trio.open_nursery() as nursery:
        vms = VmRegistry(nursery)
        vm = await vms.create(VmConfig())
        answers: list[bytes] = []

        async def run(i: int) -> None:
            answers.append((await vm.processes.exec(ProcessExecParams(vm_id=vm.vm_id, command=f"echo {i}"))).stdout)

        with trio.fail_after(60):
            async with trio.open_nursery() as execs:
                for i in range(2 * VM_WORKER_THREADS + 4):
                    execs.start_soon(run, i)
        assert sorted(answers) == sorted(f"{i}\n".encode() for i in range(2 * VM_WORKER_THREADS + 4))
        assert VM_WORKER_THREADS < creating.peak <= 2 * VM_WORKER_THREADS
        await vms.dispose_all()
        nursery.cancel_scope.cancel()
