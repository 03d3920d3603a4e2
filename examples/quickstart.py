"""agentvm quickstart: a VM with a host directory mounted, files both ways, a shell pipeline.

Run with `make run`. Everything goes through a real `agentvm-sidecar --stdio`
subprocess, spawned and shut down by the client.
"""

from __future__ import annotations

import pathlib
import tempfile

from agentvm import Client, HostDirMount, VmConfig


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

        client.vm.dispose(vm)
        print(f"disposed {vm}; closing the client shuts the sidecar down")


if __name__ == "__main__":
    main()
