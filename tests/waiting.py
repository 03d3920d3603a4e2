"""Waiting in a test for another thread to get somewhere."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

WAIT = 10.0  # generous bound for a thread to get where the test expects (never a timing assertion)


def until(condition: Callable[[], object], what: str, wait: float = WAIT) -> None:
    """Poll ``condition`` every millisecond; fail the test naming ``what`` after ``wait`` s."""
    deadline = time.monotonic() + wait
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.001)
