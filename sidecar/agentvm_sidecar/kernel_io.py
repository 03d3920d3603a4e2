"""The trio side of kernel objects: await pipe data and process exits without
blocking the event loop and without parking a thread per wait.

Kernel objects are synchronous and thread-safe (guests call them from their own
threads). Following trio's own ``_sync.py``, each operation here is a non-blocking
attempt (the sidecar's pipe ends are marked O_NONBLOCK, so they raise EAGAIN instead
of waiting) wrapped in an async loop that parks on a ``trio.Event`` set by the
object's readiness watcher through the trio thread's wake-ups (thread_wakeups.py).
Every async function checkpoints.
"""

from __future__ import annotations

import trio

from .kernel.descriptions import Description
from .kernel.errors import KernelError
from .thread_wakeups import thread_wakeups

__all__ = ["read_some", "write_all"]


async def _wait_ready(desc: Description, for_write: bool) -> None:
    """Until ``desc`` is ready in that direction."""
    event = trio.Event()
    token = thread_wakeups()  # the watcher runs on a guest thread: keep its GIL (thread_wakeups.py)

    def wake() -> None:
        try:
            token.run_sync_soon(event.set)
        except trio.RunFinishedError:
            pass

    desc.watch(wake)
    try:
        if not desc.ready(for_write):
            await event.wait()
    finally:
        desc.unwatch(wake)


def _read_now(desc: Description, max_bytes: int) -> bytes | None:
    """One read of a non-blocking readable description: up to ``max_bytes``, b""
    at end of file, None when it would block (EAGAIN)."""
    try:
        return desc.read(max_bytes)
    except KernelError as exc:
        if exc.errno != "EAGAIN":
            raise
        return None


async def read_some(desc: Description, max_bytes: int = 65536) -> bytes:
    """Up to ``max_bytes`` from a non-blocking readable description; b"" at EOF.

    Blocks (asynchronously) until data or end of file.
    """
    await trio.lowlevel.checkpoint_if_cancelled()
    while (data := _read_now(desc, max_bytes)) is None:
        await _wait_ready(desc, for_write=False)
    await trio.lowlevel.cancel_shielded_checkpoint()
    return data


async def write_all(desc: Description, data: bytes) -> None:
    """Write all of ``data`` to a non-blocking writable description, waiting while
    it is full. Raises: KernelError EPIPE when the reader is gone."""
    await trio.lowlevel.checkpoint_if_cancelled()
    view = memoryview(data)
    while view:
        try:
            n = desc.write(view)
        except KernelError as exc:
            if exc.errno != "EAGAIN":
                raise
            await _wait_ready(desc, for_write=True)
            continue
        view = view[n:]
    await trio.lowlevel.cancel_shielded_checkpoint()
