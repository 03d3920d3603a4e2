"""An exec's stdio (exec_stdio.py): stdin read from the request's bytes, outputs kept
up to a limit with the rest counted as written, both FIFOs to the guest, and the end
of an output reported once, at its last close, from whichever thread closes it."""

from __future__ import annotations

import stat
import threading

from agentvm_sidecar.kernel.exec_stdio import OutputCapture, StdinBytes
from agentvm_sidecar.kernel.fstypes import FileKind


def test_stdin_reads_its_bytes_then_end_of_file() -> None:
    stdin = StdinBytes(b"hello world")
    assert stdin.readable and not stdin.writable and stdin.kind is FileKind.FIFO
    assert stdin.read(5) == b"hello"
    assert stdin.stat().size == 6  # what is left to read, as a pipe's buffered bytes
    assert stdin.read(100) == b" world"
    assert stdin.read(100) == b""
    assert stat.S_ISFIFO(stdin.stat().mode)


def test_an_output_keeps_its_first_bytes_and_accepts_every_write() -> None:
    out = OutputCapture(8, lambda: None)
    assert out.writable and not out.readable and stat.S_ISFIFO(out.stat().mode)
    assert out.write(b"12345") == 5
    assert out.output() == (b"12345", False)
    assert out.write(memoryview(b"67890")) == 5  # the process sees it all written
    assert out.write(b"abc") == 3
    assert out.output() == (b"12345678", True)


def test_an_output_limit_of_zero_keeps_nothing() -> None:
    out = OutputCapture(0, lambda: None)
    assert out.write(b"x") == 1
    assert out.output() == (b"", True)


def test_the_end_of_an_output_is_its_last_release_on_the_closing_thread() -> None:
    closed_on: list[int] = []
    out = OutputCapture(100, lambda: closed_on.append(threading.get_ident()))
    out.retain()  # the process
    out.retain()  # a child it started
    out.release()
    assert closed_on == [] and not out.closed
    worker = threading.Thread(target=out.release)
    worker.start()
    worker.join()
    assert closed_on == [worker.ident] and out.closed


def test_writers_on_many_threads_lose_nothing_under_the_limit() -> None:
    out = OutputCapture(1 << 20, lambda: None)

    def write(mark: bytes) -> None:
        for _ in range(1000):
            out.write(mark * 10)

    threads = [threading.Thread(target=write, args=(bytes([65 + i]),)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    data, truncated = out.output()
    assert len(data) == 40_000 and not truncated
    assert all(data.count(bytes([65 + i])) == 10_000 for i in range(4))
