"""Processes run on spare threads (wasm/spare_threads.py): a thread that ran a process
and now waits for the next one keeps nothing of it (guest context, blocking hook,
attribute cache) and is not a running guest for the epoch ticker."""

from __future__ import annotations

import threading

import trio

from agentvm_protocol import ProcessExecParams, VmConfig
from agentvm_sidecar.kernel import attrcache, blocking
from agentvm_sidecar.vms import VmRegistry
from agentvm_sidecar.wasm import context, runtime


async def test_a_thread_waiting_after_a_process_keeps_nothing_of_it(monkeypatch):
    ran_on: set[int] = set()
    real_run_process = runtime.GuestRuntime._run_process

    def recorded(self, *args):  # type: ignore[no-untyped-def]
        ran_on.add(threading.get_ident())
        return real_run_process(self, *args)

    monkeypatch.setattr(runtime.GuestRuntime, "_run_process", recorded)
    guests = runtime.shared_runtime()
    async with trio.open_nursery() as nursery:
        vms = VmRegistry(nursery)
        vm = await vms.create(VmConfig())
        result = await vm.processes.exec(ProcessExecParams(vm_id=vm.vm_id, command="cat /etc/hostname > /dev/null; echo hi"))
        assert result.exit_code == 0
        with trio.fail_after(10):
            while not guests.threads.statistics().idle:
                await trio.sleep(0.001)
        assert guests._guests == 0  # waiting threads are not guests: the ticker may sleep
        seen: dict[str, object] = {}
        probed = threading.Event()

        def probe() -> None:
            seen.update(
                thread=threading.get_ident(), context=getattr(context._local, "ctx", None),
                blocking_hook=getattr(blocking._local, "hook", None), attr_cache=attrcache.current(),
            )
            probed.set()

        guests.threads.run(probe)
        assert await trio.to_thread.run_sync(probed.wait, 10)
        assert seen.pop("thread") in ran_on  # the probe ran on a thread that ran a process
        assert seen == {"context": None, "blocking_hook": None, "attr_cache": None}
        await vms.dispose_all()
        nursery.cancel_scope.cancel()
