"""Spare guest threads (wasm/spare_threads.py) with plain functions as the work: a
finished thread waits for the next piece of work, at most ``max_idle`` wait, and a
thread that waited ``idle_seconds`` for nothing ends."""

from __future__ import annotations

import gc
import sys
import threading
import time
import weakref

from agentvm_sidecar.wasm.spare_threads import SpareThreads
from tests.waiting import WAIT, until


def run_and_wait(threads: SpareThreads, fn, *args) -> None:  # type: ignore[no-untyped-def]
    done = threading.Event()

    def work() -> None:
        fn(*args)
        done.set()

    threads.run(work)
    assert done.wait(WAIT)


def test_work_after_work_runs_on_the_thread_that_waited():
    threads = SpareThreads(max_idle=2, idle_seconds=WAIT)
    idents: list[int] = []
    run_and_wait(threads, lambda: idents.append(threading.get_ident()))
    until(lambda: threads.statistics().idle == 1, "the thread to wait for work")
    run_and_wait(threads, lambda: idents.append(threading.get_ident()))
    assert idents[0] == idents[1]
    assert threads.statistics().started == 1


def test_no_more_than_max_idle_threads_wait():
    threads = SpareThreads(max_idle=2, idle_seconds=WAIT)
    release = threading.Event()
    running = threading.Semaphore(0)

    def held() -> None:
        running.release()
        release.wait(WAIT)

    for _ in range(5):
        threads.run(held)
    for _ in range(5):
        assert running.acquire(timeout=WAIT)
    assert threads.statistics().started == 5
    release.set()
    until(lambda: threads.statistics().idle == 2, "two threads to wait")
    time.sleep(0.05)  # the other three had their chance to wait too
    assert threads.statistics().idle == 2


def test_a_thread_that_waited_idle_seconds_for_nothing_ends():
    threads = SpareThreads(max_idle=2, idle_seconds=0.5)
    run_and_wait(threads, lambda: None)
    until(lambda: threads.statistics().idle == 1, "the thread to wait for work")
    until(lambda: threads.statistics().idle == 0, "the idle thread to end")
    run_and_wait(threads, lambda: None)
    assert threads.statistics().started == 2  # the second work needed a new thread


def test_work_that_raises_ends_its_thread_instead_of_waiting(monkeypatch):
    monkeypatch.setattr(sys, "unraisablehook", lambda args: None)  # where _thread reports it
    threads = SpareThreads(max_idle=2, idle_seconds=WAIT)
    raised = threading.Event()

    def fails() -> None:
        raised.set()
        raise RuntimeError("work failed")

    threads.run(fails)
    assert raised.wait(WAIT)
    time.sleep(0.05)  # the thread had its chance to (wrongly) wait for work
    assert threads.statistics().idle == 0


class _Payload:
    """Something a piece of work holds (a process's kernel, in the runtime)."""


def test_finished_work_leaves_its_arguments_unreferenced():
    # Both hand-overs: to a new thread (its first work) and to a waiting one.
    threads = SpareThreads(max_idle=1, idle_seconds=WAIT)
    for _ in range(2):
        payload = _Payload()
        ref = weakref.ref(payload)
        run_and_wait(threads, lambda p: None, payload)
        until(lambda: threads.statistics().idle == 1, "the thread to wait for work")
        del payload
        gc.collect()
        assert ref() is None
    assert threads.statistics().started == 1
