"""Blocking calls from trio on spare threads (thread_calls.py): the result or the
exception comes back to the caller, the limiter bounds how many run at once, a
started call runs to its end even when its caller is cancelled, and waiting for a
token is cancellable."""

from __future__ import annotations

import threading

import pytest
import trio

from agentvm_sidecar.thread_calls import run_in_thread
from tests.waiting import AtOnce


async def test_the_result_comes_back_from_another_thread():
    here = threading.get_ident()
    assert await run_in_thread(threading.get_ident, trio.CapacityLimiter(1)) != here


async def test_the_exception_is_raised_in_the_caller():
    def fail() -> None:
        raise ValueError("from the thread")

    with pytest.raises(ValueError, match="from the thread"):
        await run_in_thread(fail, trio.CapacityLimiter(1))


async def test_the_limiter_bounds_the_calls_running_at_once():
    limiter = trio.CapacityLimiter(2)
    running = AtOnce()
    release = threading.Event()

    def held() -> None:
        with running.inside():
            release.wait(10)

    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(run_in_thread, held, limiter)
        with trio.fail_after(10):
            while limiter.borrowed_tokens < 2:
                await trio.sleep(0.01)
        await trio.sleep(0.1)  # the other three had their chance to start
        assert running.peak == 2
        release.set()
    assert limiter.borrowed_tokens == 0


async def test_a_started_call_finishes_even_when_its_caller_is_cancelled():
    started, finish, finished = threading.Event(), threading.Event(), threading.Event()

    def slow() -> None:
        started.set()
        finish.wait(10)
        finished.set()

    limiter = trio.CapacityLimiter(1)
    with trio.CancelScope() as scope:

        async def cancel_once_started() -> None:
            await trio.to_thread.run_sync(started.wait, 10)
            scope.cancel()
            finish.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(cancel_once_started)
            await run_in_thread(slow, limiter)
    assert finished.is_set()
    assert limiter.borrowed_tokens == 0


async def test_waiting_for_a_token_is_cancellable():
    limiter = trio.CapacityLimiter(1)
    holder = object()
    await limiter.acquire_on_behalf_of(holder)
    with trio.move_on_after(0.1) as waited:
        await run_in_thread(lambda: None, limiter)
    assert waited.cancelled_caught
    limiter.release_on_behalf_of(holder)
