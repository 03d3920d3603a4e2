"""The trio side of kernel objects: await pipe data and process exits without
blocking the event loop and without parking a thread per wait.

Kernel objects are synchronous and thread-safe (guests call them from their own
threads). Following trio's own ``_sync.py``, each operation here is a non-blocking
attempt (the sidecar's pipe ends are marked O_NONBLOCK, so they raise EAGAIN instead
of waiting) wrapped in an async loop that parks on a ``trio.Event`` set by the
object's readiness watcher through the trio thread's wake-ups (thread_wakeups.py).
Every async function checkpoints; ``drain_ready`` never waits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import trio

from .kernel.descriptions import Description
from .kernel.errors import KernelError
from .thread_wakeups import thread_wakeups

__all__ = ["drain_ready", "read_some", "read_to_end", "write_all"]

_YIELD_BYTES = 1 << 20  # read_to_end's reads between two turns of other tasks (~0.3 ms of copying)


async def _wait_ready(descs: Sequence[Description], for_write: bool, lazily: bool = False) -> None:
    """Until one of ``descs`` is ready in that direction (``lazily``: readable as
    Description.ready_lazily says)."""
    event = trio.Event()
    token = thread_wakeups()  # the watcher runs on a guest thread: keep its GIL (thread_wakeups.py)

    def wake() -> None:
        try:
            token.run_sync_soon(event.set)
        except trio.RunFinishedError:
            pass

    for desc in descs:
        if lazily:
            desc.watch_lazily(wake)
        else:
            desc.watch(wake)
    try:
        if not any(desc.ready_lazily() if lazily else desc.ready(for_write) for desc in descs):
            await event.wait()
    finally:
        for desc in descs:
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
        await _wait_ready((desc,), for_write=False)
    await trio.lowlevel.cancel_shielded_checkpoint()
    return data


async def read_to_end(
    descs: Sequence[Description], sink: Callable[[int, bytes], None], *, lazily: bool = False, max_bytes: int = 65536
) -> None:
    """Read each of the non-blocking readable ``descs`` to end of file, handing
    every chunk read to ``sink(index in descs, chunk)``, in one loop. ``lazily``:
    wake up only for half-full pipes and ends (Description.watch_lazily), for a
    caller that wants the whole output, not each piece as soon as it is written:
    a command's few lines then cost no wake-up of their own, and the writes stay
    on the guest's native fast path.

    Why not a ``read_some`` task per description: a command's stdout and stderr
    read by two tasks cost two task starts and a wake-up of each per chunk on
    the trio thread, whose CPU competes for the GIL with the guest it waits for
    (bench/README.md, seventh round). Each round takes at most one chunk of each
    description, so one that never runs dry does not starve the other; the loop
    yields to other tasks only after ``_YIELD_BYTES`` (a turn per chunk was a
    scheduler round of its own per command), so it starves none of them either.
    """
    await trio.lowlevel.checkpoint_if_cancelled()
    live = list(enumerate(descs))
    unyielded = 0  # bytes read since the loop last gave other tasks a turn
    yielded = False
    while live:
        drained: list[Description] = []
        for entry in list(live):
            index, desc = entry
            data = _read_now(desc, max_bytes)
            if data is None:
                drained.append(desc)
            elif data:
                unyielded += len(data)
                sink(index, data)
            else:
                live.remove(entry)  # end of file
        if live and len(drained) == len(live):
            await _wait_ready(drained, for_write=False, lazily=lazily)
        elif unyielded >= _YIELD_BYTES:
            await trio.lowlevel.checkpoint()
        else:
            continue
        unyielded, yielded = 0, True
    if not yielded:
        await trio.lowlevel.cancel_shielded_checkpoint()


def drain_ready(descs: Sequence[Description], sink: Callable[[int, bytes], None], limit: int) -> None:
    """What the non-blocking readable ``descs`` hold now, at most ``limit`` bytes
    of each, handed to ``sink`` as read_to_end does; never waits (a writer that
    goes on writing cannot keep it here)."""
    for index, desc in enumerate(descs):
        taken = 0
        while taken < limit and (data := _read_now(desc, min(65536, limit - taken))):
            taken += len(data)
            sink(index, data)


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
            await _wait_ready((desc,), for_write=True)
            continue
        view = view[n:]
    await trio.lowlevel.cancel_shielded_checkpoint()
