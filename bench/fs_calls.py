"""In-process cost of the host_dir file calls, per call type, in thread CPU.

Replays the calls `grep -rn` makes over the bench project (agent_work.py's copy,
mounted as host_dir at /workspace), as bench/host_calls.py's trace showed them:
per entry, in tree order, an lstat (`path_filestat_get`) and an open
(`path_open`) relative to a directory fd on /workspace, then for a directory one
`fd_readdir` and for a file 64 KiB `fd_read`s to EOF, then `fd_close`. Also the
`ls -R`/tar look-ups of the host_fs module (`path_mode`, `path_size`). Every call
goes through `abi._wrap` (everything but the ctypes trampoline) on a real Kernel
inside `attrcache.process_cache()`, as on a guest thread. Prints, per call type,
the best of ``--loops`` loops (thread CPU, us per call): compare builds with it,
interleaved; a profile of the same loop: ``--profile`` (cProfile, top 25).

    .venv/bin/python bench/fs_calls.py [--loops 15] [--profile]
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import os
import pathlib
import pstats
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests" / "wasm" / "wasi"))

READ_BUF = 65536
O_DIRECTORY = 2  # wasi oflags
RIGHTS_READ = 0x2 | 0x4000  # FD_READ | FD_READDIR


def tree(project: pathlib.Path) -> list[tuple[str, bool]]:
    """(relative path, is a directory) in the order grep -r visits them."""
    out: list[tuple[str, bool]] = []

    def visit(rel: str) -> None:
        for name in sorted(os.listdir(project / rel) if rel else os.listdir(project)):
            path = f"{rel}/{name}" if rel else name
            is_dir = (project / path).is_dir()
            out.append((path, is_dir))
            if is_dir:
                visit(path)

    visit("")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loops", type=int, default=15)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    from agent_work import copy_project
    from conftest import Guest  # tests/wasm/wasi: a process and memory, calls through abi._wrap

    import agentvm_sidecar.wasm.host  # noqa: F401 -- registers host_fs
    from agentvm_sidecar.kernel import attrcache
    from agentvm_sidecar.kernel.kernel import Kernel
    from agentvm_sidecar.kernel.limits import Limits
    from agentvm_sidecar.wasm.abi import HOST_FUNCTIONS, _wrap
    from agentvm_sidecar.wasm.context import set_current_context

    with tempfile.TemporaryDirectory() as tmp:
        project = pathlib.Path(tmp) / "project"
        copy_project(project)
        entries = tree(project)
        kernel = Kernel(Limits())
        kernel.vfs.mkdir("/workspace", 0o755)
        kernel.mount_host_dir("/workspace", str(project), read_only=False)
        g = Guest(kernel, cwd="/workspace")
        calls = {name: _wrap(HOST_FUNCTIONS[("wasi_snapshot_preview1", name)])
                 for name in ("path_open", "path_filestat_get", "fd_readdir", "fd_read", "fd_close")}
        calls["path_mode"] = _wrap(HOST_FUNCTIONS[("host_fs", "path_mode")])
        calls["path_size"] = _wrap(HOST_FUNCTIONS[("host_fs", "path_size")])
        ret = g.alloc(8)
        stat_buf = g.alloc(64)
        dirent_buf = g.alloc(READ_BUF)
        read_buf = g.alloc(READ_BUF)
        iov, _ = g.iovecs((read_buf, READ_BUF))
        paths = {p: g.put(p) for p, _ in entries}
        clock = time.thread_time
        cpu: collections.Counter[str] = collections.Counter()
        count: collections.Counter[str] = collections.Counter()

        def timed(name: str, *a: int) -> int:
            t0 = clock()
            err = calls[name](*a)
            cpu[name] += clock() - t0
            count[name] += 1
            return err

        def one_loop() -> None:
            dot = g.put(".")
            assert calls["path_open"](0x40000003, 1, *dot, O_DIRECTORY, RIGHTS_READ, RIGHTS_READ, 0, ret) == 0
            dirfd = g.u32(ret)
            for path, is_dir in entries:
                p, n = paths[path]
                assert timed("path_filestat_get", dirfd, 0, p, n, stat_buf) == 0
                assert timed("path_open", dirfd, 1, p, n, O_DIRECTORY if is_dir else 0, RIGHTS_READ, RIGHTS_READ, 0, ret) == 0
                fd = g.u32(ret)
                if is_dir:
                    assert timed("fd_readdir", fd, dirent_buf, READ_BUF, 0, ret) == 0
                else:
                    while timed("fd_read", fd, iov, 1, ret) == 0 and g.u32(ret):
                        pass
                timed("fd_close", fd)
                # ls -R / tar: the host_fs look-ups, from the cwd preopen
                timed("path_mode", 0x40000003, p, n, 0)
                timed("path_size", 0x40000003, p, n, 0)
            calls["fd_close"](dirfd)

        best: dict[str, float] = {}
        set_current_context(g.ctx)
        try:
            with attrcache.process_cache():
                one_loop()  # warm
                profiler = cProfile.Profile() if args.profile else None
                for _ in range(args.loops):
                    cpu.clear()
                    count.clear()
                    if profiler:
                        profiler.enable()
                    one_loop()
                    if profiler:
                        profiler.disable()
                    for name in cpu:
                        best[name] = min(best.get(name, 1e9), cpu[name] / count[name])
        finally:
            set_current_context(None)
        for name, per in best.items():
            print(f"{name:<20} {count[name]:6d} calls  {per * 1e6:7.2f} us/call (best of {args.loops})")
        if profiler:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        kernel.shutdown()


if __name__ == "__main__":
    main()
