"""Run slots with real guests (brush ``sh``, coreutils) in this process: a guest
queued for a slot is killable and charged no CPU, dispose ends queued guests, and a
holder blocked in a wait nobody announced never stops the others."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from agentvm_sidecar.kernel import pipes as pipes_module
from agentvm_sidecar.kernel.kernel import Kernel
from agentvm_sidecar.kernel.limits import Limits
from agentvm_sidecar.kernel.process import ExitStatus
from agentvm_sidecar.software.layer import shared_bin_layer
from agentvm_sidecar.wasm import scheduler as scheduler_module
from agentvm_sidecar.wasm.host.encoding import FileAction
from agentvm_sidecar.wasm.scheduler import Scheduler, set_run_slots
from tests import waiting

from .test_spawn_e2e import Parent

WAIT = 30.0
SPIN = ["sh", "-c", "while :; do :; done"]


def until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    waiting.until(condition, what, WAIT)


def cat_of_a_pipe(parent: Parent) -> tuple[int, int]:
    """Spawn ``cat`` reading a new pipe; (its pid, the parent's write end). Only the
    parent holds the write end (close-on-exec), so closing it is cat's end of file."""
    g = parent.g
    r_slot, w_slot = g.out(2)
    assert g.p("fd_pipe", r_slot, w_slot) == 0
    r, w = g.u32(r_slot), g.u32(w_slot)
    assert g.p("fd_setfd", r, 1) == 0 and g.p("fd_setfd", w, 1) == 0  # the child gets only r
    err, reader = parent.spawn("cat", ["cat"], actions=[FileAction(2, 0, r)])
    assert err == 0
    g.proc.fds.close(r)
    return reader, w


def with_bin(kernel: Kernel) -> Parent:
    layer = shared_bin_layer()
    kernel.mount_layer("/bin", layer.fs, layer.modules)
    return Parent(kernel)


@pytest.fixture
def one_slot_no_slices() -> Iterator[Scheduler]:
    """One run slot that a running guest keeps (its slice never ends)."""
    scheduler = set_run_slots(1, slice_seconds=3600)
    assert scheduler is not None
    yield scheduler
    set_run_slots(None)


@pytest.fixture
def one_slot() -> Iterator[Scheduler]:
    scheduler = set_run_slots(1)
    assert scheduler is not None
    yield scheduler
    set_run_slots(None)


def test_a_queued_guest_is_killed_promptly_and_its_wait_is_not_cpu(one_slot_no_slices: Scheduler, kernel) -> None:
    scheduler = one_slot_no_slices
    parent = with_bin(kernel)
    frugal = Kernel(Limits(cpu_time_ms_per_process=250))  # another VM: one scheduler for all
    try:
        frugal_parent = with_bin(frugal)
        err, spinner = parent.spawn("/bin/sh", SPIN)
        assert err == 0
        until(lambda: scheduler.statistics().holding == 1, "the spinner to hold the slot")
        err, patient = frugal_parent.spawn("echo", ["echo", "ran"])
        assert err == 0
        err, victim = parent.spawn("echo", ["echo", "never"])
        assert err == 0
        until(lambda: scheduler.statistics().waiting == 2, "both to queue")

        assert parent.g.p("proc_kill", victim, 9) == 0
        assert parent.wait(victim, blocking=True) == ExitStatus(0, 9)
        assert scheduler.statistics().waiting == 1

        time.sleep(0.5)  # twice the patient guest's CPU budget, spent queued
        assert scheduler.statistics().waiting == 1
        assert parent.g.p("proc_kill", spinner, 9) == 0
        assert parent.wait(spinner, blocking=True) == ExitStatus(0, 9)
        assert frugal_parent.wait(patient, blocking=True) == ExitStatus(0)
        assert frugal_parent.drain(frugal_parent.out_r) == b"ran\n"
        assert parent.drain(parent.out_r) == b""
    finally:
        frugal.shutdown()


def test_dispose_ends_guests_queued_for_a_slot(one_slot_no_slices: Scheduler, kernel) -> None:
    scheduler = one_slot_no_slices
    parent = with_bin(kernel)
    assert parent.spawn("/bin/sh", SPIN)[0] == 0
    until(lambda: scheduler.statistics().holding == 1, "the spinner to hold the slot")
    for _ in range(3):
        assert parent.spawn("/bin/sh", SPIN)[0] == 0
    until(lambda: scheduler.statistics().waiting == 3, "the others to queue")
    kernel.processes.exit(parent.g.proc, ExitStatus(0))  # the fake parent has no thread to end it
    assert kernel.processes.shutdown(timeout=WAIT) == []  # every guest ended on its own
    until(lambda: scheduler.statistics().holding == 0, "the slot to come back")


def test_guests_blocked_in_waits_nobody_announced_never_stop_the_others(
    one_slot: Scheduler, kernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No guest thread tells the scheduler it blocks: a reader of an empty pipe holds
    # the only slot, and so does every pipeline stage waiting for another.
    monkeypatch.setattr(scheduler_module, "set_blocking_hook", lambda hook: None)
    scheduler = one_slot
    parent = with_bin(kernel)
    g = parent.g
    reader, w = cat_of_a_pipe(parent)
    until(lambda: scheduler.statistics().holding == 1, "the reader to hold the slot")

    status, out, err_out = parent.run("/bin/sh", ["sh", "-c", "yes | head -c 1000000 | wc -c"])
    assert (status, out.strip()) == (ExitStatus(0), b"1000000"), err_out
    assert scheduler.statistics().lent > 0

    g.proc.fds.close(w)  # end of file for the reader, which was blocked all along
    assert parent.wait(reader, blocking=True) == ExitStatus(0)


def test_a_kill_reaches_a_guest_queued_behind_another_without_polling(
    one_slot_no_slices: Scheduler, kernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Waiters behind the first sleep until something wakes them: the kill must.
    monkeypatch.setattr(scheduler_module, "QUEUED_CHECK_SECONDS", 3600.0)
    scheduler = one_slot_no_slices
    parent = with_bin(kernel)
    err, spinner = parent.spawn("/bin/sh", SPIN)
    assert err == 0
    until(lambda: scheduler.statistics().holding == 1, "the spinner to hold the slot")
    pids = [parent.spawn("echo", ["echo", str(i)])[1] for i in range(2)]
    until(lambda: scheduler.statistics().waiting == 2, "both to queue")
    assert parent.g.p("proc_kill", pids[1], 9) == 0
    until(lambda: scheduler.statistics().waiting == 1, "the killed guest to leave the queue")
    assert parent.wait(pids[1], blocking=True) == ExitStatus(0, 9)
    assert parent.g.p("proc_kill", spinner, 9) == 0
    assert parent.wait(spinner, blocking=True) == ExitStatus(0, 9)
    assert parent.wait(pids[0], blocking=True) == ExitStatus(0)
    assert parent.drain(parent.out_r) == b"0\n"


def test_the_epoch_ticker_lends_stalled_slots_to_waiters_that_sleep_untimed(
    one_slot: Scheduler, kernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same pipeline as above, with only the first-at-sleep waiter and the ticker
    # watching the holders: a waiter behind the first never wakes on its own here.
    monkeypatch.setattr(scheduler_module, "QUEUED_CHECK_SECONDS", 3600.0)
    test_guests_blocked_in_waits_nobody_announced_never_stop_the_others(one_slot, kernel, monkeypatch)


def test_a_kill_wakes_a_guest_blocked_reading_an_empty_pipe(
    one_slot: Scheduler, kernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its wait would not look at the kill on its own for an hour: the kill's kick must end it.
    monkeypatch.setattr(pipes_module, "KICKED_WAIT_SECONDS", 3600.0)
    parent = with_bin(kernel)
    g = parent.g
    reader, w = cat_of_a_pipe(parent)
    g.proc.fds.get(w).write(b"x\n")
    seen: list[bytes] = []
    until(lambda: seen.append(parent.drain(parent.out_r)) or b"".join(seen) == b"x\n", "cat to echo")
    time.sleep(0.2)  # cat is back in its read of the empty pipe (either way the kill must end it)
    assert g.p("proc_kill", reader, 9) == 0
    assert parent.wait(reader) == ExitStatus(0, 9)
    g.proc.fds.close(w)
