"""Helpers for running the C test guests (built by `make setup` into .build/guests)."""

from __future__ import annotations

import pathlib

import pytest
import trio

GUESTS = pathlib.Path(__file__).resolve().parents[2] / ".build" / "guests"


def guest_bytes(name: str) -> bytes:
    path = GUESTS / f"{name}.wasm"
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make setup` to build the test guests")
    return path.read_bytes()


async def install_guest(client, vm_id: str, name: str) -> str:
    """Copy a test guest into the VM as an executable; returns its VM path."""
    path = f"/usr/bin/{name}"
    await client.fs.write_file(vm_id, path, guest_bytes(name), mode=0o755)
    return path


async def sh(client, vm_id: str, command: str, **kwargs):
    """Run ``command`` with /bin/sh in the VM (generous timeout: the machine is noisy)."""
    return await client.process.exec(vm_id, command, timeout_ms=60_000, **kwargs)


async def running_pids(client, vm_id: str) -> list[int]:
    return [p.pid for p in (await client.process.list(vm_id)).processes if p.state == "running"]


async def wait_until_no_process_runs(client, vm_id: str) -> None:
    with trio.fail_after(10):
        while await running_pids(client, vm_id):
            await trio.sleep(0.05)
