"""Pipelines of real guests through the native pipe path (native/agentvm_native.c):
every byte arrives, in order, through several stages, and a stage that stops reading
still ends its writer with SIGPIPE."""

from __future__ import annotations

import os

from tests.process.conftest import sh


async def test_megabytes_cross_three_pipes_unchanged(client, vm_id):
    data = os.urandom(3 * 1024 * 1024 + 12345)  # not a multiple of any buffer size
    await client.fs.write_file(vm_id, "/tmp/in.bin", data)
    res = await sh(client, vm_id, "cat /tmp/in.bin | cat | cat | cat > /tmp/out.bin")
    assert res.exit_code == 0, res.stderr
    assert (await client.fs.read_file(vm_id, "/tmp/out.bin")).data == data


async def test_a_reader_that_stops_ends_an_endless_writer(client, vm_id):
    res = await sh(client, vm_id, "yes abcdefghij | head -c 5000000 | wc -c")
    assert (res.exit_code, res.stdout.strip()) == (0, b"5000000")
