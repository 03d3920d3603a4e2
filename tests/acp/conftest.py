"""ACP fixtures: a sidecar logging its ACP traffic, validated after each test."""

from __future__ import annotations

import sys

import pytest

from agentvm import AsyncClient

from .acp_schema import check_sidecar_log

SIDECAR_DEBUG = [sys.executable, "-m", "agentvm_sidecar", "--stdio", "--log-level", "debug"]


@pytest.fixture
async def acp_client(tmp_path):
    """An AsyncClient whose sidecar logs every ACP message; after the test, each one
    must match the vendored ACP schema (and there must have been some)."""
    log_path = tmp_path / "sidecar.log"
    with open(log_path, "wb") as log:
        async with AsyncClient.connect(SIDECAR_DEBUG, stderr=log.fileno()) as client:
            yield client
    checked = check_sidecar_log(log_path)
    assert checked, "no ACP message was logged"


@pytest.fixture
async def vm(acp_client):
    return (await acp_client.vm.create()).vm_id
