"""OutgoingLines over a real pipe: lines from many tasks, a tiny queue, a slow reader."""

from __future__ import annotations

import os

import trio

from agentvm_sidecar.rpc.outgoing_lines import OutgoingLines


async def test_lines_from_many_tasks_through_a_full_queue_arrive_whole():
    """Senders wait for room in a one-line queue while the reader drains the pipe
    a little at a time: no line may be written ahead of, or into, a queued one."""
    read_fd, write_fd = os.pipe()
    lines = [bytes([65 + i % 26]) * (70_000 + 997 * i) + b"\n" for i in range(24)]
    out = OutgoingLines(1)
    received = bytearray()
    reader = trio.lowlevel.FdStream(read_fd)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(out.write_loop, trio.lowlevel.FdStream(write_fd), nursery.cancel_scope.cancel)
        await trio.sleep(0)  # the writer owns the pipe from here on
        async def send_later(delay: float, line: bytes) -> None:
            await trio.sleep(delay)
            await out.send(line)

        async with trio.open_nursery() as senders:
            for i, line in enumerate(lines):  # arriving while others wait for room
                senders.start_soon(send_later, i % 6 * 0.0005, line)
            while received.count(b"\n") < len(lines):
                received += await reader.receive_some(8192)
                await trio.sleep(0.0002)
        nursery.cancel_scope.cancel()
    await reader.aclose()
    assert sorted(received.splitlines(keepends=True)) == sorted(lines)


async def test_a_closed_reader_ends_the_connection_once_and_later_lines_never_wait():
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    out = OutgoingLines(4)
    closed = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(out.write_loop, trio.lowlevel.FdStream(write_fd), lambda: closed.append(1))
        await trio.sleep(0)
        with trio.fail_after(10):
            for n in range(20):  # more than the queue holds: dropped, not waiting for room
                await out.send(b"line %d\n" % n)
            out.send_nowait(b"last\n")
        await out.aclose()
    assert closed == [1]
