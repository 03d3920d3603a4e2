"""Two sidecars side by side: the p50 of each command over the bench project, base
against this checkout, one run each in turn, so the machine's drift hits both alike.

``BASE`` is another checkout's root (its ``sidecar/`` and ``protocol/`` go first on
its sidecar's PYTHONPATH; it needs its own ``.build``, e.g. a symlink to this one's).
``--same`` runs this checkout on both sides (an A/A run: how far apart two equal
sidecars read on this machine). Not a benchmark with a host peer: a profile aid
for issue 11's changes.

    git worktree add /tmp/base HEAD~1 && ln -s "$PWD/.build" /tmp/base/.build
    .venv/bin/python bench/ab_interleaved.py /tmp/base 'ls -R | wc -l' 'tar cf - . | wc -c'
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

import trio
from agent_work import copy_project  # bench/ is the script's directory

from agentvm import AsyncClient, HostDirMount, VmConfig

WARMUP = 3


async def compare(base: pathlib.Path, commands: list[str], runs: int, same: bool) -> None:
    sidecar = [sys.executable, "-m", "agentvm_sidecar", "--stdio"]
    base_env = {**os.environ, "PYTHONPATH": f"{base / 'sidecar'}:{base / 'protocol'}"}
    with tempfile.TemporaryDirectory() as tmp:
        project = pathlib.Path(tmp) / "project"
        copy_project(project)
        config = VmConfig(mounts=[HostDirMount(path="/workspace", host_path=str(project))], cwd="/workspace")
        async with (
            AsyncClient.connect(sidecar, env=None if same else base_env) as a,
            AsyncClient.connect(sidecar) as b,
        ):
            sides = [(a, (await a.vm.create(config)).vm_id), (b, (await b.vm.create(config)).vm_id)]
            for command in commands:
                times: tuple[list[float], list[float]] = ([], [])
                for i in range(WARMUP + runs):
                    for side in (0, 1) if i % 2 else (1, 0):  # who goes first alternates
                        client, vm = sides[side]
                        t0 = time.perf_counter()
                        await client.process.exec(vm, command, timeout_ms=60_000)
                        if i >= WARMUP:
                            times[side].append(time.perf_counter() - t0)
                base_p50, new_p50 = (statistics.median(t) * 1e3 for t in times)
                print(f"{command:<40} base {base_p50:7.2f} ms  new {new_p50:7.2f} ms  new/base {new_p50 / base_p50:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", type=pathlib.Path, help="the other checkout's root")
    parser.add_argument("commands", nargs="+")
    parser.add_argument("--runs", type=int, default=60, help="runs of each command on each side")
    parser.add_argument("--same", action="store_true", help="this checkout on both sides (A/A)")
    args = parser.parse_args()
    trio.run(compare, args.base.resolve(), args.commands, args.runs, args.same)


if __name__ == "__main__":
    main()
