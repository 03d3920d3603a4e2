"""agentvm benchmarks, each printed next to a peer measured in the same run.

Run with `make bench`. Timings are printed, never asserted: this machine is noisy.
Peers: a host subprocess (bash), just-bash (a TypeScript bash emulator from npm, in
bench/peers), wasmtime's own WASI (for the plain C guest) and, for net.fetch, the
same HTTP request sent by this process to a Python HTTP server on the host.

Columns: p50 and p99 latency, measured throughput (operations per second over the
row's whole run, one operation at a time), and the ratio of agentvm's p50 to the
peer's p50 (lower is better for agentvm). Wire rows compare a round trip through
the sidecar with the same operation done directly on the host (a file written or
read by this Python process) or, for VM creation, with creating a just-bash
sandbox.
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable

import wasmtime
from sessions import session_rows  # bench/ is the script's directory

from agentvm import Client, HostDirMount, RpcError, VmConfig
from agentvm_sidecar.wasm.compile_helper import compile_in_helper
from agentvm_sidecar.wasm.engine import shared_engine

ROOT = pathlib.Path(__file__).resolve().parents[1]
PEERS = ROOT / "bench" / "peers"
GUESTS = ROOT / ".build" / "guests"


def measure(fn: Callable[[], object], n: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def interleaved(a: Callable[[], object], b: Callable[[], object], n: int, warmup: int = 2) -> tuple[list[float], list[float]]:
    """Times of ``a`` and of ``b``, run in turn (each first every other round), so
    the machine's drift during the row hits both alike: for a ratio that is the goal."""
    for _ in range(warmup):
        a()
        b()
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(n):
        for which in ((0, 1) if i % 2 else (1, 0)):
            fn = (a, b)[which]
            t0 = time.perf_counter()
            fn()
            times[which].append(time.perf_counter() - t0)
    return times


def pct(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def row(name: str, times: list[float], peer: tuple[str, list[float]] | None = None) -> None:
    p50 = statistics.median(times)
    line = f"{name:<44} p50 {p50 * 1e3:9.2f} ms  p99 {pct(times, 0.99) * 1e3:9.2f} ms  {len(times) / sum(times):9.1f} ops/s"
    if peer is not None:
        peer_name, peer_times = peer
        peer_p50 = statistics.median(peer_times)
        line += f"   {peer_name} p50 {peer_p50 * 1e3:8.2f} ms  ratio {p50 / peer_p50:6.2f}x"
    print(line, flush=True)


def host_bash(command: str, n: int) -> list[float]:
    return measure(lambda: subprocess.run(["bash", "-c", command], check=True, capture_output=True), n)


def just_bash(command: str, n: int, preload: str | None = None) -> list[float] | None:
    """Seconds per run of ``command`` under just-bash (``NEW_SANDBOX``: per new
    sandbox), or None when node or the package is unavailable (the row is skipped)."""
    try:
        if not (PEERS / "node_modules" / "just-bash").exists():
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PEERS, check=True)
        args = ["node", str(PEERS / "just_bash_runner.mjs"), str(n), command] + ([preload] if preload else [])
        out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=600).stdout
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        print(f"  (just-bash unavailable: {exc})")
        return None
    return json.loads(out.splitlines()[-1])["seconds"]


NEW_SANDBOX = "::new-sandbox"


def host_file_ops(directory: str, payload: bytes, n: int) -> tuple[list[float], list[float]]:
    """The same 4 KiB write and read done directly on the host, in this process."""
    path = pathlib.Path(directory) / "host-peer.bin"
    return measure(lambda: path.write_bytes(payload), n), measure(path.read_bytes, n)


def wasmtime_wasi_hello(n: int) -> list[float]:
    engine = wasmtime.Engine()
    module = wasmtime.Module.from_file(engine, str(GUESTS / "hello.wasm"))
    linker = wasmtime.Linker(engine)
    linker.define_wasi()

    def run() -> None:
        store = wasmtime.Store(engine)
        wasi = wasmtime.WasiConfig()
        wasi.argv = ["hello"]
        store.set_wasi(wasi)
        instance = linker.instantiate(store, module)
        try:
            instance.exports(store)["_start"](store)
        except wasmtime.ExitTrap:
            pass

    return measure(run, n)


GUEST_HTTP_PORT = 8080
BIG_BYTES = 5 * 1024 * 1024  # what tests/guests/http_server.c answers on /big


class _HostHandler(http.server.BaseHTTPRequestHandler):
    """The host peer of tests/guests/http_server.c: the same bodies for / and /big."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b"x" * BIG_BYTES if self.path == "/big" else b"hello from guest\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def host_http_get(port: int, path: str) -> bytes:
    """One request on a new connection, as net.fetch makes one per request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        return conn.getresponse().read()
    finally:
        conn.close()


def start_guest_http_server(client: Client, vm: str) -> None:
    """Run tests/guests/http_server in the VM and wait until it accepts requests."""
    client.fs.write_file(vm, "/usr/bin/http_server", (GUESTS / "http_server.wasm").read_bytes(), mode=0o755)
    client.process.spawn(vm, argv=["/usr/bin/http_server", str(GUEST_HTTP_PORT)])
    deadline = time.monotonic() + 30
    while True:
        try:
            client.net.fetch(vm, GUEST_HTTP_PORT, "/", timeout_ms=5000)
            return
        except RpcError as exc:
            if exc.kind != "connection_refused" or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def net_fetch_rows(client: Client, vm: str, n: int) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HostHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        start_guest_http_server(client, vm)
        for path, label, count in [("/", "GET / (17 B)", n * 2), ("/big", "GET /big (5 MiB)", max(5, n // 5))]:
            assert len(client.net.fetch(vm, GUEST_HTTP_PORT, path).body) == len(host_http_get(port, path))
            row(
                f"net.fetch {label}",
                measure(lambda p=path: client.net.fetch(vm, GUEST_HTTP_PORT, p), count),
                ("host http.server", measure(lambda p=path: host_http_get(port, p), count)),
            )
    finally:
        server.shutdown()
def with_custom_section(module: bytes, tag: int) -> bytes:
    """``module`` plus a custom section naming ``tag``: same program, new digest,
    so the sidecar's module cache has never seen it."""
    payload = bytes([3]) + b"tag" + tag.to_bytes(8, "little")
    return module + b"\x00" + bytes([len(payload)]) + payload


def helper_compile(module: bytes) -> None:
    compile_in_helper(module, memory_bytes=512 << 20, cpu_seconds=60, interrupted=lambda: False)


SECTIONS = ("wire", "processes", "wasi", "net", "sessions")


def wire_rows(client: Client, vm: str, tmp: str, n: int) -> None:
    print("== wire (peers: the same file operation on the host; a new just-bash sandbox) ==")
    sandbox = just_bash(NEW_SANDBOX, n)
    created: list[str] = []
    create_only = measure(lambda: created.append(client.vm.create().vm_id), n)
    for vm_id in created:
        client.vm.dispose(vm_id)
    row("vm.create", create_only, ("just-bash new", sandbox) if sandbox else None)
    create = measure(lambda: client.vm.dispose(client.vm.create().vm_id), n)
    row("vm.create + vm.dispose", create, ("just-bash new", sandbox) if sandbox else None)
    payload = os.urandom(4096)
    host_write, host_read = host_file_ops(tmp, payload, n * 5)
    row("fs.writeFile 4 KiB (memory fs)", measure(lambda: client.fs.write_file(vm, "/tmp/p", payload), n * 5),
        ("host write", host_write))
    row("fs.readFile 4 KiB (memory fs)", measure(lambda: client.fs.read_file(vm, "/tmp/p"), n * 5),
        ("host read", host_read))
    row("fs.writeFile 4 KiB (host_dir)", measure(lambda: client.fs.write_file(vm, "/host/p", payload), n * 5),
        ("host write", host_write))
    row("fs.readFile 4 KiB (host_dir)", measure(lambda: client.fs.read_file(vm, "/host/p"), n * 5),
        ("host read", host_read))


def process_rows(client: Client, vm: str, tmp: str, n: int) -> None:
    print("\n== processes (peer: host bash subprocess, host /bin/sh for echo, then just-bash) ==")
    echo = "echo hi"

    def cold_echo() -> None:
        v = client.vm.create().vm_id
        client.process.exec(v, echo)
        client.vm.dispose(v)

    bash_echo = host_bash(echo, n)
    row("new VM + sh -c 'echo hi' + dispose", measure(cold_echo, n), ("bash", bash_echo))
    # issue 11 names /bin/sh (dash here: a lighter start than bash) as this row's peer:
    # measured in turn with it, 3n runs each
    warm, sh_echo = interleaved(
        lambda: client.process.exec(vm, echo),
        lambda: subprocess.run(["/bin/sh", "-c", echo], check=True, capture_output=True), 3 * n,
    )
    row("warm VM sh -c 'echo hi'", warm, ("bash", bash_echo))
    row("warm VM sh -c 'echo hi'", warm, ("/bin/sh", sh_echo))
    jb = just_bash(echo, n)
    if jb:
        row("warm VM sh -c 'echo hi'", warm, ("just-bash", jb))
    # one simple command of plain words: its program starts without a shell (plain_command.py)
    ls_root = measure(lambda: client.process.exec(vm, "ls /"), n)
    row("warm VM ls / (no shell)", ls_root, ("/bin/ls", measure(lambda: subprocess.run(["/bin/ls", "/"], check=True, capture_output=True), n)))
    row("warm VM ls / (no shell)", ls_root, ("sh -c 'ls /; true'", measure(lambda: client.process.exec(vm, "ls /; true"), n)))

    m = max(5, n // 10)
    row("new sidecar: spawn, vm.create, echo, exit", measure(cold_sidecar, m, warmup=1),
        ("python3 -c pass", measure(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), m)))

    seq = "seq 1 100000 | wc -l"
    vm_seq = measure(lambda: client.process.exec(vm, seq), m)
    row("seq 1 100000 | wc -l", vm_seq, ("bash", host_bash(seq, m)))
    jb = just_bash(seq, m)
    if jb:
        row("seq 1 100000 | wc -l", vm_seq, ("just-bash", jb))

    big = pathlib.Path(tmp) / "big.bin"
    big.write_bytes(os.urandom(10 * 1024 * 1024))
    cat_cmd = "cat /host/big.bin | wc -c"
    vm_cat = measure(lambda: client.process.exec(vm, cat_cmd), m)
    row("cat 10 MB (host_dir) | wc -c", vm_cat, ("bash", host_bash(f"cat {big} | wc -c", m)))
    jb = just_bash("cat /big.bin | wc -c", m, f"{big}:/big.bin")
    if jb:
        row("cat 10 MB | wc -c", vm_cat, ("just-bash", jb))


def cold_sidecar() -> None:
    """A client's first minute: start a sidecar, create a VM, run one command, stop it
    (the peer is the interpreter's own start: the floor of any Python sidecar)."""
    with Client.connect() as fresh:
        fresh.process.exec(fresh.vm.create().vm_id, "echo hi")


def wasi_rows(client: Client, vm: str, n: int) -> None:
    if not (GUESTS / "hello.wasm").exists():
        return
    m = max(5, n // 10)
    print("\n== plain WASI guest (peer: wasmtime's own WASI, in-process) ==")
    client.fs.write_file(vm, "/usr/bin/hello", (GUESTS / "hello.wasm").read_bytes(), mode=0o755)
    row(
        "hello.wasm via process.exec",
        measure(lambda: client.process.exec(vm, argv=["/usr/bin/hello"]), n),
        ("wasmtime-wasi", wasmtime_wasi_hello(n)),
    )
    print("\n== compiling a guest-built module (peer: compiling it in the sidecar process) ==")
    hello = (GUESTS / "hello.wasm").read_bytes()
    row("hello.wasm: helper process compile + load", measure(lambda: helper_compile(hello), m),
        ("in-process", measure(lambda: wasmtime.Module(shared_engine(), hello), m)))
    tags = iter(range(1 << 30))

    def first_run() -> None:
        client.fs.write_file(vm, "/tmp/new", with_custom_section(hello, next(tags)), mode=0o755)
        client.process.exec(vm, argv=["/tmp/new"])

    def cached_run() -> None:
        client.fs.write_file(vm, "/tmp/new", hello, mode=0o755)
        client.process.exec(vm, argv=["/tmp/new"])

    row("write + exec a never-seen hello.wasm", measure(first_run, m), ("cached", measure(cached_run, m)))


def main() -> None:
    parser = argparse.ArgumentParser(description="agentvm benchmarks, each next to a peer (see the module doc)")
    parser.add_argument("--quick", action="store_true", help="20 runs per row instead of 100")
    parser.add_argument("--only", action="append", choices=SECTIONS, help="run only this section (repeatable)")
    args = parser.parse_args()
    only = set(args.only or SECTIONS)
    n = 20 if args.quick else 100
    with Client.connect() as client, tempfile.TemporaryDirectory() as tmp:
        print(f"agentvm sidecar {client.hello.sidecar_version}; n={n} per row\n")
        vm = client.vm.create(VmConfig(mounts=[HostDirMount(path="/host", host_path=tmp)])).vm_id
        if "wire" in only:
            wire_rows(client, vm, tmp, n)
        if "processes" in only:
            process_rows(client, vm, tmp, n)
        if "wasi" in only:
            wasi_rows(client, vm, n)
        if "net" in only and (GUESTS / "http_server.wasm").exists() and "net.fetch" in client.hello.methods:
            print("\n== net.fetch to a guest HTTP server (peer: the same request to a host Python http.server) ==")
            net_fetch_rows(client, vm, n)
        if "sessions" in only:
            session_rows(client, vm, n, measure, row)
        client.vm.dispose(vm)
    if shutil.which("node") is None:
        print("(node not found: just-bash rows skipped)")


if __name__ == "__main__":
    main()
