"""agentvm quickstart: a VM with a host directory mounted, files both ways, a shell pipeline,
and an agent session (the reference ACP agent, running inside the VM).

Run with `make run`. Everything goes through a real `agentvm-sidecar --stdio`
subprocess, spawned and shut down by the client.
"""

from __future__ import annotations

import pathlib
import tempfile
import threading

from agentvm import Client, HostDirMount, VmConfig
from agentvm_protocol import SessionUpdateEvent


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

        client.vm.dispose(vm)
        print(f"disposed {vm}; closing the client shuts the sidecar down")


if __name__ == "__main__":
    main()
