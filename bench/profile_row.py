"""Profile the sidecar while it runs one bench command: where do its samples go?

Starts a sidecar through the Python client, mounts the same project copy as
agent_work.py at /workspace, runs ``COMMAND`` once to warm caches, then runs it
``--runs`` times (``--concurrent N`` at once each time) while py-spy samples every
thread of the sidecar, and prints py-spy's own-time and cumulative top frames.

    .venv/bin/pip install py-spy
    .venv/bin/python bench/profile_row.py 'ls -R | wc -l' --runs 20
    .venv/bin/python bench/profile_row.py 'grep -rn import . | wc -l' --concurrent 10

py-spy needs ptrace rights over the sidecar (root, or kernel.yama.ptrace_scope=0).
The raw folded stacks stay in ``--out`` (default /tmp/agentvm-profile.txt) for a
closer look, e.g. ``grep hostfs /tmp/agentvm-profile.txt``.
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import trio

from agentvm import AsyncClient, HostDirMount, VmConfig

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from agent_work import copy_project  # noqa: E402


def summarize(folded: pathlib.Path, top: int) -> None:
    """Own-time and cumulative (inclusive) shares of the top frames of py-spy's
    raw output (``frame;frame;... count`` per line). Idle waits are counted too:
    py-spy samples idle threads only with --idle, which this script does not pass."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if not f.startswith("thread ")]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    print(f"{total} samples")
    for title, counter in (("own time", own), ("inclusive", inclusive)):
        print(f"-- {title}")
        for frame, count in counter.most_common(top):
            print(f"{100 * count / total:5.1f}%  {frame}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--concurrent", type=int, default=1)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", default="/tmp/agentvm-profile.txt")
    parser.add_argument("--gil", action="store_true", help="sample only the thread holding the GIL (CPU, not waits)")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(pathlib.Path(sys.executable).parent / "py-spy")
    with tempfile.TemporaryDirectory() as tmp:
        project = pathlib.Path(tmp) / "project"
        copy_project(project)
        async with AsyncClient.connect() as client:
            config = VmConfig(mounts=[HostDirMount(path="/workspace", host_path=str(project))], cwd="/workspace")
            vm = (await client.vm.create(config)).vm_id
            await client.process.exec(vm, args.command, timeout_ms=120_000)  # warm the module cache
            pid = client._conn._process.pid  # bench only: the subprocess this client spawned
            out = pathlib.Path(args.out)
            spy = subprocess.Popen(
                [py_spy, "record", "-p", str(pid), "--threads", "-r", str(args.rate), "-f", "raw", "-o", str(out)]
                + (["--gil"] if args.gil else []),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            await trio.sleep(1.0)  # py-spy attaches
            t0 = time.perf_counter()
            for _ in range(args.runs):
                async with trio.open_nursery() as nursery:
                    for _ in range(args.concurrent):
                        nursery.start_soon(lambda: client.process.exec(vm, args.command, timeout_ms=120_000))
            wall = time.perf_counter() - t0
            spy.send_signal(2)  # SIGINT: py-spy writes its output and exits
            spy.wait(timeout=60)
            await client.vm.dispose(vm)
    print(f"{args.runs} x {args.concurrent} x {args.command!r}: {wall:.2f} s ({wall / args.runs * 1e3:.1f} ms per run)")
    summarize(out, args.top)


if __name__ == "__main__":
    trio.run(main)
