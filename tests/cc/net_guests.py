"""Build the socket test guests (tests/cc/guests/net_*.c) with agentvm-cc.

They are compiled when a test first needs them, into `.build/cc-guests/` under a
name that hashes the source and the compat library's key, so an edit to either
rebuilds and nothing else does (the first build takes a zig compile, ~10-30 s
on a loaded machine).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from agentvm_sidecar.software.cc import compat_key

GUESTS = Path(__file__).resolve().parent / "guests"
OUT = Path(__file__).resolve().parents[2] / ".build" / "cc-guests"


def cc_guest(name: str) -> bytes:
    """The wasm module of tests/cc/guests/<name>.c, built with agentvm-cc if stale."""
    source = GUESTS / f"{name}.c"
    key = hashlib.sha256(source.read_bytes() + compat_key().encode()).hexdigest()[:16]
    target = OUT / f"{name}-{key}.wasm"
    if not target.is_file():
        OUT.mkdir(parents=True, exist_ok=True)
        staged = target.with_suffix(".part")
        command = [sys.executable, "-m", "agentvm_sidecar.software.cc", "-O2", "-s", "-Wall", "-Werror",
                   "-o", str(staged), str(source)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"agentvm-cc {source.name} failed:\n{result.stderr}")
        staged.replace(target)
    return target.read_bytes()


async def install_cc_guest(client, vm_id: str, name: str) -> str:
    """Copy the built guest into the VM as /usr/bin/<name>; returns that path."""
    path = f"/usr/bin/{name}"
    await client.fs.write_file(vm_id, path, cc_guest(name), mode=0o755)
    return path
