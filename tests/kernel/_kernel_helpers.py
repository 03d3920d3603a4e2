"""Shared helpers for kernel tests (imported by test modules in this folder)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from agentvm_sidecar.kernel import KernelError


@contextmanager
def raises_errno(name: str) -> Iterator[pytest.ExceptionInfo[KernelError]]:
    """Assert the block raises KernelError with errno `name` (never the message)."""
    with pytest.raises(KernelError) as excinfo:
        yield excinfo
    assert excinfo.value.errno == name, f"expected {name}, got {excinfo.value!r}"
