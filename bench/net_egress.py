"""Guest-to-host TCP throughput: a guest HTTP client downloads from a host server.

The server is a Python HTTP server on 127.0.0.1 that the VM reaches by the name
``bench.test`` (dnsOverrides, allowed by the egress policy). In the VM,
``http_client bench.test PORT /big | wc -c`` counts the response, so the bytes
cross the VM's socket and pipe but not the wire; the peer is the same download by
``curl`` (else Python's urllib) on the host in the same run. Timings are printed,
never asserted. Run with ``python bench/net_egress.py [--quick]`` or ``make bench``.
"""

from __future__ import annotations

import pathlib
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from agentvm import Client, VmConfig
from agentvm_protocol import NetworkPolicy, NetworkRule

ROOT = pathlib.Path(__file__).resolve().parents[1]
CLIENT_WASM = ROOT / ".build" / "guests" / "http_client.wasm"
BODY = bytes(range(256)) * (200 * 1024)  # 50 MiB


class _Big(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.send_header("Connection", "close")
        self.end_headers()
        view = memoryview(BODY)
        for start in range(0, len(view), 1 << 20):
            self.wfile.write(view[start : start + (1 << 20)])

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def host_download(port: int) -> float:
    t0 = time.perf_counter()
    if shutil.which("curl"):
        subprocess.run(["curl", "-sS", "-o", "/dev/null", f"http://127.0.0.1:{port}/big"], check=True)
    else:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/big") as response:
            while response.read(1 << 20):
                pass
    return time.perf_counter() - t0


def main() -> None:
    runs = 2 if "--quick" in sys.argv else 5
    if not CLIENT_WASM.exists():
        print("(http_client.wasm not built: run make setup)")
        return
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Big)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    policy = NetworkPolicy(
        default="deny",
        rules=[NetworkRule(mode="allow", operations=["connect", "dns"], patterns=["bench.test"])],
        dns_overrides={"bench.test": "127.0.0.1"},
    )
    try:
        with Client.connect() as client:
            vm = client.vm.create(VmConfig(network=policy)).vm_id
            client.fs.write_file(vm, "/usr/bin/http_client", CLIENT_WASM.read_bytes(), mode=0o755)
            command = f"http_client bench.test {port} /big | wc -c"
            vm_times, host_times = [], []
            for i in range(runs + 1):  # the first run compiles the client
                t0 = time.perf_counter()
                result = client.process.exec(vm, command, timeout_ms=300_000)
                if i:
                    vm_times.append(time.perf_counter() - t0)
                assert int(result.stdout) > len(BODY), result
                host_times.append(host_download(port))
            vm_p50, host_p50 = statistics.median(vm_times), statistics.median(host_times[1:])
            print(f"\n== guest-to-host TCP (50 MiB over HTTP; peer: {'curl' if shutil.which('curl') else 'urllib'} on the host) ==")
            print(
                f"{'http_client bench.test /big | wc -c':<44} p50 {vm_p50 * 1e3:9.1f} ms  {len(BODY) / vm_p50 / 1e6:8.1f} MB/s"
                f"   host p50 {host_p50 * 1e3:8.1f} ms  {len(BODY) / host_p50 / 1e6:8.1f} MB/s  ratio {vm_p50 / host_p50:6.2f}x"
            )
            client.vm.dispose(vm)
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
