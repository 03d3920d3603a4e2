"""Kernel pipes: the VM's pipe count stays exact however the two ends' closes interleave."""

from __future__ import annotations

import threading

import pytest

from agentvm_sidecar.kernel.errors import KernelError
from agentvm_sidecar.kernel.kernel import Kernel
from agentvm_sidecar.kernel.limits import Limits


def test_pipe_is_counted_destroyed_once_when_the_other_end_closes_mid_close() -> None:
    # The ends close on different threads (guest and trio). Force the worst
    # interleaving deterministically: a readiness watcher, which runs while the
    # reader's close is still finishing, closes the writer.
    kernel = Kernel(Limits(max_pipes=2))
    for _ in range(3):
        reader, writer = kernel.make_pipe()
        reader.retain()
        writer.retain()
        pending = [writer]
        reader.pipe.watch(lambda pending=pending: pending and pending.pop().release())
        reader.release()
        assert kernel.usage().pipes == 0
    kernel.make_pipe()
    kernel.make_pipe()
    with pytest.raises(KernelError) as exc:
        kernel.make_pipe()
    assert exc.value.errno == "ENFILE"


def test_a_writer_blocked_on_a_full_elastic_pipe_waits_without_holding_the_lock() -> None:
    # A stalled reader lets the pipe grow to max_capacity; a writer blocked beyond
    # that must sleep, not spin with the pipe's lock held (which froze the whole
    # sidecar: the trio side takes the same lock to read).
    import time

    from agentvm_sidecar.kernel.pipes import STALL_SECONDS, Pipe

    pipe = Pipe(capacity=512, max_capacity=1024)
    writer = threading.Thread(target=pipe.write, args=(b"x" * 4096,), daemon=True)
    writer.start()
    time.sleep(STALL_SECONDS * 10)
    probe = threading.Thread(target=pipe.buffered, daemon=True)
    probe.start()
    probe.join(timeout=2)
    assert not probe.is_alive(), "the blocked writer holds the pipe lock"
    assert pipe.buffered() == 1024
    received = b""
    while len(received) < 4096:
        received += pipe.read(4096)
    writer.join(timeout=5)
    assert received == b"x" * 4096 and not writer.is_alive()


def test_the_slack_of_all_stalled_pipes_together_is_bounded_by_the_vm_budget() -> None:
    kernel = Kernel(Limits(pipe_buffer_bytes=512, pipe_max_buffer_bytes=4096, pipe_buffer_budget_bytes=3000))
    ends = [kernel.make_pipe() for _ in range(3)]
    written = []
    for _reader, writer in ends:
        writer.nonblocking = True
        writer.pipe._elastic = True  # as after a stalled reader
        total = 0
        while True:
            try:
                total += writer.write(b"x" * 1000)
            except KernelError as exc:
                assert exc.errno == "EAGAIN"
                break
        written.append(total)
    assert sum(written) == 3 * 512 + 3000
    assert kernel.pipe_budget.used == 3000
    reader = ends[0][0]
    reader.nonblocking = True
    while True:
        try:
            if not reader.read(4096):
                break
        except KernelError:
            break
    assert kernel.pipe_budget.used == 3000 - (written[0] - 512)
