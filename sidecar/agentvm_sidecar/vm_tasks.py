"""A VM's own background tasks (output pumps, exit waiters, tool jobs, ACP sessions),
run in a trio nursery of the VM's that is opened when the first one starts.

Why not open it with the VM: a nursery is a task of its own, the nursery, two cancel
scopes and their statuses: 4.2 of the 22.7 KiB an idle VM cost (tracemalloc,
bench/vm_memory.py), and a VM that only runs `process.exec` never needs one.
Cancelling (dispose) ends every task, started or about to start, as cancelling the
nursery did, and a task started once the cancelled nursery has closed (a request
that was already past its VM lookup when the VM was disposed: `process.spawn`
registering its output pump) still runs, cancelled, so what it was given is
released; that was an internal RuntimeError before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import trio

from .rpc.errors import RpcError

__all__ = ["VmTasks"]


class VmTasks:
    """Starts tasks in the VM's nursery, opening it first (in ``parent``) if needed.
    As in any nursery, a task started after ``cancel`` still runs, cancelled, so its
    ``finally`` blocks release what it was given; once the cancelled nursery has
    closed, such a task runs cancelled in ``parent``."""

    __slots__ = ("_cancelled", "_closed", "_nursery", "_opening", "_parent", "_waiting")

    def __init__(self, parent: trio.Nursery) -> None:
        self._parent = parent
        self._nursery: trio.Nursery | None = None
        self._opening: trio.Event | None = None  # set once the nursery is open
        self._waiting: list[tuple[Callable[..., Awaitable[Any]], tuple[Any, ...]]] = []  # started before that
        self._cancelled = False
        self._closed = False  # the cancelled nursery has closed

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """``Nursery.start_soon`` in the VM's nursery (see the class doc once it closed)."""
        if self._closed:
            self._parent.start_soon(_run_cancelled, fn, args)
        elif self._nursery is not None:
            self._nursery.start_soon(fn, *args)
        else:
            self._waiting.append((fn, args))
            self._open()

    async def start(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """``Nursery.start`` in the VM's nursery. Raises: not_found once the VM's
        nursery has closed (the VM was disposed: what a later request gets)."""
        if self._closed:
            raise RpcError("not_found", "the VM was disposed")
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
        self._closed = True  # in the step that closed it: no start_soon comes between


async def _run_cancelled(fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> None:
    with trio.CancelScope() as scope:
        scope.cancel()
        await fn(*args)
