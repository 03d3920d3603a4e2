"""kernel_io: the trio side of pipes. read_some waits (without a thread) for data a
guest thread writes, then sees end of file; write_all waits while the pipe is full
and finishes as a reader drains it; errors other than EAGAIN propagate."""

from __future__ import annotations

import threading

import pytest
import trio

from agentvm_sidecar.kernel.descriptions import Description
from agentvm_sidecar.kernel.errors import KernelError
from agentvm_sidecar.kernel.kernel import Kernel
from agentvm_sidecar.kernel.limits import Limits
from agentvm_sidecar.kernel_io import read_some, write_all


def _pipe(kernel: Kernel) -> tuple[Description, Description]:
    reader, writer = kernel.make_pipe()
    reader.retain()
    writer.retain()
    return reader, writer


def test_read_some_waits_for_a_writer_thread_then_sees_end_of_file() -> None:
    reader, writer = _pipe(Kernel(Limits()))
    reader.nonblocking = True
    got: list[bytes] = []

    def write_later() -> None:
        writer.write(b"hello")
        writer.release()

    async def main() -> None:
        threading.Timer(0.05, write_later).start()
        with trio.fail_after(10):
            got.append(await read_some(reader))
            while data := await read_some(reader):
                got.append(data)

    trio.run(main)
    assert got == [b"hello"]


def test_write_all_waits_while_full_and_finishes_as_a_thread_drains() -> None:
    reader, writer = _pipe(Kernel(Limits()))
    writer.nonblocking = True
    payload = bytes(range(256)) * 4096  # 1 MiB: many times a pipe's capacity
    drained = bytearray()

    def drain() -> None:
        while data := reader.read(65536):
            drained.extend(data)

    async def main() -> None:
        thread = threading.Thread(target=drain)
        thread.start()
        with trio.fail_after(30):
            await write_all(writer, payload)
        writer.release()
        await trio.to_thread.run_sync(thread.join)

    trio.run(main)
    assert bytes(drained) == payload


def test_a_read_error_other_than_eagain_propagates() -> None:
    class Broken(Description):
        readable = True

        def read(self, n: int, interrupted: object = None) -> bytes:  # type: ignore[override]
            raise KernelError.eio()

    with pytest.raises(KernelError) as exc:
        trio.run(read_some, Broken())
    assert exc.value.errno == "EIO"
