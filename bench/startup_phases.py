"""Where the time of one `process.exec` goes, phase by phase, in-process (no wire).

Runs a VmRegistry on a trio loop in this process, as the sidecar does, and runs
``COMMAND`` (default ``echo hi``, through ``sh -c``) ``--runs`` times, stamping
each phase boundary by wrapping the function that marks it:

    0 exec            ClientProcesses.exec is called (pipes, fd table, then a spare guest thread)
    1 create runs     wasm.spawn.create_process starts on the guest thread (resolve, create)
    2 created         the process exists; the trio side is told (phase 6's hop, the other way)
    3 guest runs      GuestRuntime._run_process starts on the same thread (Store, context, linker)
    4a instantiate    InstancePre.instantiate is called (linear memory, data segments)
    4b instantiated   the program's _start is about to run
    5 guest exits     ProcessTable.exit (the program's own run ends just before)
    6 trio sees exit  ClientProcesses._exited runs on the trio thread
    7 exec returns    the result is built (the wire would encode and send it now)

So spawn-to-first-instruction is 0 -> 4b, exit-to-response is 5 -> 7. Prints the
p50 of each step, and of the whole exec with its minimum and the process CPU time
(all threads); then, per exec, the trio thread's CPU and what trio did (a
``trio.abc.Instrument``): its loop iterations (each an epoll call and a batch of
task steps) and each task's steps. The trio thread's Python competes for the GIL
with the guest it waits for, so its rounds show in the exec's wall time. Not a
benchmark with a peer: a profile aid for issue 11.

    .venv/bin/python bench/startup_phases.py --runs 300
    .venv/bin/python bench/startup_phases.py 'ls /' --runs 100
"""

from __future__ import annotations

import argparse
import collections
import itertools
import logging
import statistics
import time
from collections.abc import Callable
from typing import Any

import structlog
import trio
import wasmtime

from agentvm_protocol import ProcessExecParams, VmConfig
from agentvm_sidecar import client_processes
from agentvm_sidecar.kernel import process as kernel_process
from agentvm_sidecar.vms import VmRegistry
from agentvm_sidecar.wasm import runtime

_marks: dict[str, float] = {}


def _stamped(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _marks.setdefault(name, time.perf_counter())
        return fn(*args, **kwargs)

    return wrapper


def _stamped_after(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        _marks.setdefault(name, time.perf_counter())
        return result

    return wrapper


def _install_stamps() -> None:
    client_processes.create_process = _stamped_after("2 created", _stamped("1 create runs", client_processes.create_process))
    runtime.GuestRuntime._run_process = _stamped("3 guest runs", runtime.GuestRuntime._run_process)  # type: ignore[method-assign]
    instantiate = wasmtime.InstancePre.instantiate
    wasmtime.InstancePre.instantiate = _stamped_after("4b instantiated", _stamped("4a instantiate", instantiate))  # type: ignore[method-assign]
    kernel_process.ProcessTable.exit = _stamped("5 guest exits", kernel_process.ProcessTable.exit)  # type: ignore[method-assign]
    client_processes.ClientProcesses._exited = _stamped("6 trio sees exit", client_processes.ClientProcesses._exited)  # type: ignore[method-assign]


class _TrioRounds(trio.abc.Instrument):
    """Counts the trio loop's iterations and each task's steps while ``counting``."""

    def __init__(self) -> None:
        self.counting = False
        self.iterations = 0
        self.steps: collections.Counter[str] = collections.Counter()

    def after_io_wait(self, timeout: float) -> None:
        self.iterations += self.counting

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if self.counting:
            self.steps[task.name.rsplit(".", 1)[-1]] += 1


_rounds = _TrioRounds()


async def _run(command: str, runs: int) -> None:
    steps: collections.defaultdict[str, list[float]] = collections.defaultdict(list)
    totals: list[float] = []
    cpu: list[float] = []
    async with trio.open_nursery() as nursery:
        registry = VmRegistry(nursery)
        vm = await registry.create(VmConfig())
        params = ProcessExecParams(vm_id=vm.vm_id, command=command)
        for _ in range(5):  # warm: module cache, spare memories
            await vm.processes.exec(params)
        _rounds.counting = True
        trio_cpu = time.thread_time()
        for _ in range(runs):
            _marks.clear()
            c0 = time.process_time()
            _marks["0 exec"] = t0 = time.perf_counter()
            await vm.processes.exec(params)
            _marks["7 exec returns"] = t1 = time.perf_counter()
            totals.append(t1 - t0)
            cpu.append(time.process_time() - c0)
            names = sorted(_marks)
            for a, b in itertools.pairwise(names):
                steps[f"{a} -> {b}"].append(_marks[b] - _marks[a])
        trio_cpu = time.thread_time() - trio_cpu
        _rounds.counting = False
        await registry.dispose(vm.vm_id)
        nursery.cancel_scope.cancel()
    for step, times in steps.items():
        print(f"{step:<40} p50 {statistics.median(times) * 1e6:8.1f} us")
    print(
        f"total p50 {statistics.median(totals) * 1e6:.1f} us (min {min(totals) * 1e6:.1f}), "
        f"process CPU p50 {statistics.median(cpu) * 1e6:.1f} us"
    )
    print(
        f"per exec: trio thread CPU {trio_cpu / runs * 1e6:.1f} us, trio loop iterations "
        f"{_rounds.iterations / runs:.2f}, task steps "
        + ", ".join(f"{name} {n / runs:.2f}" for name, n in _rounds.steps.most_common())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", default="echo hi")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    _install_stamps()
    trio.run(_run, args.command, args.runs, instruments=[_rounds])


if __name__ == "__main__":
    main()
