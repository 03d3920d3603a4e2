"""A VM's own background tasks (output pumps, exit waiters, tool jobs, ACP sessions),
run in a trio nursery of the VM's that is opened when the first one starts.

Why not open it with the VM: a nursery is a task of its own, the nursery, two cancel
scopes and their statuses: 4.2 of the 22.7 KiB an idle VM cost (tracemalloc,
bench/vm_memory.py), and a VM that only runs `process.exec` never needs one.
Cancelling (dispose) ends every task, started or about to start, as cancelling the
nursery did.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import trio

__all__ = ["VmTasks"]


class VmTasks:
    """Starts tasks in the VM's nursery, opening it first (in ``parent``) if needed.
    As in any nursery, a task started after ``cancel`` still runs, cancelled, so its
    ``finally`` blocks release what it was given; once the cancelled nursery has
    closed, starting one raises RuntimeError."""

    __slots__ = ("_cancelled", "_nursery", "_opening", "_parent", "_waiting")

    def __init__(self, parent: trio.Nursery) -> None:
        self._parent = parent
        self._nursery: trio.Nursery | None = None
        self._opening: trio.Event | None = None  # set once the nursery is open
        self._waiting: list[tuple[Callable[..., Awaitable[Any]], tuple[Any, ...]]] = []  # started before that
        self._cancelled = False

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """``Nursery.start_soon`` in the VM's nursery. Raises: RuntimeError (closed)."""
        if self._nursery is not None:
            self._nursery.start_soon(fn, *args)
        else:
            self._waiting.append((fn, args))
            self._open()

    async def start(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """``Nursery.start`` in the VM's nursery. Raises: RuntimeError (closed)."""
        if self._nursery is None:
            await self._open().wait()
        assert self._nursery is not None
        return await self._nursery.start(fn, *args)

    def cancel(self) -> None:
        """Cancel every task of the VM, running or about to start."""
        self._cancelled = True
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    def _open(self) -> trio.Event:
        if self._opening is None:
            self._opening = trio.Event()
            self._parent.start_soon(self._run)
        return self._opening

    async def _run(self) -> None:
        async with trio.open_nursery() as nursery:
            if self._cancelled:
                nursery.cancel_scope.cancel()
            self._nursery = nursery
            for fn, args in self._waiting:
                nursery.start_soon(fn, *args)
            self._waiting.clear()
            assert self._opening is not None
            self._opening.set()
            await trio.sleep_forever()
