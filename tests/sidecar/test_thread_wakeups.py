"""Callbacks queued for the trio thread from other threads (thread_wakeups.py): they run
on the trio thread in order, the eventfd is written once per batch, a failing callback
does not stop the others, and once the run ended queueing raises as trio's token does."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest
import trio

from agentvm_sidecar import thread_wakeups as module
from agentvm_sidecar.thread_wakeups import thread_wakeups


async def test_callbacks_from_a_thread_run_on_the_trio_thread_in_order():
    wakeups = thread_wakeups()
    trio_thread = threading.get_ident()
    ran: list[tuple[int, int]] = []
    done = trio.Event()

    def queue_from_thread() -> None:
        for i in range(5):
            wakeups.run_sync_soon(lambda i=i: ran.append((i, threading.get_ident())))
        wakeups.run_sync_soon(done.set)

    await trio.to_thread.run_sync(queue_from_thread)
    with trio.fail_after(10):
        await done.wait()
    assert ran == [(i, trio_thread) for i in range(5)]


async def test_the_trio_side_is_told_once_per_batch(monkeypatch):
    writes: list[int] = []
    real_write = module._write
    monkeypatch.setattr(module, "_write", lambda *args: writes.append(1) or real_write(*args))
    wakeups = thread_wakeups()
    ran: list[int] = []
    for i in range(3):  # the trio thread is busy here: the system task cannot empty the queue
        wakeups.run_sync_soon(ran.append, i)
    assert len(writes) == 1
    with trio.fail_after(10):
        while len(ran) < 3:
            await trio.sleep(0.001)
    wakeups.run_sync_soon(ran.append, 3)  # the queue was emptied: this one tells again
    assert len(writes) == 2
    with trio.fail_after(10):
        while len(ran) < 4:
            await trio.sleep(0.001)
    assert ran == [0, 1, 2, 3]


async def test_a_failing_callback_is_logged_and_the_others_still_run():
    wakeups = thread_wakeups()
    done = trio.Event()

    def fails() -> None:
        raise RuntimeError("callback failed")

    wakeups.run_sync_soon(fails)
    wakeups.run_sync_soon(done.set)
    with trio.fail_after(10):
        await done.wait()


def test_queueing_after_the_run_ended_raises_run_finished():
    async def main() -> module.ThreadWakeups:
        wakeups = thread_wakeups()
        await trio.sleep(0)  # the system task starts waiting on the eventfd
        return wakeups

    wakeups = trio.run(main)
    with pytest.raises(trio.RunFinishedError):
        wakeups.run_sync_soon(print, "never")


class _Payload:
    """Something a callback's arguments hold (a process's kernel, in the sidecar)."""


async def test_a_callback_that_ran_leaves_its_arguments_unreferenced():
    wakeups = thread_wakeups()
    ran = trio.Event()
    payload = _Payload()
    ref = weakref.ref(payload)
    wakeups.run_sync_soon(lambda p: ran.set(), payload)
    del payload
    with trio.fail_after(10):
        await ran.wait()
    await trio.sleep(0.01)  # the system task is back to waiting for the eventfd
    gc.collect()
    assert ref() is None


async def test_a_quiet_event_set_from_a_thread_wakes_its_waiter(monkeypatch):
    queued: list[object] = []
    wakeups = thread_wakeups()
    real = wakeups.run_sync_soon
    monkeypatch.setattr(wakeups, "run_sync_soon", lambda fn, *args: queued.append(fn) or real(fn, *args))
    event = module.QuietEvent()
    async with trio.open_nursery() as nursery:
        woke = trio.Event()

        async def waiter() -> None:
            await event.wait()
            woke.set()

        nursery.start_soon(waiter)
        await trio.sleep(0.01)  # the waiter waits
        await trio.to_thread.run_sync(event.set)
        with trio.fail_after(10):
            await woke.wait()
    assert len(queued) == 1  # one wake-up, for the one waiter
    event.set()  # again: nothing
    assert len(queued) == 1


async def test_a_quiet_event_nobody_waits_for_wakes_nothing(monkeypatch):
    queued: list[object] = []
    wakeups = thread_wakeups()
    monkeypatch.setattr(wakeups, "run_sync_soon", lambda fn, *args: queued.append(fn))
    event = module.QuietEvent()
    await trio.to_thread.run_sync(event.set)
    assert event.is_set() and queued == []
    with trio.fail_after(10):
        await event.wait()  # already set: returns at once


async def test_a_quiet_event_set_on_the_trio_thread_wakes_its_waiter_directly(monkeypatch):
    queued: list[object] = []
    wakeups = thread_wakeups()
    monkeypatch.setattr(wakeups, "run_sync_soon", lambda fn, *args: queued.append(fn))
    event = module.QuietEvent()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(event.wait)
        await trio.sleep(0.01)
        event.set()
    assert queued == []
