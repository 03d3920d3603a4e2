"""Kernel pipes: the VM's pipe count stays exact however the two ends' closes interleave."""

from __future__ import annotations

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
        reader.pipe.watch(lambda: pending and pending.pop().release())
        reader.release()
        assert kernel.usage().pipes == 0
    kernel.make_pipe()
    kernel.make_pipe()
    with pytest.raises(KernelError) as exc:
        kernel.make_pipe()
    assert exc.value.errno == "ENFILE"
