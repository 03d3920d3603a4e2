"""OutgoingLines over a real pipe: lines from many tasks, a tiny queue, a slow reader,
and lines written whole from other threads."""

from __future__ import annotations

import os
import select
import time

import trio
import trio.testing

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


async def test_lines_written_whole_from_threads_never_land_inside_a_task_s_line():
    # write_whole (an answer sent early from a guest thread) writes only when
    # nothing is queued, and only lines the pipe takes whole: tasks' big lines,
    # written in parts through the writer task, stay whole around them.
    read_fd, write_fd = os.pipe()
    big = [bytes([65 + i]) * (100_000 + 101 * i) + b"\n" for i in range(8)]
    small = [b"t%d-%d\n" % (t, n) for t in range(4) for n in range(300)]
    out = OutgoingLines(2)
    received = bytearray()
    reader = trio.lowlevel.FdStream(read_fd)
    refused: list[bytes] = []

    def from_thread(t: int) -> None:
        for n in range(300):
            line = b"t%d-%d\n" % (t, n)
            while not out.write_whole(line):  # refused while a line is queued or the pipe is full
                refused.append(line)
                time.sleep(0.0001)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(out.write_loop, trio.lowlevel.FdStream(write_fd), nursery.cancel_scope.cancel)
        await trio.sleep(0)
        async with trio.open_nursery() as senders:
            for t in range(4):
                senders.start_soon(trio.to_thread.run_sync, from_thread, t)
            for line in big:
                senders.start_soon(out.send, line)
            while received.count(b"\n") < len(big) + len(small):
                received += await reader.receive_some(65536)
        nursery.cancel_scope.cancel()
    await reader.aclose()
    assert sorted(received.splitlines(keepends=True)) == sorted(big + small)
    assert refused  # the threads did meet queued lines: the case this test is about


def test_write_whole_refuses_lines_over_pipe_buf_and_outputs_that_are_no_pipe(tmp_path):
    async def main() -> None:
        read_fd, write_fd = os.pipe()
        out = OutgoingLines(2)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(out.write_loop, trio.lowlevel.FdStream(write_fd), nursery.cancel_scope.cancel)
            await trio.testing.wait_all_tasks_blocked()  # the writer task took the output
            assert out.write_whole(b"x" * (select.PIPE_BUF - 1) + b"\n")
            assert not out.write_whole(b"x" * select.PIPE_BUF + b"\n")  # may be written in parts
            nursery.cancel_scope.cancel()
        os.close(read_fd)
        file_fd = os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT)
        out = OutgoingLines(2)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(out.write_loop, trio.lowlevel.FdStream(file_fd), nursery.cancel_scope.cancel)
            await trio.testing.wait_all_tasks_blocked()  # the writer task took the output
            assert not out.write_whole(b"short\n")  # a file (or socket) is no pipe: no all-or-nothing
            nursery.cancel_scope.cancel()

    trio.run(main)
