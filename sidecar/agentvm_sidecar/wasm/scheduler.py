"""Run slots: how many guest threads run at once, sidecar-wide (GOMAXPROCS for guests).

Why: wasm runs without the GIL (ctypes releases it), but every host call takes it
again. With 10 or 20 guest threads runnable on 2 cores, each of those tens of thousands
of takes per command is a futex hand-off and a context switch: 10 concurrent greps in
one VM burnt 1.05 CPU s each against 0.23 s alone (bench/README.md). So a guest thread
runs only while it holds one of a few slots; the others sleep on a lock of their own,
off the GIL, in a FIFO queue, as runnable threads wait for a CPU in an OS run queue.

The rules:
- A guest thread takes a slot when it starts, and again at its *safe points*, where it
  holds no lock: the return of every host call (abi.py) and the epoch deadline callback
  (runtime.py). It gives the slot up before it blocks (kernel/blocking.py is how the
  kernel's waits say so; poll, sleep, the spawn gate and compile waits call it too) and
  at exit. A thread waiting here therefore never holds a kernel lock, and a thread woken
  from a wait finishes its host call without a slot before queueing.
- Time slices: the epoch callback, every ``TICK_SECONDS`` of wasm, passes the slot to
  the first waiter once the holder has had it for ``slice_seconds`` and someone waits.
  Nobody waiting: no hand-off and no lock.
- Fairness: slots go to waiters in arrival order, and a free slot is never taken past
  a waiter.
- Liveness never depends on every wait being announced: a holder that reached no
  safe point for ``STALL_SECONDS`` (blocked somewhere nobody announced, or busy in
  one long host call) has its slot lent to the first waiter; it queues again at its
  next safe point. A missed announcement costs ``STALL_SECONDS`` per wait, never a
  hang. Who looks, every ``STALL_CHECK_SECONDS``: the epoch ticker (``watch``, as
  Go's sysmon), which runs while any guest does, and the first waiter, if it was
  first when it went to sleep (the only watcher where there is no ticker).
- Kills: a kill wakes a waiting thread at once (``Seat.interrupt``, which the kernel
  calls through ``Process.kill_waker``); killed, it stops waiting and runs on without
  a slot to the trap that ends it. Waiters also look at ``interrupted()`` when they
  wake on their own (the first at each stall check, the others every
  ``QUEUED_CHECK_SECONDS``, a backstop). Waiting is sleeping on a lock, so it is not
  charged to the guest's CPU budget (``time.thread_time``).
- Wake-ups: only the first waiter has a short timer; the others sleep until granted or
  killed. Polling every waiter for its kill, as this did before, woke 20 queued greps
  about 70 times per command between them, each wake-up taking the GIL from the slot
  holder: 10% more CPU per grep at 20 at once than one after another (bench/README.md,
  "Concurrency: wake-ups").
- Only guest threads have seats. The trio thread and worker threads never wait here.

Hot path: a host call's return reads ``seat.holding``; the epoch callback bumps a
counter and reads the queue's length. Locks are taken only to change hands.

XX: one process's threads (none today: guests are single-threaded) would each need a
seat of their own; a seat belongs to a thread, not to a process.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..kernel.blocking import set_blocking_hook, set_kick_sink

if TYPE_CHECKING:
    from ..kernel.process import Process

__all__ = [
    "DEFAULT_RUN_SLOTS",
    "DEFAULT_SLICE_SECONDS",
    "STALL_SECONDS",
    "UNSCHEDULED",
    "Scheduler",
    "SchedulerStatistics",
    "Seat",
    "Unscheduled",
    "default_run_slots",
    "enter_guest_thread",
    "leave_guest_thread",
    "set_run_slots",
    "shared_scheduler",
    "watch_stalls",
]

# One slot: the host half of every guest is Python under one GIL anyway, and with two
# slots on 2 cores pipelines ran at half the speed (GIL hand-offs between their
# stages) while concurrent greps gained nothing; only pure-wasm compute of several
# guests at once gains from more (2 x sha256sum: 0.85 s against 1.0 s). Measured in
# bench/README.md ("Run slots"); `--run-slots N` / $AGENTVM_RUN_SLOTS to change.
DEFAULT_RUN_SLOTS = 1
DEFAULT_SLICE_SECONDS = 0.01  # 5, 10 and 20 ms measured alike (bench/README.md)
STALL_SECONDS = 0.05
STALL_CHECK_SECONDS = 0.02
QUEUED_CHECK_SECONDS = 1.0  # a waiter behind the first: a backstop, kills wake it at once
RUN_SLOTS_ENV = "AGENTVM_RUN_SLOTS"


class Seat:
    """One guest thread's place in the scheduler: holding a slot or not, and the
    progress counter other threads read to tell a stalled holder."""

    __slots__ = (
        "_interrupted", "_kick", "_queued", "_scheduler", "_seen", "_seen_at", "_signalled", "_since", "_wake",
        "holding", "progress",
    )

    def __init__(self, scheduler: Scheduler, interrupted: Callable[[], bool]) -> None:
        self._scheduler = scheduler
        self._interrupted = interrupted
        self.holding = False
        self.progress = 0  # safe points reached while holding (read by other threads)
        self._since = 0.0  # when it got its slot
        self._seen = 0  # progress when a waiter last looked, and when it changed
        self._seen_at = 0.0
        self._queued = False  # in the scheduler's queue (under its lock)
        self._kick: Callable[[], None] | None = None  # wakes the kernel wait the thread is in
        # Locked except between a signal (a grant or a kill) and the
        # seat's waiting thread consuming it; ``_signalled`` says which (under the
        # scheduler's lock), so a seat is never signalled twice.
        self._wake = threading.Lock()
        self._wake.acquire()
        self._signalled = False

    def take(self) -> None:
        """Hold a slot (waiting for one when all are held or others wait first);
        returns without one when the process is killed meanwhile."""
        scheduler = self._scheduler
        if self._interrupted():
            return
        with scheduler._lock:
            if self.holding:
                return
            if scheduler._free and not scheduler._queue:
                scheduler._free -= 1
                scheduler._grant(self, time.monotonic())
                return
            if self._interrupted():  # checked under the lock a kill's interrupt() takes
                return
            scheduler._enqueue(self)
        self._wait_turn()

    def release(self) -> None:
        """Give the slot up (before blocking, at exit); the first waiter gets it."""
        if not self.holding:
            return
        scheduler = self._scheduler
        with scheduler._lock:
            if self.holding:
                scheduler._give_up(self, time.monotonic())

    def safe_point(self) -> None:
        """Called by the guest thread where it holds no lock (epoch callback): counts as
        progress, takes a slot when it has none, and yields it when its slice is over
        and someone waits."""
        if not self.holding:
            self.take()
            return
        self.progress += 1
        scheduler = self._scheduler
        if scheduler._queue and time.monotonic() - self._since >= scheduler.slice_seconds:
            with scheduler._lock:
                if not (self.holding and scheduler._queue):
                    return
                scheduler._give_up(self, time.monotonic())
                if self._interrupted():
                    return
                scheduler._enqueue(self)
            self._wait_turn()

    def interrupt(self) -> None:
        """The process was killed: a thread waiting here stops waiting (without a
        slot) at once, and so does a kernel wait that offered a kick
        (kernel/blocking.wake_on_kill). Called by the kernel after it records the kill."""
        scheduler = self._scheduler
        with scheduler._lock:
            if self._queued:
                scheduler._dequeue(self)
                self._signal()
        kick = self._kick
        if kick is not None:
            kick()

    def kick_with(self, kick: Callable[[], None] | None) -> None:
        """What ``interrupt`` calls to wake the kernel wait the thread is in (None: none)."""
        self._kick = kick

    def _signal(self) -> None:  # under the scheduler's lock
        if not self._signalled:
            self._signalled = True
            self._wake.release()

    def _wait_turn(self) -> None:
        scheduler = self._scheduler
        while True:
            try:  # the first waiter watches the holders; the others wait to be woken
                first = scheduler._queue[0] is self
            except IndexError:
                first = False
            woken = self._wake.acquire(timeout=STALL_CHECK_SECONDS if first else QUEUED_CHECK_SECONDS)
            with scheduler._lock:
                if not woken and self._signalled:  # signalled after the timeout
                    self._wake.acquire()
                    woken = True
                self._signalled = False
                if self.holding or not self._queued:  # granted, or interrupted
                    return
                if self._interrupted():
                    scheduler._dequeue(self)
                    return
                if not woken and scheduler._queue[0] is self:
                    scheduler._lend_stalled_slot(time.monotonic())


class Unscheduled:
    """The seat of a thread that runs without slots: a test's host calls, or every
    guest when run slots are off (0). Always holding; nothing to do."""

    holding = True
    progress = 0

    def take(self) -> None:
        pass

    def release(self) -> None:
        pass

    def safe_point(self) -> None:
        pass


UNSCHEDULED = Unscheduled()


@dataclass(frozen=True)
class SchedulerStatistics:
    slots: int
    holding: int
    waiting: int
    handoffs: int  # slots passed on at a slice's end
    lent: int  # slots taken from stalled holders


class Scheduler:
    """A fixed number of run slots shared by every guest thread of the sidecar."""

    def __init__(self, slots: int, slice_seconds: float = DEFAULT_SLICE_SECONDS) -> None:
        if slots < 1:
            raise ValueError("a scheduler needs at least one slot")
        self.slots = slots
        self.slice_seconds = slice_seconds
        self._lock = threading.Lock()
        self._free = slots
        self._queue: collections.deque[Seat] = collections.deque()
        self._holders: list[Seat] = []
        self._handoffs = 0
        self._lent = 0
        self._watched_at = 0.0

    def watch(self) -> None:
        """Lend the slot of a holder stalled for STALL_SECONDS to the first waiter.
        Called every few ms by a thread that runs while guests do (the epoch ticker);
        cheap when nobody waits or the last look was under STALL_CHECK_SECONDS ago."""
        if not self._queue:
            return
        now = time.monotonic()
        if now - self._watched_at < STALL_CHECK_SECONDS:
            return
        self._watched_at = now
        with self._lock:
            if self._queue:
                self._lend_stalled_slot(now)

    def seat(self, interrupted: Callable[[], bool]) -> Seat:
        """A seat for the calling guest thread (not holding a slot yet)."""
        return Seat(self, interrupted)

    def statistics(self) -> SchedulerStatistics:
        with self._lock:
            return SchedulerStatistics(
                self.slots, len(self._holders), len(self._queue), self._handoffs, self._lent
            )

    # -- under self._lock ---------------------------------------------------------
    def _enqueue(self, seat: Seat) -> None:
        seat._queued = True
        self._queue.append(seat)

    def _dequeue(self, seat: Seat) -> None:
        self._queue.remove(seat)
        seat._queued = False

    def _grant(self, seat: Seat, now: float) -> None:
        seat.holding = True
        seat._since = seat._seen_at = now
        seat._seen = seat.progress
        self._holders.append(seat)

    def _give_up(self, seat: Seat, now: float) -> None:
        seat.holding = False
        self._holders.remove(seat)
        if self._queue:
            self._handoffs += 1
            self._wake_first(now)
        else:
            self._free += 1

    def _wake_first(self, now: float) -> None:
        seat = self._queue.popleft()
        seat._queued = False
        self._grant(seat, now)
        seat._signal()

    def _lend_stalled_slot(self, now: float) -> None:
        """Take the slot of a holder that reached no safe point for STALL_SECONDS
        and give it to the first waiter."""
        for holder in self._holders:
            if holder.progress != holder._seen:
                holder._seen, holder._seen_at = holder.progress, now
            elif now - holder._seen_at >= STALL_SECONDS:
                holder.holding = False
                self._holders.remove(holder)
                self._lent += 1
                self._wake_first(now)
                return


def watch_stalls() -> None:
    """The shared scheduler's ``watch`` (nothing when run slots are off)."""
    scheduler = _scheduler
    if scheduler is not None:
        scheduler.watch()


def default_run_slots() -> int:
    """``$AGENTVM_RUN_SLOTS`` when set, else DEFAULT_RUN_SLOTS."""
    configured = os.environ.get(RUN_SLOTS_ENV)
    return int(configured) if configured else DEFAULT_RUN_SLOTS


_lock = threading.Lock()
_scheduler: Scheduler | None = None
_configured = False


def set_run_slots(slots: int | None, slice_seconds: float = DEFAULT_SLICE_SECONDS) -> Scheduler | None:
    """Run guests under ``slots`` run slots from now on (0: no limit; None: the
    default); threads already running keep the scheduler they started under.
    Returns the new scheduler (None when there is no limit)."""
    with _lock:
        return _configure(slots, slice_seconds)


def shared_scheduler() -> Scheduler | None:
    """The sidecar-wide scheduler, or None when run slots are off."""
    with _lock:
        return _scheduler if _configured else _configure(None, DEFAULT_SLICE_SECONDS)


def _configure(slots: int | None, slice_seconds: float) -> Scheduler | None:
    global _scheduler, _configured
    slots = default_run_slots() if slots is None else slots
    _scheduler = Scheduler(slots, slice_seconds) if slots else None
    _configured = True
    return _scheduler


def enter_guest_thread(proc: Process) -> Seat | Unscheduled:
    """The current guest thread's seat (``proc``'s), holding a slot, with the kernel's
    blocking waits giving it up (kernel/blocking.py) and a kill waking it while it
    waits for a slot. Pair with ``leave_guest_thread``."""
    scheduler = shared_scheduler()
    if scheduler is None:
        return UNSCHEDULED
    seat = scheduler.seat(proc.interrupted)
    proc.kill_waker = seat.interrupt
    set_blocking_hook(seat.release)
    set_kick_sink(seat.kick_with)
    seat.take()
    return seat


def leave_guest_thread(seat: Seat | Unscheduled) -> None:
    """Give the slot up for good (the thread is ending)."""
    set_blocking_hook(None)
    set_kick_sink(None)
    seat.release()
