"""Processes whose arguments or directory are not UTF-8 (issue 8, row 15 for
processes): a guest can start one (argv is bytes, as on Linux), and every result
that shows it is well-formed: U+FFFD in the strings, exact bytes beside them."""

from __future__ import annotations

import pytest
import trio

from tests.process.conftest import install_guest


@pytest.mark.attack("a guest spawns a process with non-UTF-8 argv and cwd, then process.list and process.tree")
async def test_a_process_with_non_utf8_argv_is_listed_with_its_bytes(client, vm_id, canary):
    guest = await install_guest(client, vm_id, "badargv")
    parent = (await client.process.spawn(vm_id, argv=[guest])).pid
    with trio.fail_after(60):
        while not (await client.fs.exists(vm_id, "/tmp/seen")).exists:
            await trio.sleep(0.05)
    # the child received its argument's exact bytes
    assert (await client.fs.read_file(vm_id, "/tmp/seen")).data == b"child\xff"
    (child,) = [p for p in (await client.process.list(vm_id)).processes if p.ppid == parent]
    assert child.argv == ["badargv", "child\ufffd"]
    assert child.argv_bytes == [b"badargv", b"child\xff"]
    assert (child.cwd, child.cwd_bytes) == ("/tmp/d\ufffd", b"/tmp/d\xfe")
    (listed_parent,) = [p for p in (await client.process.list(vm_id)).processes if p.pid == parent]
    assert listed_parent.argv_bytes is None and listed_parent.cwd_bytes is None  # only when needed
    roots = (await client.process.tree(vm_id)).roots
    (node,) = [n for n in roots if n.process.pid == parent]
    assert [c.process.argv_bytes for c in node.children] == [[b"badargv", b"child\xff"]]
    # the directory is addressable by its bytes as well
    assert (await client.fs.stat(vm_id, child.cwd_bytes)).stat.kind == "directory"
    await client.process.kill(vm_id, parent, "SIGKILL")  # its session: the child too
