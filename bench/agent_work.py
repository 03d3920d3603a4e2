"""The work coding agents do, in a VM and in host bash over the same project.

A copy of this repository's tracked files is mounted as host_dir at /workspace; host
bash runs each command over an identical copy in the same run. Rows: file-heavy
commands, the same over a copy made in the VM's memory filesystem (where a VM
without mounts keeps its files), pipe throughput, concurrency (N commands at once in
one VM and in N VMs, against the same N one after another) and start-up. Timings are
printed, never asserted.

Run alone with ``python bench/agent_work.py [--quick] [--only files|memfs|pipes|concurrency]``
(``--only`` may repeat; ``--counts 1,10`` picks the concurrency levels), or as part
of ``make bench``.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import trio

from agentvm import AsyncClient, HostDirMount, VmConfig

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from run import host_bash, row  # noqa: E402

FILE_ROWS = [
    "grep -rn import . | wc -l",
    "find . -type f | wc -l",
    "tar cf - . | wc -c",
    "cat $(find . -name '*.py') | wc -l",
    "ls -R | wc -l",
]
PIPE_BYTES = 100_000_000
CONCURRENT_COMMAND = "grep -rn import . | wc -l"
SECTIONS = ("files", "memfs", "pipes", "concurrency")
MEMFS_COPY = "/tmp/project"  # where the memfs rows unpack the project, in the VM


def copy_project(dest: pathlib.Path) -> None:
    """The tracked files of this checkout (as the issue measured: ~190 files)."""
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()
    for name in files:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)


def mb_per_s(seconds: list[float], nbytes: int) -> str:
    return f"{nbytes / statistics.median(seconds) / 1e6:8.1f} MB/s"


async def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    await fn()
    return time.perf_counter() - t0


async def concurrent(client: AsyncClient, vms: list[str], command: str) -> tuple[float, list[float]]:
    """Wall time of running ``command`` once in each of ``vms`` at once, and the
    sidecar's CPU seconds per command over that run."""
    cpu0 = sidecar_cpu(client)
    t0 = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for vm in vms:
            nursery.start_soon(lambda v=vm: client.process.exec(v, command, cwd="/workspace", timeout_ms=120_000))
    wall = time.perf_counter() - t0
    return wall, [(sidecar_cpu(client) - cpu0) / len(vms)]


def sidecar_cpu(client: AsyncClient) -> float:
    """User+system CPU seconds so far of the sidecar process and its worker processes."""
    pid = client._conn._process.pid  # bench only: the subprocess this client spawned
    total = 0.0
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended meanwhile
        if stat.parent.name == str(pid) or fields[1] == str(pid):  # fields[1]: the parent's pid
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer runs per row")
    parser.add_argument("--only", action="append", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--counts", default="1,10,20", help="concurrency levels, comma-separated")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1,
        help="the concurrency rows again with a sidecar running VMs in this many worker processes (0: skip)",
    )
    return parser.parse_args()


async def main() -> None:
    args = options()
    sections = set(args.only or SECTIONS)
    quick = args.quick
    n = 5 if quick else 20
    with tempfile.TemporaryDirectory() as tmp:
        project = pathlib.Path(tmp) / "project"
        copy_project(project)
        nfiles = sum(1 for p in project.rglob("*") if p.is_file())
        async with AsyncClient.connect() as client:
            config = VmConfig(mounts=[HostDirMount(path="/workspace", host_path=str(project))], cwd="/workspace")
            vm = (await client.vm.create(config)).vm_id

            async def run_in_vm(command: str, runs: int = n) -> list[float]:
                times = []
                for _ in range(runs + 1):  # the first run warms caches
                    times.append(await timed(lambda: client.process.exec(vm, command, timeout_ms=120_000)))
                return times[1:]

            if "files" in sections:
                await file_rows(project, nfiles, n, run_in_vm)
            if "memfs" in sections:
                await memfs_rows(client, vm, project, nfiles, n, run_in_vm)
            if "pipes" in sections:
                await pipe_rows(client, vm, project, quick, run_in_vm)
            if "concurrency" in sections:
                await concurrency_rows(client, vm, config, [int(c) for c in args.counts.split(",")])
            await client.vm.dispose(vm)
        if "concurrency" in sections and args.workers > 1:
            command = [sys.executable, "-m", "agentvm_sidecar", "--stdio", "--workers", str(args.workers)]
            async with AsyncClient.connect(command) as client:
                print(f"\n-- the same, the sidecar running VMs in {args.workers} worker processes (--workers {args.workers}) --")
                vm = (await client.vm.create(config)).vm_id
                await client.process.exec(vm, CONCURRENT_COMMAND, timeout_ms=120_000)  # warm caches
                await concurrency_rows(client, vm, config, [int(c) for c in args.counts.split(",")])


async def file_rows(project: pathlib.Path, nfiles: int, n: int, run_in_vm) -> None:  # type: ignore[no-untyped-def]
    print(f"\n== agent work over a host_dir project ({nfiles} files; peer: host bash over a copy) ==")
    for command in FILE_ROWS:
        row(command, await run_in_vm(command), ("bash", host_bash(f"cd {project} && {command}", n)))


async def memfs_rows(client: AsyncClient, vm: str, project: pathlib.Path, nfiles: int, n: int, run_in_vm) -> None:  # type: ignore[no-untyped-def]
    print(f"\n== the same over a copy in the VM's memory filesystem ({nfiles} files at {MEMFS_COPY}; peer: host bash over a copy) ==")
    copied = await client.process.exec(vm, f"mkdir -p {MEMFS_COPY} && cp -r . {MEMFS_COPY}", timeout_ms=120_000)
    if copied.exit_code != 0:
        raise SystemExit(f"copying the project into the VM failed: {copied.stderr.decode(errors='replace')}")
    for command in FILE_ROWS:
        row(command, await run_in_vm(f"cd {MEMFS_COPY} && {command}"), ("bash", host_bash(f"cd {project} && {command}", n)))


async def pipe_rows(client: AsyncClient, vm: str, project: pathlib.Path, quick: bool, run_in_vm) -> None:  # type: ignore[no-untyped-def]
    print("\n== pipes (peer: host bash) ==")
    yes = f"yes abcdefghij | head -c {PIPE_BYTES} | wc -c"
    m = 2 if quick else 5
    vm_yes = await run_in_vm(yes, m)
    row(f"{yes}  {mb_per_s(vm_yes, PIPE_BYTES)}", vm_yes, ("bash", host_bash(yes, m)))
    big = project.parent / "big.bin"
    big.write_bytes(os.urandom(PIPE_BYTES))
    await client.fs.mount(vm, HostDirMount(path="/data", host_path=str(project.parent), read_only=True))
    cat = "cat /data/big.bin | wc -c"
    vm_cat = await run_in_vm(cat, m)
    row(f"cat 100 MB | wc -c  {mb_per_s(vm_cat, PIPE_BYTES)}", vm_cat, ("bash", host_bash(f"cat {big} | wc -c", m)))


async def concurrency_rows(client: AsyncClient, vm: str, config: VmConfig, counts: list[int]) -> None:
    print("\n== concurrency: N x '" + CONCURRENT_COMMAND + "' (wall time; CPU s per command) ==")
    for count in counts:
        seq_t0 = time.perf_counter()
        for _ in range(count):
            await client.process.exec(vm, CONCURRENT_COMMAND, timeout_ms=120_000)
        sequential = time.perf_counter() - seq_t0
        one_vm, cpu_one = await concurrent(client, [vm] * count, CONCURRENT_COMMAND)
        many = [(await client.vm.create(config)).vm_id for _ in range(count)]
        n_vms, cpu_many = await concurrent(client, many, CONCURRENT_COMMAND)
        for v in many:
            await client.vm.dispose(v)
        print(
            f"N={count:<3} one after another {sequential:7.2f} s   concurrent in one VM {one_vm:7.2f} s"
            f" ({one_vm / sequential:5.2f}x, {cpu_one[0]:.2f} CPU s each)   in N VMs {n_vms:7.2f} s"
            f" ({n_vms / sequential:5.2f}x, {cpu_many[0]:.2f} CPU s each)",
            flush=True,
        )


if __name__ == "__main__":
    trio.run(main)
