"""What concurrent commands cost beyond the same commands one after another: counters.

Starts a sidecar that counts, between two reads (SIGUSR1):
- the process's rusage: CPU, minor page faults, voluntary and involuntary context
  switches;
- the run-slot scheduler (wasm/scheduler.py): slots granted at once and after
  queueing, slices handed on, slots lent, the time threads spent queued and the time
  no guest held a slot (idle) while a guest thread existed;
- linear memories (wasm/memory_budget.py): new ones from the spares and fresh mmaps;
- waitpid: calls, WNOHANG polls and their misses;
- epoch safe points and process starts;
- CPU of the trio thread and of the epoch ticker.

The client runs ``--command`` N times one after another, N at once in one VM and N at
once in N VMs, the three modes interleaved (their order rotates every round), and
prints each run's wall time and its counters per command. Not a benchmark: compare
the modes within one run.

    .venv/bin/python bench/concurrency_counters.py --counts 20 --rounds 3
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pathlib
import resource
import signal
import sys
import tempfile
import threading
import time
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT_ENV = "CONCURRENCY_COUNTERS_OUT"


def _thread_cpu(tid: int) -> float:
    try:
        fields = pathlib.Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve_counted() -> int:
    """Run the sidecar on stdio with the counters above (see the module doc)."""
    from agentvm_sidecar.cli import main
    from agentvm_sidecar.kernel.process import ProcessTable
    from agentvm_sidecar.wasm import memory_budget, runtime, scheduler

    counts: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()
    ticker: list[int] = []

    from agentvm_sidecar.wasm import abi

    wrap = abi._wrap

    def counted_wrap(hf: abi.HostFunction) -> Any:
        call = wrap(hf)
        key = f"hc_{hf.name}_cpu_s"
        clock = time.thread_time

        def counted(*args: int) -> Any:
            t0 = clock()
            try:
                return call(*args)
            finally:
                spent = clock() - t0
                counts["host_calls"] += 1
                counts["host_call_cpu_s"] += spent
                counts[key] += spent

        return counted

    abi._wrap = counted_wrap  # before any linker is built: every callback goes through it

    class TimedQueue(collections.deque):  # type: ignore[type-arg]
        """A scheduler's queue that knows when each seat joined it."""

        def __init__(self) -> None:
            super().__init__()
            self.since: dict[int, float] = {}

        def append(self, seat: Any) -> None:
            counts["queued"] += 1
            counts["queue_len_sum"] += len(self)
            self.since[id(seat)] = time.monotonic()
            super().append(seat)

        def popleft(self) -> Any:
            seat = super().popleft()
            counts["queued_s"] += time.monotonic() - self.since.pop(id(seat))
            return seat

        def remove(self, seat: Any) -> None:
            self.since.pop(id(seat), None)
            super().remove(seat)

    idle = {"since": time.monotonic()}
    init = scheduler.Scheduler.__init__
    grant = scheduler.Scheduler._grant
    give_up = scheduler.Scheduler._give_up

    def patched_init(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self._queue = TimedQueue()

    def patched_grant(self: Any, seat: Any, now: float) -> None:
        if not self._holders and idle["since"] is not None:
            counts["idle_s"] += now - idle["since"]
            idle["since"] = None
        counts["grants"] += 1
        grant(self, seat, now)

    def patched_give_up(self: Any, seat: Any, now: float) -> None:
        counts["give_ups"] += 1
        give_up(self, seat, now)
        if not self._holders:
            idle["since"] = now

    scheduler.Scheduler.__init__ = patched_init
    scheduler.Scheduler._grant = patched_grant
    scheduler.Scheduler._give_up = patched_give_up

    safe_point = scheduler.Seat.safe_point

    def counted_safe_point(self: Any) -> None:
        counts["safe_points"] += 1
        safe_point(self)

    scheduler.Seat.safe_point = counted_safe_point

    wait_turn = scheduler.Seat._wait_turn

    def counted_wait_turn(self: Any) -> None:  # the context switches a queued thread made
        before = resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw
        try:
            wait_turn(self)
        finally:
            switches = resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw - before
            with lock:
                counts["turn_switches"] += switches

    scheduler.Seat._wait_turn = counted_wait_turn

    from agentvm_sidecar.kernel import blocking, pipes

    blocking_wait = blocking.wait

    def counted_blocking_wait(cond: Any, timeout: float | None) -> bool:
        woken = blocking_wait(cond, timeout)
        counts["cond_waits" if woken else "cond_timeouts"] += 1
        return woken

    blocking.wait = counted_blocking_wait
    pipe_wait = pipes.Pipe._wait

    def counted_pipe_wait(self: Any, *args: Any) -> None:
        before = resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw
        try:
            pipe_wait(self, *args)
        finally:
            switches = resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw - before
            with lock:
                counts["pipe_waits"] += 1
                counts["pipe_wait_switches"] += switches

    pipes.Pipe._wait = counted_pipe_wait

    take_spare = memory_budget._take_spare

    def counted_take_spare(mapped: int) -> int | None:
        base = take_spare(mapped)
        counts["memory_spare" if base is not None else "memory_mmap"] += 1
        return base

    memory_budget._take_spare = counted_take_spare

    waitpid = ProcessTable.waitpid

    def counted_waitpid(self: Any, *args: Any, nohang: bool, **kwargs: Any) -> Any:
        t0 = time.monotonic()
        result = waitpid(self, *args, nohang=nohang, **kwargs)
        with lock:
            counts["waitpid_nohang" if nohang else "waitpid"] += 1
            counts["waitpid_s"] += time.monotonic() - t0
            if nohang and result is None:
                counts["waitpid_nohang_miss"] += 1
        return result

    ProcessTable.waitpid = counted_waitpid

    run_process = runtime.GuestRuntime._run_process

    def counted_run_process(self: Any, kernel: Any, proc: Any, program: Any) -> None:
        t0 = time.thread_time()
        u0 = resource.getrusage(resource.RUSAGE_THREAD)
        try:
            run_process(self, kernel, proc, program)
        finally:
            spent = time.thread_time() - t0
            u1 = resource.getrusage(resource.RUSAGE_THREAD)
            name = "thread_cpu_" + pathlib.PurePath(str(proc.argv[0] if proc.argv else "?")).name
            with lock:
                counts["processes"] += 1
                counts["thread_cpu_s"] += spent
                counts[name] += spent
                counts["thread_user_s"] += u1.ru_utime - u0.ru_utime
                counts["thread_sys_s"] += u1.ru_stime - u0.ru_stime
                counts["thread_minflt"] += u1.ru_minflt - u0.ru_minflt
                counts["thread_nvcsw"] += u1.ru_nvcsw - u0.ru_nvcsw
                counts["thread_nivcsw"] += u1.ru_nivcsw - u0.ru_nivcsw

    runtime.GuestRuntime._run_process = counted_run_process

    def timed(module: Any, name: str) -> None:
        fn = getattr(module, name)

        def wrapper(*args: Any) -> Any:
            t0 = time.thread_time()
            try:
                return fn(*args)
            finally:
                with lock:
                    counts[name + "_cpu_s"] += time.thread_time() - t0

        setattr(module, name, wrapper)

    timed(runtime, "zero_freed_memories")
    tick = runtime.GuestRuntime._tick

    def named_tick(self: Any) -> None:
        ticker.append(threading.get_native_id())
        tick(self)

    runtime.GuestRuntime._tick = named_tick

    last: dict[str, float] = {}

    def snapshot() -> dict[str, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "minflt": usage.ru_minflt,
            "nvcsw": usage.ru_nvcsw,
            "nivcsw": usage.ru_nivcsw,
            "trio_cpu_s": _thread_cpu(os.getpid()),
            "ticker_cpu_s": sum(_thread_cpu(t) for t in ticker),
        }

    last.update(snapshot())

    def dump(*_: object) -> None:
        if idle["since"] is not None:  # idle up to now belongs to the window ending here
            at = time.monotonic()
            counts["idle_s"] += at - idle["since"]
            idle["since"] = at
        now = snapshot()
        data = {k: now[k] - last[k] for k in now}
        last.update(now)
        data.update(counts)
        counts.clear()
        pathlib.Path(os.environ[OUT_ENV]).write_text(json.dumps(data))

    # Experiments: module constants overridden from the environment (PROBE_module_NAME=value).
    import importlib

    for key, value in os.environ.items():
        if key.startswith("PROBE_"):
            module_name, _, constant = key[len("PROBE_"):].partition(":")
            setattr(importlib.import_module(f"agentvm_sidecar.{module_name}"), constant, type(
                getattr(importlib.import_module(f"agentvm_sidecar.{module_name}"), constant))(value))

    signal.signal(signal.SIGUSR1, dump)
    sys.argv = ["agentvm-sidecar", "--stdio"]
    return main()


ROWS = [
    ("cpu_s", "CPU s"), ("trio_cpu_s", "trio CPU s"), ("ticker_cpu_s", "ticker CPU s"),
    ("minflt", "minor faults"), ("nvcsw", "vol. switches"), ("nivcsw", "invol. switches"),
    ("processes", "processes"), ("thread_cpu_s", "guest threads CPU s"), ("thread_cpu_sh", "  sh"),
    ("thread_cpu_grep", "  grep"), ("thread_cpu_wc", "  wc"),
    ("thread_user_s", "  user s"), ("thread_sys_s", "  sys s"), ("thread_minflt", "  minor faults"),
    ("thread_nvcsw", "  vol. switches"), ("host_calls", "host calls"), ("host_call_cpu_s", "host-call CPU s"),
    ("hc_path_open_cpu_s", "  path_open"), ("hc_path_filestat_get_cpu_s", "  path_filestat_get"),
    ("hc_fd_read_cpu_s", "  fd_read"), ("hc_fd_readdir_cpu_s", "  fd_readdir"), ("hc_fd_close_cpu_s", "  fd_close"),
    ("hc_fd_write_cpu_s", "  fd_write"), ("hc_proc_waitpid_v2_cpu_s", "  proc_waitpid_v2"), ("thread_nivcsw", "  invol. switches"), ("zero_freed_memories_cpu_s", "zeroing CPU s"), ("memory_spare", "memories reused"), ("memory_mmap", "memories mmapped"),
    ("grants", "slot grants"), ("queued", "queued"), ("queue_len_sum", "queue ahead (sum)"),
    ("queued_s", "queued s"), ("idle_s", "slot idle s"), ("give_ups", "give-ups"),
    ("safe_points", "epoch safe points"), ("turn_switches", "switches while queued"), ("cond_waits", "cond waits notified"),
    ("cond_timeouts", "cond waits timed out"), ("pipe_waits", "pipe waits"),
    ("pipe_wait_switches", "  their switches"), ("waitpid", "waitpid"), ("waitpid_nohang", "WNOHANG polls"),
    ("waitpid_nohang_miss", "WNOHANG misses"), ("waitpid_s", "waitpid s"),
]


async def measure(command: str, counts: list[int], rounds: int, variants: list[str], pythons: list[str]) -> None:
    import contextlib

    import trio

    from agentvm import AsyncClient, HostDirMount, VmConfig

    sys.path.insert(0, str(ROOT / "bench"))
    from agent_work import copy_project

    with tempfile.TemporaryDirectory() as tmp:
        project = pathlib.Path(tmp) / "project"
        copy_project(project)
        config = VmConfig(mounts=[HostDirMount(path="/workspace", host_path=str(project))], cwd="/workspace")
        async with contextlib.AsyncExitStack() as stack:
            sidecars = []
            for i, variant in enumerate(variants):
                out = pathlib.Path(tmp) / f"counters-{i}.json"
                env = {**os.environ, OUT_ENV: str(out)}
                env.update(kv.split("=", 1) for kv in variant.split() if "=" in kv)
                python = pythons[i] if i < len(pythons) else sys.executable
                client = await stack.enter_async_context(
                    AsyncClient.connect([python, str(pathlib.Path(__file__).resolve()), "--sidecar"], env=env)
                )
                vm = (await client.vm.create(config)).vm_id
                for _ in range(3):
                    await client.process.exec(vm, command, timeout_ms=120_000)  # warm caches
                sidecars.append((variant or "base", client, vm, out))

            async def counters_since_last(client: Any, out: pathlib.Path) -> dict[str, float]:
                os.kill(client._conn._process.pid, signal.SIGUSR1)  # bench only: our subprocess
                for _ in range(200):  # the handler runs on the sidecar's main thread
                    await trio.sleep(0.01)
                    if out.exists():
                        data: dict[str, float] = json.loads(out.read_text())
                        out.unlink()
                        return data
                raise TimeoutError("the sidecar did not write its counters")

            modes = ["sequential", "one VM", "N VMs"]
            for n in counts:
                results: dict[tuple[str, str], list[tuple[float, dict[str, float]]]] = collections.defaultdict(list)
                for r in range(rounds):
                    order = sidecars[r % len(sidecars):] + sidecars[: r % len(sidecars)]
                    for name, client, vm, out in order:
                        for mode in modes[r % 3:] + modes[: r % 3]:
                            many = [(await client.vm.create(config)).vm_id for _ in range(n)] if mode == "N VMs" else []
                            await counters_since_last(client, out)
                            t0 = time.perf_counter()
                            if mode == "sequential":
                                for _ in range(n):
                                    await client.process.exec(vm, command, timeout_ms=120_000)
                            else:
                                async with trio.open_nursery() as nursery:
                                    for v in many or [vm] * n:
                                        nursery.start_soon(
                                            lambda c=client, v=v: c.process.exec(v, command, timeout_ms=120_000)
                                        )
                            wall = time.perf_counter() - t0
                            results[(name, mode)].append((wall, await counters_since_last(client, out)))
                            for v in many:
                                await client.vm.dispose(v)
                for name, *_ in sidecars:
                    print(f"\n== {name}: N={n} x {command!r}, {rounds} rounds (per command; wall: whole run) ==")
                    print(f"{'':<22}" + "".join(f"{m:>26}" for m in modes))
                    print(f"{'wall s (run)':<22}" + "".join(
                        f"{' '.join(f'{w:.2f}' for w, _ in results[(name, m)]):>26}" for m in modes))
                    for key, label in ROWS:
                        cells = [" ".join(f"{c.get(key, 0) / n:.3g}" for _, c in results[(name, m)]) for m in modes]
                        print(f"{label:<22}" + "".join(f"{c:>26}" for c in cells))
                if len(sidecars) > 1:
                    print(f"\n== N={n}: wall p50 (min) and CPU s per command p50, by variant ==")
                    for name, *_ in sidecars:
                        cells = []
                        for m in modes:
                            walls = sorted(w for w, _ in results[(name, m)])
                            cpus = sorted(c["cpu_s"] / n for _, c in results[(name, m)])
                            cells.append(f"{walls[len(walls) // 2]:.2f} ({walls[0]:.2f}) {cpus[len(cpus) // 2]:.4f}")
                        print(f"{name:<40}" + "".join(f"{m}: {c:<26}" for m, c in zip(modes, cells, strict=True)))
            for _, client, vm, _ in sidecars:
                await client.vm.dispose(vm)


def main() -> None:
    if sys.argv[1:] == ["--sidecar"]:
        raise SystemExit(serve_counted())
    import trio

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--command", default="grep -rn import . | wc -l")
    parser.add_argument("--counts", default="10,20", help="concurrency levels, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--variant", action="append", default=[],
        help="one sidecar per variant, with these VAR=value settings in its environment (repeat; '' = as is)",
    )
    parser.add_argument(
        "--python", action="append", default=[],
        help="the Python (its venv's agentvm) of each variant's sidecar, in order (default: this one)",
    )
    args = parser.parse_args()
    trio.run(
        measure, args.command, [int(c) for c in args.counts.split(",")], args.rounds,
        args.variant or [""], args.python,
    )


if __name__ == "__main__":
    main()
