"""kernel_io.read_to_end: several pipes read to their ends in one task, fed by
other threads, with nothing lost, no stream starved and the event loop free."""

from __future__ import annotations

import threading

import pytest
import trio

from agentvm_sidecar.kernel.descriptions import Description
from agentvm_sidecar.kernel.errors import KernelError
from agentvm_sidecar.kernel.kernel import Kernel
from agentvm_sidecar.kernel.limits import Limits
from agentvm_sidecar.kernel_io import _YIELD_BYTES, drain_ready, read_to_end


def _pipes(kernel: Kernel, n: int) -> list[tuple[Description, Description]]:
    pairs = []
    for _ in range(n):
        reader, writer = kernel.make_pipe()
        reader.retain()
        writer.retain()
        reader.nonblocking = True
        pairs.append((reader, writer))
    return pairs


def test_every_byte_of_each_stream_arrives_in_order_from_writer_threads() -> None:
    kernel = Kernel(Limits())
    pairs = _pipes(kernel, 2)
    sent = [bytes(range(256)) * 4096, b"e" * 70_000]  # 1 MiB through a 256 KiB pipe; 70 kB

    def write(writer: Description, data: bytes) -> None:
        for i in range(0, len(data), 10_000):
            writer.write(data[i : i + 10_000])
        writer.release()

    got = [bytearray(), bytearray()]

    async def main() -> None:
        threads = [threading.Thread(target=write, args=(w, d)) for (_, w), d in zip(pairs, sent, strict=True)]
        for t in threads:
            t.start()
        with trio.fail_after(30):
            await read_to_end([r for r, _ in pairs], lambda i, data: got[i].extend(data))
        for t in threads:
            t.join()

    trio.run(main)
    assert [bytes(g) for g in got] == sent


class _Scripted(Description):
    """A readable description that returns ``chunks`` one per read (at most what
    is asked), then end of file."""

    readable = True

    def __init__(self, chunks: list[bytes]) -> None:
        super().__init__()
        self._chunks = chunks

    def read(self, n: int, interrupted: object = None) -> bytes:  # type: ignore[override]
        if not self._chunks:
            return b""
        chunk = self._chunks.pop(0)
        if len(chunk) > n:
            self._chunks.insert(0, chunk[n:])
        return chunk[:n]


def test_a_stream_that_never_runs_dry_starves_neither_the_other_nor_the_loop() -> None:
    # Stream 0 always has data (8 MiB, never EAGAIN); stream 1 has a few bytes.
    # Stream 1 must be read in the first round, and another task must get turns
    # while stream 0 streams (read_to_end yields every _YIELD_BYTES).
    chunk = b"x" * 65536
    flood = _Scripted([chunk] * (8 * _YIELD_BYTES // len(chunk)))
    short = _Scripted([b"short"])
    got: list[tuple[int, int]] = []  # (stream, ticker turns so far)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await trio.lowlevel.checkpoint()

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ticker)
            await trio.lowlevel.checkpoint()
            await read_to_end([flood, short], lambda i, data: got.append((i, ticks)))
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert got[:2] == [(0, got[0][1]), (1, got[0][1])]  # one chunk of each in the first round
    turns = [t for i, t in got if i == 0]
    assert len(turns) == 128 and turns[-1] - turns[0] >= 6  # the ticker ran while 8 MiB were read


def test_a_read_error_other_than_eagain_propagates() -> None:
    class Broken(Description):
        readable = True

        def read(self, n: int, interrupted: object = None) -> bytes:  # type: ignore[override]
            raise KernelError.eio()

    async def main() -> None:
        await read_to_end([Broken()], lambda i, data: None)

    with pytest.raises(KernelError) as exc:
        trio.run(main)
    assert exc.value.errno == "EIO"


def test_streams_at_their_end_return_at_once_and_a_cancelled_call_reads_nothing() -> None:
    kernel = Kernel(Limits())
    pairs = _pipes(kernel, 2)
    pairs[0][1].write(b"left unread")
    for _, writer in pairs:
        writer.release()
    got: list[bytes] = []

    async def main() -> None:
        with trio.CancelScope() as scope:
            scope.cancel()
            await read_to_end([r for r, _ in pairs], lambda i, data: got.append(data))
        assert scope.cancelled_caught and got == []
        await read_to_end([r for r, _ in pairs], lambda i, data: got.append(data))

    trio.run(main)
    assert got == [b"left unread"]


def test_drain_ready_takes_what_is_there_and_stops_at_its_limit() -> None:
    # After an exec's timeout: what the pipes hold now, never a wait, and a
    # writer that goes on writing cannot keep it reading (at most `limit` each).
    kernel = Kernel(Limits())
    (open_r, open_w), = _pipes(kernel, 1)
    open_w.write(b"before the end")  # the writer stays open: EAGAIN after this
    endless = _Scripted([b"y" * 65536] * 1000)
    got: dict[int, int] = {0: 0, 1: 0}
    drain_ready([open_r, endless], lambda i, data: got.__setitem__(i, got[i] + len(data)), limit=100_000)
    assert got == {0: len(b"before the end"), 1: 100_000}
