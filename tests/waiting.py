"""Waiting in a test for another thread to get somewhere."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

WAIT = 10.0  # generous bound for a thread to get where the test expects (never a timing assertion)


class AtOnce:
    """How many threads are inside ``inside()`` now, and the most there ever were."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.peak = 0

    @contextmanager
    def inside(self) -> Iterator[None]:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            yield
        finally:
            with self._lock:
                self.now -= 1


def until(condition: Callable[[], object], what: str, wait: float = WAIT) -> None:
    """Poll ``condition`` every millisecond; fail the test naming ``what`` after ``wait`` s."""
    deadline = time.monotonic() + wait
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.001)
