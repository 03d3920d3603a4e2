"""Memory per VM: idle, after a pipeline, and what is left once disposed.

Two measures of the same thing, printed side by side:
- the Python heap (``tracemalloc``) of an in-process ``VmRegistry`` (the sidecar's
  own VM objects, nothing else running): exact, and it shows what dispose returns;
- the resident set of a real sidecar through the wire (Python client), which also
  counts native memory (wasmtime stores, pipe buffers) but not what the allocators
  keep for reuse after dispose, so its "after dispose" stays near the peak.

Each round creates ``--vms`` VMs, runs ``seq 1 1000 | wc -l`` in each, then disposes
them; the numbers are per VM. Not a benchmark of speed: nothing is timed.

    .venv/bin/python bench/vm_memory.py [--vms 200] [--rounds 2]
"""

from __future__ import annotations

import argparse
import gc
import logging
import tracemalloc

import structlog
import trio

from agentvm import AsyncClient
from agentvm_protocol import ProcessExecParams, VmConfig
from agentvm_sidecar.api import HANDLERS, RequestContext
from agentvm_sidecar.vms import VmRegistry

PIPELINE = "seq 1 1000 | wc -l"


async def _no_events(event: object) -> None:
    await trio.lowlevel.checkpoint()


async def heap_rounds(vms_per_round: int, rounds: int) -> list[tuple[float, float, float]]:
    """(idle, after a pipeline, after dispose) KiB of Python heap per VM, per round."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    out = []
    async with trio.open_nursery() as nursery:
        registry = VmRegistry(nursery)
        ctx = RequestContext(vms=registry, emit=_no_events)
        exec_ = HANDLERS["process.exec"]
        warm = await registry.create(VmConfig())  # loads /bin and the modules once
        await exec_(ctx, ProcessExecParams(vm_id=warm.vm_id, command=PIPELINE))
        await registry.dispose(warm.vm_id)
        del warm
        tracemalloc.start()
        for _ in range(rounds):
            marks = [_heap()]
            ids = [(await registry.create(VmConfig())).vm_id for _ in range(vms_per_round)]
            marks.append(_heap())
            for vm_id in ids:
                await exec_(ctx, ProcessExecParams(vm_id=vm_id, command=PIPELINE))
            marks.append(_heap())
            for vm_id in ids:
                await registry.dispose(vm_id)
            await trio.sleep(0.1)  # the VMs' nurseries end
            marks.append(_heap())
            base = marks[0]
            out.append(tuple((m - base) / vms_per_round / 1024 for m in marks[1:]))
        tracemalloc.stop()
        nursery.cancel_scope.cancel()
    return out  # type: ignore[return-value]


def _heap() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


async def rss_rounds(vms_per_round: int, rounds: int) -> list[tuple[float, float, float]]:
    """(idle, after a pipeline, after dispose) KiB of sidecar RSS per VM, per round."""
    out = []
    async with AsyncClient.connect() as client:
        pid = client._conn._process.pid  # bench only: the subprocess this client spawned
        warm = (await client.vm.create()).vm_id
        await client.process.exec(warm, PIPELINE)
        await client.vm.dispose(warm)
        for _ in range(rounds):
            marks = [_rss_kib(pid)]
            ids = [(await client.vm.create()).vm_id for _ in range(vms_per_round)]
            marks.append(_rss_kib(pid))
            for vm_id in ids:
                await client.process.exec(vm_id, PIPELINE)
            marks.append(_rss_kib(pid))
            for vm_id in ids:
                await client.vm.dispose(vm_id)
            marks.append(_rss_kib(pid))
            base = marks[0]
            out.append(tuple((m - base) / vms_per_round for m in marks[1:]))
    return out  # type: ignore[return-value]


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vms", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(f"\n== memory per VM ({args.vms} VMs a round, '{PIPELINE}' in each; KiB per VM) ==")
    for name, rounds in (
        ("Python heap, in-process", trio.run(heap_rounds, args.vms, args.rounds)),
        ("sidecar RSS, through the wire", trio.run(rss_rounds, args.vms, args.rounds)),
    ):
        for i, (idle, ran, disposed) in enumerate(rounds, 1):
            print(f"{name:<30} round {i}: idle {idle:6.1f}   after a pipeline {ran:6.1f}   after dispose {disposed:6.1f}")


if __name__ == "__main__":
    main()
