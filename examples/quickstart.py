"""agentvm quickstart: a VM with a host directory mounted, files both ways, a shell pipeline,
then an agent session (the reference ACP agent, running inside the VM), and a web server
in the VM reached with net.fetch and through a preview URL.

Run with `make run`. Everything goes through a real `agentvm-sidecar --stdio`
subprocess, spawned and shut down by the client. The web server is
tests/guests/http_server.c, a small C program compiled to wasm32-wasi by `make setup`.
When run from a terminal, it waits for Enter so the preview URL can be opened in a
browser meanwhile.
"""

from __future__ import annotations

import pathlib
import sys
import tempfile
import threading
import time
import urllib.request

from agentvm import Client, HostDirMount, RpcError, VmConfig
from agentvm_protocol import SessionUpdateEvent

HTTP_SERVER = pathlib.Path(__file__).resolve().parents[1] / ".build" / "guests" / "http_server.wasm"
WEB_PORT = 3000


def serve_web(client: Client, vm: str) -> None:
    """Start a web server in the VM and show it from the host: net.fetch, then a preview URL."""
    client.fs.write_file(vm, "/usr/bin/http_server", HTTP_SERVER.read_bytes(), mode=0o755)
    pid = client.process.spawn(vm, argv=["/usr/bin/http_server", str(WEB_PORT)]).pid
    deadline = time.monotonic() + 30
    while True:  # until it listens
        try:
            reply = client.net.fetch(vm, WEB_PORT, "/")
            break
        except RpcError as exc:
            if exc.kind != "connection_refused" or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    print(f"web server in the VM (pid {pid}) on port {WEB_PORT}; net.fetch GET / -> {reply.status} {reply.body!r}")

    client.preview.start()  # the sidecar's preview HTTP server, on 127.0.0.1 (any free port)
    preview = client.preview.create_url(vm, WEB_PORT, ttl_seconds=600)
    with urllib.request.urlopen(preview.url, timeout=30) as response:
        print(f"preview URL, valid for 10 minutes (GET -> {response.status} {response.read()!r}):")
    print(f"  {preview.url}")
    if sys.stdin.isatty():
        input("open it in a browser; press Enter to stop the VM... ")


def describe(update: dict) -> str:
    """One line for an ACP session update."""
    kind = update["sessionUpdate"]
    if kind in ("agent_message_chunk", "agent_thought_chunk"):
        return f"{kind}: {update['content']['text'].strip()!r}"
    if kind == "plan":
        return f"plan: {[entry['content'] for entry in update['entries']]}"
    if kind in ("tool_call", "tool_call_update"):
        return f"{kind} {update['toolCallId']}: {update.get('title', '')} {update.get('status', '')}".rstrip()
    return kind


def agent_session(client: Client, vm: str, host: pathlib.Path) -> None:
    """Prompt the reference agent; print each update as it streams in."""

    def approve(params: dict) -> dict:
        print(f"  permission asked: {params['toolCall']['title']} -> allow")
        return {"outcome": {"outcome": "selected", "optionId": "allow"}}

    client.on_request("session.requestPermission", approve)
    session = client.session.create(vm, "reference")
    print(f"session {session.session_id}: agent {session.agent_info['name']} (pid {session.pid} in the VM)")
    with client.events() as events:
        printed = threading.Condition()
        last_printed = [0]

        def show() -> None:
            for event in events:
                if isinstance(event, SessionUpdateEvent):
                    print(f"  [{event.seq:2}] {describe(event.update)}")
                    with printed:
                        last_printed[0] = event.seq
                        printed.notify_all()

        threading.Thread(target=show, daemon=True).start()
        result = client.session.prompt(session.session_id, "demo /workspace/agent.txt")
        with printed:
            printed.wait_for(lambda: last_printed[0] >= result.last_seq, timeout=10)
    print(f"prompt ended: {result.stop_reason}; host reads agent.txt: {(host / 'agent.txt').read_text().strip()!r}")
    client.session.close(session.session_id)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="agentvm-quickstart-") as host_dir, Client.connect() as client:
        host = pathlib.Path(host_dir)
        (host / "hello-from-host.txt").write_text("written on the host\n")
        print(f"sidecar {client.hello.sidecar_version}, protocol {client.hello.protocol_version}")

        vm = client.vm.create(VmConfig(mounts=[HostDirMount(path="/workspace", host_path=host_dir)])).vm_id
        print(f"created {vm} with {host_dir} mounted at /workspace")

        seen = client.fs.read_file(vm, "/workspace/hello-from-host.txt").data.decode()
        print(f"VM reads /workspace/hello-from-host.txt: {seen.strip()!r}")

        client.fs.write_file(vm, "/workspace/notes/hello-from-vm.txt", b"written in the VM\n", create_dirs=True)
        print(f"host reads notes/hello-from-vm.txt: {(host / 'notes' / 'hello-from-vm.txt').read_text().strip()!r}")

        result = client.process.exec(vm, "cd /workspace && find . -type f | sort && cat */*.txt | tr a-z A-Z | wc -c")
        print(f"VM shell pipeline (exit {result.exit_code}):")
        print("  " + result.stdout.decode().rstrip().replace("\n", "\n  "))

        client.process.exec(vm, "seq 1 5 | sed 's/^/line /' > /workspace/notes/from-shell.txt")
        print(f"host reads notes/from-shell.txt: {(host / 'notes' / 'from-shell.txt').read_text().split()[:4]}...")

        listing = client.fs.readdir_recursive(vm, "/workspace").entries
        print("VM lists /workspace:", ", ".join(f"{e.path} ({e.kind})" for e in listing))

        usage = client.vm.info(vm).info.usage
        print(f"VM usage: {usage.fs_bytes} bytes in {usage.fs_inodes} inodes of its memory filesystem")

        agent_session(client, vm, host)
        serve_web(client, vm)

        client.vm.dispose(vm)
        print(f"disposed {vm}; closing the client shuts the sidecar down")


if __name__ == "__main__":
    main()
