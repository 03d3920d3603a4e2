"""Run slots (wasm/scheduler.py) with plain threads standing in for guest threads:
FIFO hand-off, time slices, lending a stalled holder's slot, kills while queued."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from agentvm_sidecar.wasm import scheduler as scheduler_module
from agentvm_sidecar.wasm.scheduler import Scheduler, Seat
from tests.waiting import WAIT, until


class Flag:
    """An ``interrupted`` callable the test sets (a pending kill)."""

    def __init__(self) -> None:
        self.value = False

    def __call__(self) -> bool:
        return self.value


def start(fn) -> threading.Thread:  # type: ignore[no-untyped-def]
    thread = threading.Thread(target=fn, daemon=True)
    thread.start()
    return thread


def queue_taker(scheduler: Scheduler, seat: Seat, order: list[str], name: str, waiting: int) -> threading.Thread:
    """Start a thread taking ``seat`` (appending ``name`` to ``order`` once it holds),
    and return once it is the ``waiting``-th in the queue."""
    thread = start(lambda: (seat.take(), order.append(name)))
    until(lambda: scheduler.statistics().waiting == waiting, f"{name} to queue")
    return thread


def test_a_free_slot_is_taken_at_once_and_returned_on_release() -> None:
    scheduler = Scheduler(2)
    a, b = scheduler.seat(Flag()), scheduler.seat(Flag())
    a.take()
    b.take()
    assert a.holding and b.holding
    assert scheduler.statistics().holding == 2
    a.release()
    b.release()
    assert not a.holding
    assert scheduler.statistics() == type(scheduler.statistics())(2, 0, 0, 0, 0)


def test_waiters_get_the_slot_in_arrival_order() -> None:
    scheduler = Scheduler(1, slice_seconds=3600)
    holder = scheduler.seat(Flag())
    holder.take()
    order: list[str] = []
    seats = {name: scheduler.seat(Flag()) for name in "bcd"}
    with progressing(holder):  # else a slow start of the three is a stall: b would be lent the slot
        threads = [queue_taker(scheduler, seats[name], order, name, i + 1) for i, name in enumerate("bcd")]
    holder.release()
    for name in "bcd":
        until(lambda n=name: n in order, f"{name} to hold")
        assert seats[name].holding
        seats[name].release()
    for thread in threads:
        thread.join(WAIT)
    assert order == ["b", "c", "d"]


def test_a_returning_thread_never_takes_a_free_slot_past_a_waiter() -> None:
    scheduler = Scheduler(1, slice_seconds=3600)
    holder, waiter = scheduler.seat(Flag()), scheduler.seat(Flag())
    holder.take()
    order: list[str] = []
    with progressing(holder):
        queue_taker(scheduler, waiter, order, "waiter", 1)
    holder.release()  # the slot goes straight to the waiter ...
    holder_back = start(lambda: (holder.take(), order.append("holder")))  # ... so this one queues
    until(lambda: order, "the waiter to hold")
    waiter.release()
    holder_back.join(WAIT)
    assert order == ["waiter", "holder"]


def test_the_slice_end_passes_the_slot_to_the_first_waiter_and_queues_the_holder() -> None:
    scheduler = Scheduler(1, slice_seconds=0.0)
    holder, waiter = scheduler.seat(Flag()), scheduler.seat(Flag())
    holder.take()
    holder.safe_point()  # nobody waits: keeps the slot
    assert holder.holding and scheduler.statistics().handoffs == 0
    order: list[str] = []
    queue_taker(scheduler, waiter, order, "waiter", 1)
    back = start(lambda: (holder.safe_point(), order.append("holder")))
    until(lambda: order == ["waiter"], "the waiter to hold")
    assert not holder.holding and scheduler.statistics().waiting == 1
    waiter.release()
    back.join(WAIT)
    assert order == ["waiter", "holder"] and holder.holding
    assert scheduler.statistics().handoffs == 2  # slice end, then the waiter's release


def test_a_holder_that_keeps_reaching_safe_points_keeps_its_slot_within_its_slice() -> None:
    scheduler = Scheduler(1, slice_seconds=3600)
    holder, waiter = scheduler.seat(Flag()), scheduler.seat(Flag())
    holder.take()
    order: list[str] = []
    queue_taker(scheduler, waiter, order, "waiter", 1)
    deadline = time.monotonic() + 0.5  # several stall periods of steady progress
    while time.monotonic() < deadline:
        holder.safe_point()
        time.sleep(0.005)
    assert holder.holding and not order and scheduler.statistics().lent == 0
    holder.release()
    until(lambda: order, "the waiter to hold")


def test_a_holder_blocked_without_saying_so_lends_its_slot_to_the_waiters() -> None:
    scheduler = Scheduler(1, slice_seconds=3600)
    holder = scheduler.seat(Flag())
    holder.take()
    unannounced = threading.Event()  # the holder blocks here without releasing
    stuck = start(lambda: (unannounced.wait(), holder.safe_point()))
    order: list[str] = []
    waiters = [scheduler.seat(Flag()) for _ in range(3)]
    threads = [start(lambda s=s, i=i: (s.take(), order.append(str(i)), s.release())) for i, s in enumerate(waiters)]
    for thread in threads:
        thread.join(WAIT)
    assert sorted(order) == ["0", "1", "2"]  # every waiter ran while the holder stayed blocked
    assert not holder.holding and scheduler.statistics().lent == 1
    unannounced.set()
    stuck.join(WAIT)
    assert holder.holding  # back at its next safe point, through the queue
    holder.release()
    assert scheduler.statistics().holding == 0


def test_a_killed_waiter_stops_waiting_without_a_slot() -> None:
    scheduler = Scheduler(1, slice_seconds=3600)
    holder = scheduler.seat(Flag())
    holder.take()
    killed = Flag()
    waiter = scheduler.seat(killed)
    done: list[bool] = []
    with progressing(holder):
        thread = queue_taker(scheduler, waiter, [], "waiter", 1)
        thread_done = start(lambda: (thread.join(), done.append(True)))
        killed.value = True
        thread_done.join(WAIT)
    assert done and not waiter.holding
    stats = scheduler.statistics()
    assert (stats.holding, stats.waiting) == (1, 0)
    assert holder.holding  # the kill took nothing from the holder
    killed_before = scheduler.seat(killed)
    killed_before.take()  # a killed thread never queues
    assert not killed_before.holding and scheduler.statistics().waiting == 0


def test_a_scheduler_needs_a_slot() -> None:
    with pytest.raises(ValueError):
        Scheduler(0)


@pytest.fixture
def no_backstop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Waiters behind the first never wake on their own timer during a test."""
    monkeypatch.setattr(scheduler_module, "QUEUED_CHECK_SECONDS", 3600.0)


def keep_progressing(holder: Seat, stop: threading.Event) -> threading.Thread:
    """Reach a safe point every few ms until ``stop`` (a running guest's epoch ticks)."""
    return start(lambda: [holder.safe_point() for _ in iter(lambda: stop.wait(0.005), True)])


@contextmanager
def progressing(holder: Seat) -> Iterator[None]:
    """``holder`` reaches safe points while the block runs, so however slowly the
    test's threads start, it never looks stalled (its slot is never lent)."""
    stop = threading.Event()
    thread = keep_progressing(holder, stop)
    try:
        yield
    finally:
        stop.set()
        thread.join(WAIT)


@pytest.mark.usefixtures("no_backstop")
def test_a_kill_wakes_a_waiter_behind_the_first_at_once() -> None:
    scheduler = Scheduler(1, slice_seconds=3600)
    holder = scheduler.seat(Flag())
    holder.take()
    stop = threading.Event()
    keep_progressing(holder, stop).join(0)  # never lent to the first waiter
    first, killed = scheduler.seat(Flag()), Flag()
    victim = scheduler.seat(killed)
    order: list[str] = []
    queue_taker(scheduler, first, order, "first", 1)
    thread = queue_taker(scheduler, victim, order, "victim", 2)
    killed.value = True
    victim.interrupt()  # what the kernel's kill does (Process.kill_waker)
    thread.join(WAIT)
    assert order == ["victim"] and not victim.holding  # returned without a slot
    stats = scheduler.statistics()
    assert (stats.holding, stats.waiting, stats.lent) == (1, 1, 0)  # the others untouched
    stop.set()
    holder.release()
    until(lambda: order == ["victim", "first"], "the first waiter to hold")
    first.release()
    assert scheduler.statistics().holding == 0


@pytest.mark.usefixtures("no_backstop")
def test_the_watch_lends_a_stalled_slot_to_a_waiter_that_sleeps_untimed() -> None:
    scheduler = Scheduler(1, slice_seconds=3600)
    holder = scheduler.seat(Flag())
    holder.take()
    first, second = scheduler.seat(Flag()), scheduler.seat(Flag())
    order: list[str] = []
    with progressing(holder):
        queue_taker(scheduler, first, order, "first", 1)
        queue_taker(scheduler, second, order, "second", 2)  # not first: sleeps until woken
    holder.release()  # the first waiter holds now, and then blocks without saying so
    until(lambda: order == ["first"], "the first waiter to hold")
    deadline = time.monotonic() + WAIT
    while "second" not in order and time.monotonic() < deadline:
        scheduler.watch()  # as the epoch ticker does while guests run
        time.sleep(0.005)
    assert order == ["first", "second"] and second.holding and not first.holding
    assert scheduler.statistics().lent == 1
    second.release()
