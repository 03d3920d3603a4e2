"""Host calls per command: how many each host function gets, and its CPU per call.

Starts a sidecar whose host functions (every import ``abi._wrap`` builds) count
their calls and the guest thread's CPU time (``time.thread_time``) around each, mounts
the same project copy as agent_work.py at /workspace, warms each command once, runs
it ``--runs`` times and prints, per run, the host functions by CPU. ``fd_read`` and
``fd_write`` are split by what they act on (``FileDescription``: a file;
``PipeReader``/``PipeWriter``: a pipe). Not a benchmark: the counting itself costs
~1 us per call, so compare counts and per-call costs between builds, not wall times.

    .venv/bin/python bench/host_calls.py                      # the file rows
    .venv/bin/python bench/host_calls.py 'ls -R | wc -l' --runs 5

The sidecar side of this script runs when it is started with ``--sidecar`` (the
client starts it so); SIGUSR1 makes it write its counts to ``$HOST_CALLS_OUT`` and
start again from zero. Calls the native library answered in C (native/) never reach
the Python wrapper: they are listed apart, counted but not timed.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pathlib
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT_ENV = "HOST_CALLS_OUT"


def serve_counted() -> int:
    """Run the sidecar on stdio with every host function counted (see the module doc)."""
    from agentvm_sidecar import native
    from agentvm_sidecar.cli import main
    from agentvm_sidecar.wasm import abi
    from agentvm_sidecar.wasm.context import current_context

    calls: collections.Counter[str] = collections.Counter()
    cpu: collections.Counter[str] = collections.Counter()
    wrap = abi._wrap

    def counted_wrap(hf: abi.HostFunction) -> Callable[..., Any]:
        call = wrap(hf)
        name = f"{hf.module}.{hf.name}"
        by_target = hf.name in ("fd_read", "fd_write")
        clock = time.thread_time

        def counted(*args: int) -> Any:
            key = name
            if by_target:
                key = f"{name}.{type(current_context().proc.fds.lookup(args[0] & 0xFFFFFFFF)).__name__}"
            t0 = clock()
            try:
                return call(*args)
            finally:
                cpu[key] += clock() - t0
                calls[key] += 1

        return counted

    abi._wrap = counted_wrap  # before any linker is built: every callback goes through it

    served_before = {name: counts[0] for name, counts in native.call_counts().items()}

    def dump(*_: object) -> None:
        data = {k: [calls[k], cpu[k]] for k in calls}
        for name, (served, _) in native.call_counts().items():  # answered in C, never in Python
            if served > served_before[name]:
                data[f"native {name} (in C, not timed)"] = [served - served_before[name], 0.0]
            served_before[name] = served
        pathlib.Path(os.environ[OUT_ENV]).write_text(json.dumps(data))
        calls.clear()
        cpu.clear()

    signal.signal(signal.SIGUSR1, dump)
    sys.argv = ["agentvm-sidecar", "--stdio"]
    return main()


async def count(commands: list[str], runs: int, top: int) -> None:
    import trio

    from agentvm import AsyncClient, HostDirMount, VmConfig

    sys.path.insert(0, str(ROOT / "bench"))
    from agent_work import copy_project

    with tempfile.TemporaryDirectory() as tmp:
        project = pathlib.Path(tmp) / "project"
        copy_project(project)
        out = pathlib.Path(tmp) / "counts.json"
        env = {**os.environ, OUT_ENV: str(out)}
        async with AsyncClient.connect([sys.executable, __file__, "--sidecar"], env=env) as client:
            pid = client._conn._process.pid  # bench only: the subprocess this client spawned

            async def counts_since_last() -> dict[str, list[float]]:
                os.kill(pid, signal.SIGUSR1)
                for _ in range(100):  # the handler runs on the sidecar's main thread
                    await trio.sleep(0.05)
                    if out.exists():
                        data: dict[str, list[float]] = json.loads(out.read_text())
                        out.unlink()
                        return data
                raise TimeoutError("the sidecar did not write its counts")

            config = VmConfig(mounts=[HostDirMount(path="/workspace", host_path=str(project))], cwd="/workspace")
            vm = (await client.vm.create(config)).vm_id
            for command in commands:
                await client.process.exec(vm, command, timeout_ms=120_000)  # warm caches
                await counts_since_last()
                for _ in range(runs):
                    await client.process.exec(vm, command, timeout_ms=120_000)
                data = await counts_since_last()
                native_calls = {k: v for k, v in data.items() if k.startswith("native ")}
                data = {k: v for k, v in data.items() if k not in native_calls}
                total_calls = sum(n for n, _ in data.values()) / runs
                total_cpu = sum(c for _, c in data.values()) / runs
                print(f"\n== {command}: {total_calls:.0f} Python host calls, {total_cpu * 1e3:.1f} ms host-call CPU per run")
                for name, (n, c) in sorted(data.items(), key=lambda kv: -kv[1][1])[:top]:
                    print(f"  {name:<48} {n / runs:8.0f} calls {c / runs * 1e3:8.1f} ms {c / n * 1e6:8.1f} us/call")
                for name, (n, _) in sorted(native_calls.items()):
                    print(f"  {name:<48} {n / runs:8.0f} calls")
            await client.vm.dispose(vm)


def main() -> None:
    if sys.argv[1:] == ["--sidecar"]:
        raise SystemExit(serve_counted())
    import trio

    sys.path.insert(0, str(ROOT / "bench"))
    from agent_work import FILE_ROWS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("commands", nargs="*", help="commands to count (default: agent_work.py's file rows)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--top", type=int, default=12, help="host functions shown per command")
    args = parser.parse_args()
    trio.run(count, args.commands or FILE_ROWS, args.runs, args.top)


if __name__ == "__main__":
    main()
