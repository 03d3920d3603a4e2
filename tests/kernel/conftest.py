from __future__ import annotations

import pytest

from agentvm_sidecar.kernel import FsAccounting, Vfs


@pytest.fixture
def vfs() -> Vfs:
    """A VM filesystem with the default tree and default limits."""
    return Vfs.with_default_tree(FsAccounting())
