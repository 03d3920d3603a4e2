"""HostStream: trio's stream contract over a HostConnection (here the pipe-built double)."""

from __future__ import annotations

import threading

import pytest
import trio
from trio.testing import assert_checkpoints

from agentvm_sidecar.net.host_stream import HostStream

from .fake_guest import PIPE_BYTES, GuestEnd, PipeConnection


def pair() -> tuple[HostStream, GuestEnd]:
    conn = PipeConnection()
    return HostStream(conn), GuestEnd(conn)


async def test_receive_and_send_checkpoint_even_when_they_do_not_block():
    stream, guest = pair()
    guest.send(b"ready")
    with assert_checkpoints():
        assert await stream.receive_some() == b"ready"
    with assert_checkpoints():
        await stream.send_all(b"x")
    with assert_checkpoints():
        await stream.send_eof()
    with assert_checkpoints():
        await stream.aclose()


async def test_receive_waits_for_data_written_later_by_another_thread():
    stream, guest = pair()
    threading.Timer(0.05, guest.send, args=(b"late",)).start()
    with trio.fail_after(10):
        assert await stream.receive_some() == b"late"


async def test_send_all_waits_while_the_buffer_is_full_and_finishes_as_the_guest_reads():
    stream, guest = pair()
    payload = bytes(range(256)) * (4 * PIPE_BYTES // 256)
    received = bytearray()

    def drain() -> None:
        while len(received) < len(payload):
            received.extend(guest.recv())

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    with trio.fail_after(20):
        await stream.send_all(payload)
    reader.join(20)
    assert bytes(received) == payload


async def test_end_of_stream_reads_empty_and_send_eof_reaches_the_guest():
    stream, guest = pair()
    await stream.send_eof()
    assert guest.recv() == b""
    guest.close()
    assert await stream.receive_some() == b""


async def test_sending_after_the_guest_stopped_reading_is_broken():
    stream, guest = pair()
    guest.close()
    with pytest.raises(trio.BrokenResourceError):
        await stream.send_all(b"anyone?")


async def test_closing_wakes_a_parked_receiver_with_closed_resource_error():
    stream, _guest = pair()

    async def receive() -> None:
        with pytest.raises(trio.ClosedResourceError):
            await stream.receive_some()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receive)
        await trio.testing.wait_all_tasks_blocked()
        await stream.aclose()
    with pytest.raises(trio.ClosedResourceError):
        await stream.send_all(b"x")


async def test_two_tasks_receiving_at_once_is_busy():
    stream, _guest = pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(stream.receive_some)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.BusyResourceError):
            await stream.receive_some()
        nursery.cancel_scope.cancel()
